#!/usr/bin/env bash
# Runs every benchmark and prints a table. One command: bench/run.sh
# Each figure comes with a baseline measured in the same run on the same machine.
#   BENCH_SECONDS  wrk duration per run (default 10)
#   BENCH_CONNECTIONS, BENCH_THREADS  wrk connections and threads (default 64 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
./scripts/build.sh release >/dev/null

seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
bin=build/release/src/cli/chtlink
work=$(mktemp -d)
# nginx workers run as an unprivileged user and must read the static file.
chmod 755 "$work"
pids=()
cleanup() {
  if [ -f "$work/pg.state" ]; then build/release/tests/support/postgres_test_server stop "$work/pg.state" >/dev/null 2>&1 || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_file() {
  for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2; return 1
}

# wrk prints "Requests/sec: N" and, with --latency, "50% 1.23ms" / "99% 4.56ms".
run_wrk() {  # URL [extra wrk arguments, e.g. -H "header: value"]
  wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "$@" >"$work/wrk.out" 2>&1
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
  echo "$rps $p50 $p99"
}

to_ms() {  # wrk latency "850.00us" / "1.20ms" / "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 }
    else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else { sub(/s$/,"",v); print v*1000 } }'
}

# --- HTTP: chtlink /health vs nginx serving a static file of the same size -------------
"$bin" serve --set server.port=0 --set server.io_threads=2 --set "store.url=sqlite:$work/bench.db" \
  --set him.api_port=0 --set him.api_tls=false --set "him.data_dir=$work" --set fhir.port=0 --set mediator.port=0 \
  --set sandbox.seed=false --set cht_sim.port=0 \
  --port-file "$work/port" 2>"$work/chtlink.log" &
pids+=($!)
wait_for_file "$work/port"
port=$(sed -n "s/^server=//p" "$work/port")
curl -s "http://127.0.0.1:$port/health" >"$work/health.json"
size=$(stat -c %s "$work/health.json")

mkdir -p "$work/nginx/www"
head -c "$size" /dev/zero | tr '\0' 'x' >"$work/nginx/www/health.json"
nginx_port=$((port + 1))
while ss -ltn | awk '{print $4}' | grep -q ":$nginx_port\$"; do nginx_port=$((nginx_port + 1)); done
nginx_proxy_port=$((nginx_port + 1))
while ss -ltn | awk '{print $4}' | grep -q ":$nginx_proxy_port\$"; do nginx_proxy_port=$((nginx_proxy_port + 1)); done
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { root $work/nginx/www; default_type application/json; }
  }
  # nginx as a reverse proxy to itself, keep-alive upstream: what a proxy hop costs on this
  # machine (wrk, the proxy and the upstream share its cores), the reference for the router.
  upstream self { server 127.0.0.1:$nginx_port; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$nginx_proxy_port;
    location / { proxy_pass http://self; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_ok=
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$nginx_port/health.json" >/dev/null && { nginx_ok=1; break; }; sleep 0.05; done
[ -n "$nginx_ok" ] || { echo "nginx does not serve the baseline file"; cat "$work/nginx/error.log"; exit 1; }

read -r c_rps c_p50 c_p99 < <(run_wrk "http://127.0.0.1:$port/health")
read -r n_rps n_p50 n_p99 < <(run_wrk "http://127.0.0.1:$nginx_port/health.json")
http_ratio=$(awk -v a="$c_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", a/b }')

# --- him router: wrk through a channel (Basic client auth, transaction recording on) to
# nginx vs wrk straight to nginx, same run -------------------------------------------------
api_port=$(sed -n "s/^api=//p" "$work/port")
admin=(-s -u root@openhim.org:openhim-password -H 'Content-Type: application/json')
bench_salt=bench-salt
bench_hash=$(printf '%s' "bench-password$bench_salt" | sha512sum | cut -d' ' -f1)
curl "${admin[@]}" -X POST "http://127.0.0.1:$api_port/clients" -d "{\"clientID\":\"bench\",
  \"name\":\"bench\",\"roles\":[\"benchmark\"],\"passwordAlgorithm\":\"sha512\",
  \"passwordSalt\":\"$bench_salt\",\"passwordHash\":\"$bench_hash\"}" >/dev/null
curl "${admin[@]}" -X POST "http://127.0.0.1:$api_port/channels" -d "{\"name\":\"bench\",
  \"urlPattern\":\"^/health.json$\",\"methods\":[\"GET\"],\"allow\":[\"benchmark\"],
  \"routes\":[{\"name\":\"nginx\",\"host\":\"127.0.0.1\",\"port\":$nginx_port,
  \"primary\":true}]}" >/dev/null
bench_auth="Authorization: Basic $(printf 'bench:bench-password' | base64)"
curl -sf -H "$bench_auth" "http://127.0.0.1:$port/health.json" >/dev/null || { echo "router check failed:"; curl -s -H "$bench_auth" "http://127.0.0.1:$port/health.json"; tail -5 "$work/chtlink.log"; exit 1; }
read -r r_rps r_p50 r_p99 < <(run_wrk "http://127.0.0.1:$port/health.json" -H "$bench_auth")
read -r d_rps d_p50 d_p99 < <(run_wrk "http://127.0.0.1:$nginx_port/health.json" -H "$bench_auth")
read -r x_rps x_p50 x_p99 < <(run_wrk "http://127.0.0.1:$nginx_proxy_port/health.json" -H "$bench_auth")
router_ratio=$(awk -v a="$r_rps" -v b="$d_rps" 'BEGIN { printf "%.2f", a/b }')
proxy_ratio=$(awk -v a="$x_rps" -v b="$d_rps" 'BEGIN { printf "%.2f", a/b }')
router_vs_proxy=$(awk -v a="$r_rps" -v b="$x_rps" 'BEGIN { printf "%.2f", a/b }')
router_added=$(awk -v a="$(to_ms "$r_p50")" -v b="$(to_ms "$d_p50")" 'BEGIN { printf "%.3f", a-b }')
# Latency the router adds to one request, without queueing: one connection at a time.
read -r r1_rps r1_p50 r1_p99 < <(threads=1 connections=1 run_wrk "http://127.0.0.1:$port/health.json" -H "$bench_auth")
read -r d1_rps d1_p50 d1_p99 < <(threads=1 connections=1 run_wrk "http://127.0.0.1:$nginx_port/health.json" -H "$bench_auth")
router_added_1=$(awk -v a="$(to_ms "$r1_p50")" -v b="$(to_ms "$d1_p50")" 'BEGIN { printf "%.3f", a-b }')

# --- Queue: enqueue + deliver vs direct HTTP ----------------------------------------------
queue_json=$(build/release/bench/queue_throughput 20000 64)
q_rate=$(echo "$queue_json" | sed -E 's/.*"queue_jobs_per_s":([0-9.]+).*/\1/')
q_direct=$(echo "$queue_json" | sed -E 's/.*"direct_requests_per_s":([0-9.]+).*/\1/')
q_ratio=$(echo "$queue_json" | sed -E 's/.*"ratio":([0-9.]+).*/\1/')

# --- FHIR: creates / reads / identifier searches / 100-entry transactions at 16 connections,
# against the same Patient JSON inserted straight into SQLite in-process ------------------
fhir_json=$(build/release/bench/fhir_throughput "${BENCH_FHIR_PATIENTS:-100000}" 16)
fj() { echo "$fhir_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# --- FHIR rest-hook Subscriptions: Encounter creates with 0 vs 100 active subscriptions (none
# matching; one create in ten matching and delivered to a receiver), and send-to-receiver delay
# --- FHIR validation: validations/s of a typical Patient and Encounter vs plain JSON parsing of
# the same text, same run (ratio = validation time / parse time) ----------------------------
val_json=$(build/release/bench/fhir_validation "${BENCH_VALIDATION_SECONDS:-2}")
vj() { echo "$val_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

subs_json=$(build/release/bench/fhir_subscriptions "${BENCH_SUBSCRIPTION_CREATES:-20000}" 16)
sj() { echo "$subs_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# --- Mediator: POST /patient through to a stored Patient (16 connections) vs a direct FHIR
# create of the same Patient, same run -------------------------------------------------------
mediator_json=$(build/release/bench/mediator_throughput "${BENCH_MEDIATOR_REQUESTS:-20000}" 16)
mj() { echo "$mediator_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# --- CHT pull mode: backfill from cht-sim to a local receiver with the reference LTFU rules
# (FHIR_patient mapping) vs a trivial rule set, same documents, same run -------------------
cht_json=$(build/release/bench/cht_pull "${BENCH_CHT_DOCS:-20000}" 500)
cj() { echo "$cht_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# --- PostgreSQL vs SQLite, one and two instances on one database: FHIR creates and reads,
# queue jobs delivered; a throw-away PostgreSQL server (initdb + pg_ctl) for the run ---------
build/release/tests/support/postgres_test_server start "$work/pg.state" >/dev/null
pg_json=$(build/release/bench/pg_scaleout "$(head -1 "$work/pg.state")" \
  "${BENCH_PG_CREATES:-20000}" "${BENCH_PG_JOBS:-20000}" 16)
build/release/tests/support/postgres_test_server stop "$work/pg.state" >/dev/null
pj() { echo "$pg_json" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# --- Footprint: `chtlink serve` in sandbox mode (the first README command) with a fresh data
# folder: time to every port bound (the port file is written then), resident memory once its
# own set-up (channels, mediator registration) is done and idle, then after one
# `chtlink demo ltfu` (VmRSS; VmHWM = the peak so far) -----------------------------------
sandbox=$work/sandbox
mkdir -p "$sandbox"
started_ns=$(date +%s%N)
"$bin" serve --set sandbox.mode=on --set server.port=0 --set him.api_port=0 --set "him.data_dir=$sandbox" \
  --set fhir.port=0 --set mediator.port=0 --set cht_sim.port=0 --set "store.url=sqlite:$sandbox/chtlink.db" \
  --port-file "$sandbox/port" >"$sandbox/serve.log" 2>&1 &
sandbox_pid=$!
pids+=($sandbox_pid)
for _ in $(seq 1 1000); do [ -s "$sandbox/port" ] && break; sleep 0.005; done
[ -s "$sandbox/port" ] || { echo "sandbox serve did not start:"; cat "$sandbox/serve.log"; exit 1; }
ready_ms=$(( ($(date +%s%N) - started_ns) / 1000000 ))
sb_port=$(sed -n "s/^server=//p" "$sandbox/port")
sb_cht=$(sed -n "s/^cht=//p" "$sandbox/port")
for _ in $(seq 1 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -u interop-client:interop-password "http://127.0.0.1:$sb_port/mediator/")" = 200 ] && break
  sleep 0.05
done
sleep 1  # idle: let the start-up's last writes and heartbeat settle
status_mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$sandbox_pid/status"; }
idle_rss=$(status_mb VmRSS)
idle_hwm=$(status_mb VmHWM)
"$bin" demo ltfu --url "http://127.0.0.1:$sb_port" --cht-url "http://127.0.0.1:$sb_cht" >"$sandbox/demo.log" 2>&1 \
  || { echo "chtlink demo ltfu failed against the sandbox:"; tail -20 "$sandbox/demo.log"; exit 1; }
demo_rss=$(status_mb VmRSS)
demo_hwm=$(status_mb VmHWM)
kill "$sandbox_pid"

echo
echo "chtlink benchmarks ($(nproc) cores, wrk -t$threads -c$connections -d${seconds}s, $(date -u +%Y-%m-%d))"
printf '%-44s %12s %10s %10s %8s %s\n' "benchmark" "rate/s" "p50 ms" "p99 ms" "ratio" "target"
printf '%-44s %12s %10s %10s %8s %s\n' "HTTP GET /health, chtlink" "$c_rps" "$(to_ms "$c_p50")" "$(to_ms "$c_p99")" "$http_ratio" ">= 0.80 of nginx"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: nginx, static file of $size bytes" "$n_rps" "$(to_ms "$n_p50")" "$(to_ms "$n_p99")" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "queue: enqueue + deliver (20000 jobs)" "$q_rate" "-" "-" "$q_ratio" ">= 5000 jobs/s"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: direct HTTP POST, same client" "$q_direct" "-" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "him router: channel to nginx (auth + tx log)" "$r_rps" "$(to_ms "$r_p50")" "$(to_ms "$r_p99")" "$router_ratio" ">= 0.70; added p50 ${router_added} ms (< 0.2)"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: nginx directly, same file" "$d_rps" "$(to_ms "$d_p50")" "$(to_ms "$d_p99")" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "  reference: nginx as reverse proxy to it" "$x_rps" "$(to_ms "$x_p50")" "$(to_ms "$x_p99")" "$proxy_ratio" "router = ${router_vs_proxy} of nginx proxying"
printf '%-44s %12s %10s %10s %8s %s\n' "him router, 1 connection (added latency)" "$r1_rps" "$(to_ms "$r1_p50")" "$(to_ms "$r1_p99")" "-" "added p50 ${router_added_1} ms (< 0.2)"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: nginx directly, 1 connection" "$d1_rps" "$(to_ms "$d1_p50")" "$(to_ms "$d1_p99")" "-" ""
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR create Patient (16 conns)" "$(fj creates_per_s)" "$(fj create_p50_ms)" "$(fj create_p99_ms)" "$(fj create_vs_raw_ratio)" ">= 5000/s, >= 0.30 of raw"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: raw SQLite insert, same JSON" "$(fj raw_sqlite_inserts_per_s)" "-" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR read Patient by id" "$(fj reads_per_s)" "$(fj read_p50_ms)" "$(fj read_p99_ms)" "-" ">= 20000/s"
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR Patient?identifier= at $(fj patients) Patients" "$(fj identifier_searches_per_s)" "$(fj search_p50_ms)" "$(fj search_p99_ms)" "-" "p99 <= 10 ms"
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR 100-entry transaction Bundles" "$(fj transactions_100_per_s)" "$(fj transaction_p50_ms)" "-" "-" "peak RSS $(fj peak_rss_mb) MB"
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR validate Patient (R4 definitions)" "$(vj patient_validations_per_s)" "-" "-" "$(vj patient_ratio)" "<= 3.00 x parse time"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: JSON parse of the same Patient" "$(vj patient_parses_per_s)" "-" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR validate Encounter (R4 definitions)" "$(vj encounter_validations_per_s)" "-" "-" "$(vj encounter_ratio)" "<= 3.00 x parse time"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: JSON parse of the same Encounter" "$(vj encounter_parses_per_s)" "-" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "FHIR create Encounter, 100 subscriptions" "$(sj none_match_creates_per_s)" "-" "-" "$(sj none_match_ratio)" ">= 0.80 (none matching)"
printf '%-44s %12s %10s %10s %8s %s\n' "  same, 1 in 10 matches and is delivered" "$(sj some_match_creates_per_s)" "$(sj some_match_create_p50_ms)" "-" "$(sj some_match_ratio)" ">= 0.80"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: no subscriptions" "$(sj baseline_creates_per_s)" "$(sj baseline_create_p50_ms)" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "  create sent -> receiver, under load" "-" "$(sj loaded_send_to_receiver_p50_ms)" "$(sj loaded_send_to_receiver_p99_ms)" "-" ""
printf '%-44s %12s %10s %10s %8s %s\n' "  create sent -> receiver, one at a time" "-" "$(sj idle_send_to_receiver_p50_ms)" "$(sj idle_send_to_receiver_p99_ms)" "-" ""
printf '%-44s %12s %10s %10s %8s %s\n' "mediator POST /patient -> stored (16 conns)" "$(mj mediator_patients_per_s)" "$(mj mediator_p50_ms)" "$(mj mediator_p99_ms)" "$(mj ratio)" ">= 3000/s"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: direct FHIR create, same Patient" "$(mj direct_creates_per_s)" "$(mj direct_p50_ms)" "$(mj direct_p99_ms)" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "CHT pull backfill, reference mapping (docs)" "$(cj reference_docs_per_s)" "-" "-" "$(cj ratio)" ">= 5000 docs/s"
printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: trivial mapping, same docs" "$(cj trivial_docs_per_s)" "-" "-" "1.00" ""
printf '%-44s %12s %10s %10s %8s %s\n' "serve idle RSS (sandbox)" "$idle_rss MB" "-" "-" "-" "<= 60 MB; peak so far $idle_hwm MB"
printf '%-44s %12s %10s %10s %8s %s\n' "  after chtlink demo ltfu" "$demo_rss MB" "-" "-" "-" "peak $demo_hwm MB"
printf '%-44s %12s %10s %10s %8s %s\n' "serve start-up to all ports bound (sandbox)" "$ready_ms ms" "-" "-" "-" "< 1000 ms"
for metric in creates reads jobs; do
  case $metric in creates) what="FHIR create Patient";; reads) what="FHIR read Patient";; jobs) what="queue jobs delivered";; esac
  printf '%-44s %12s %10s %10s %8s %s\n' "$what, PostgreSQL, 1 instance" "$(pj pg_1_${metric}_per_s)" "-" "-" "$(pj pg_1_${metric}_per_s_ratio)" "vs SQLite, 1 instance"
  printf '%-44s %12s %10s %10s %8s %s\n' "  PostgreSQL, 2 instances on one database" "$(pj pg_2_${metric}_per_s)" "-" "-" "$(pj pg_2_${metric}_per_s_ratio)" ""
  printf '%-44s %12s %10s %10s %8s %s\n' "  SQLite, 2 instances on one file" "$(pj sqlite_2_${metric}_per_s)" "-" "-" "$(pj sqlite_2_${metric}_per_s_ratio)" ""
  printf '%-44s %12s %10s %10s %8s %s\n' "  baseline: SQLite, 1 instance" "$(pj sqlite_1_${metric}_per_s)" "-" "-" "1.00" ""
done
