#!/usr/bin/env bash
# Installs every Debian package that chtlink's build, tests and benchmarks need, and the npm
# test clients. Idempotent: a second run installs nothing and takes a few seconds.
# Works as root (no sudo needed) and as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates curl openssl
  libboost-dev nlohmann-json3-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libpq-dev libpqxx-dev postgresql libmozjs-102-dev
  prometheus-cpp-dev wrk nginx-light procps iproute2
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm run the npm test clients. A machine may already carry a newer Node.js
# (with npm bundled) from elsewhere; Debian's npm package would conflict with it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # nginx-light starts a system nginx on port 80; chtlink's benchmark runs its own instance.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now nginx >/dev/null 2>&1 || true; fi
else
  echo "setup: all Debian packages present"
fi

# npm packages (the FHIR R4 definitions and test clients), pinned by npm/package-lock.json.
if [ -f npm/package-lock.json ]; then
  lock_hash=$(sha256sum npm/package-lock.json | cut -d' ' -f1)
  stamp=npm/node_modules/.chtlink-lock-hash
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
    echo "setup: installing npm packages"
    (cd npm && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$stamp"
  fi
fi
