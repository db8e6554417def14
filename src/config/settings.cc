#include "config/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "config/duration.h"
#include "mediator/observations.h"

namespace chtlink::config {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string typeName(const RawValue& v) {
  switch (v.value.index()) {
    case 0:
      return "a string";
    case 1:
      return "an integer";
    case 2:
      return "a boolean";
    default:
      return "a number with a fraction";
  }
}

Result<int64_t> toInteger(const RawValue& v, int64_t min, int64_t max) {
  int64_t n = 0;
  if (const auto* i = std::get_if<int64_t>(&v.value)) {
    n = *i;
  } else if (const auto* s = std::get_if<std::string>(&v.value); s && v.from_text) {
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    if (ec != std::errc() || end != s->data() + s->size() || s->empty())
      return invalidArgument(fmt::format("expected an integer, got \"{}\"", *s));
  } else {
    return invalidArgument(fmt::format("expected an integer, got {}", typeName(v)));
  }
  if (n < min || n > max)
    return invalidArgument(fmt::format("{} is out of range ({} to {})", n, min, max));
  return n;
}

Result<bool> toBoolean(const RawValue& v) {
  if (const auto* b = std::get_if<bool>(&v.value)) return *b;
  if (const auto* s = std::get_if<std::string>(&v.value); s && v.from_text) {
    if (*s == "true" || *s == "1" || *s == "yes" || *s == "on") return true;
    if (*s == "false" || *s == "0" || *s == "no" || *s == "off") return false;
    return invalidArgument(fmt::format("expected true or false, got \"{}\"", *s));
  }
  return invalidArgument(fmt::format("expected a boolean, got {}", typeName(v)));
}

Result<std::string> toText(const RawValue& v) {
  if (const auto* s = std::get_if<std::string>(&v.value)) return *s;
  return invalidArgument(fmt::format("expected a string, got {}", typeName(v)));
}

Result<std::chrono::milliseconds> toDuration(const RawValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v.value)) {
    if (*i < 0) return invalidArgument("a duration cannot be negative");
    return std::chrono::milliseconds(*i);
  }
  if (const auto* s = std::get_if<std::string>(&v.value)) return parseDuration(*s);
  return invalidArgument(
      fmt::format("expected a duration such as \"15s\" or \"250ms\", got {}", typeName(v)));
}

template <typename Field>
Setting integer(std::string key, std::string description, int64_t min, int64_t max, Field field) {
  Setting s{std::move(key), SettingKind::Integer, std::move(description), min, max, {}, {}, {}};
  s.assign = [field, min, max](Config& c, const RawValue& v) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(int64_t n, toInteger(v, min, max));
    using T = std::remove_reference_t<decltype(field(c))>;
    field(c) = static_cast<T>(n);
    return ok();
  };
  s.show = [field](const Config& c) { return fmt::format("{}", field(const_cast<Config&>(c))); };
  return s;
}

template <typename Field>
Setting boolean(std::string key, std::string description, Field field) {
  Setting s{std::move(key), SettingKind::Boolean, std::move(description), 0, 0, {}, {}, {}};
  s.assign = [field](Config& c, const RawValue& v) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(field(c), toBoolean(v));
    return ok();
  };
  s.show = [field](const Config& c) {
    return std::string(field(const_cast<Config&>(c)) ? "true" : "false");
  };
  return s;
}

template <typename Field>
Setting text(std::string key, std::string description, Field field,
             SettingKind kind = SettingKind::String) {
  Setting s{std::move(key), kind, std::move(description), 0, 0, {}, {}, {}};
  s.assign = [field](Config& c, const RawValue& v) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(field(c), toText(v));
    return ok();
  };
  s.show = [field](const Config& c) { return quote(field(const_cast<Config&>(c))); };
  return s;
}

template <typename Field>
Setting secret(std::string key, std::string description, Field field) {
  return text(std::move(key), std::move(description), field, SettingKind::Secret);
}

template <typename Field>
Setting choice(std::string key, std::string description, std::vector<std::string> choices,
               Field field) {
  Setting s{std::move(key), SettingKind::Choice, std::move(description), 0, 0, choices, {}, {}};
  s.assign = [field, choices](Config& c, const RawValue& v) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(std::string t, toText(v));
    if (std::find(choices.begin(), choices.end(), t) == choices.end()) {
      return invalidArgument(fmt::format("\"{}\" is not one of: {}", t, fmt::join(choices, ", ")));
    }
    field(c) = std::move(t);
    return ok();
  };
  s.show = [field](const Config& c) { return quote(field(const_cast<Config&>(c))); };
  return s;
}

template <typename Field>
Setting duration(std::string key, std::string description, Field field) {
  Setting s{std::move(key), SettingKind::Duration, std::move(description), 0, 0, {}, {}, {}};
  s.assign = [field](Config& c, const RawValue& v) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(auto d, toDuration(v));
    field(c) = d;
    return ok();
  };
  s.show = [field](const Config& c) {
    return quote(formatDuration(field(const_cast<Config&>(c))));
  };
  return s;
}

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

std::vector<Setting> buildSettings() {
  std::vector<Setting> t;
  // [server]
  t.push_back(text(
      "server.host", "Address the HTTP server binds; 0.0.0.0 for every interface.",
      [](Config & c) -> auto& { return c.server.host; }));
  t.push_back(integer(
      "server.port", "TCP port of the HTTP server; 0 picks a free port.", 0, 65535,
      [](Config & c) -> auto& { return c.server.port; }));
  t.push_back(integer(
      "server.io_threads", "Network I/O threads; 0 means one per core.", 0, 256,
      [](Config & c) -> auto& { return c.io_threads; }));
  t.push_back(integer(
      "server.max_header_bytes", "Largest request header block accepted; larger gets 431.", 1024,
      kMaxInt, [](Config & c) -> auto& { return c.server.max_header_bytes; }));
  t.push_back(integer(
      "server.max_body_bytes", "Largest request body accepted; larger gets 413.", 0, kMaxInt,
      [](Config & c) -> auto& { return c.server.max_body_bytes; }));
  t.push_back(duration(
      "server.read_timeout", "Time a client has to send a whole request; slower gets 408.",
      [](Config & c) -> auto& { return c.server.read_timeout; }));
  t.push_back(duration(
      "server.request_timeout", "Time a request may take to be answered; longer gets 503.",
      [](Config & c) -> auto& { return c.server.request_timeout; }));
  t.push_back(duration(
      "server.idle_timeout", "An idle keep-alive connection is closed after this.",
      [](Config & c) -> auto& { return c.server.idle_timeout; }));
  t.push_back(duration(
      "server.drain_timeout", "On SIGINT/SIGTERM, time in-flight requests get to finish.",
      [](Config & c) -> auto& { return c.drain_timeout; }));
  t.push_back(integer(
      "server.max_connections", "Open connections accepted at once.", 1, kMaxInt,
      [](Config & c) -> auto& { return c.server.max_connections; }));
  t.push_back(text(
      "server.tls_certificate_file",
      "PEM certificate (chain) to serve HTTPS; empty serves plain HTTP.",
      [](Config & c) -> auto& { return c.tls_certificate_file; }));
  t.push_back(text(
      "server.tls_private_key_file", "PEM private key for the certificate.",
      [](Config & c) -> auto& { return c.tls_private_key_file; }));
  // [sandbox]
  t.push_back(choice(
      "sandbox.mode",
      "Sandbox: the reference LTFU stack with public development passwords, cht-sim and "
      "seeded channels. auto = on when serve runs without --config.",
      {"auto", "on", "off"}, [](Config & c) -> auto& { return c.sandbox.mode; }));
  t.push_back(boolean(
      "sandbox.seed", "In sandbox mode, install the reference users, client and channels at start.",
      [](Config & c) -> auto& { return c.sandbox.seed; }));
  // [client]
  t.push_back(duration(
      "client.connect_timeout", "Outbound HTTP: time to connect.",
      [](Config & c) -> auto& { return c.client.connect_timeout; }));
  t.push_back(duration(
      "client.request_timeout", "Outbound HTTP: time for a whole exchange.",
      [](Config & c) -> auto& { return c.client.request_timeout; }));
  t.push_back(integer(
      "client.max_idle_per_host",
      "Outbound HTTP: idle keep-alive connections kept per host:port for reuse. Set it at "
      "least to the number of concurrent requests to one upstream (the router's channels): "
      "beyond it each request opens a new connection.",
      0, 65536, [](Config & c) -> auto& { return c.client.max_idle_per_host; }));
  t.push_back(boolean(
      "client.verify_tls", "Verify servers' TLS certificates. Turn off only for testing.",
      [](Config & c) -> auto& { return c.client.verify_tls; }));
  t.push_back(text(
      "client.ca_file", "Extra trusted CA certificates (PEM) for outbound HTTPS.",
      [](Config & c) -> auto& { return c.client.ca_file; }));
  // [store]
  t.push_back(secret(
      "store.url", "Database: sqlite:PATH (embedded, the default) or postgresql://...",
      [](Config & c) -> auto& { return c.store.url; }));
  t.push_back(integer(
      "store.read_connections", "Database connections serving reads.", 1, 64,
      [](Config & c) -> auto& { return c.store.read_connections; }));
  t.push_back(integer(
      "store.write_connections",
      "PostgreSQL: connections serving writes, which run at once (SQLite has one writer).", 1, 64,
      [](Config & c) -> auto& { return c.store.write_connections; }));
  t.push_back(duration(
      "store.busy_timeout", "How long a write waits for a locked database.",
      [](Config & c) -> auto& { return c.store.busy_timeout; }));
  t.push_back(choice(
      "store.sqlite_synchronous",
      "SQLite durability: normal survives any process crash; full also "
      "survives power loss, at the cost of an fsync per commit.",
      {"normal", "full"}, [](Config & c) -> auto& { return c.store.sqlite_synchronous; }));
  t.push_back(integer(
      "store.max_pending", "Database work queued beyond this is refused (503), not buffered.", 1,
      kMaxInt, [](Config & c) -> auto& { return c.store.max_pending; }));
  // [queue]
  t.push_back(integer(
      "queue.max_attempts", "Delivery attempts before a job is dead-lettered.", 1, 1000,
      [](Config & c) -> auto& { return c.queue.max_attempts; }));
  t.push_back(duration(
      "queue.initial_backoff", "Wait before the first retry; doubles each time.",
      [](Config & c) -> auto& { return c.queue.initial_backoff; }));
  t.push_back(duration(
      "queue.max_backoff", "Longest wait between two attempts.",
      [](Config & c) -> auto& { return c.queue.max_backoff; }));
  t.push_back(duration(
      "queue.lease", "A job running longer than this is taken back and retried.",
      [](Config & c) -> auto& { return c.queue.lease; }));
  t.push_back(integer(
      "queue.concurrency", "Jobs in flight at once in this process.", 1, 10'000,
      [](Config & c) -> auto& { return c.queue.concurrency; }));
  t.push_back(integer(
      "queue.concurrency_per_destination", "Jobs in flight at once to one destination.", 1, 10'000,
      [](Config & c) -> auto& { return c.queue.concurrency_per_destination; }));
  t.push_back(duration(
      "queue.poll_interval", "How often workers look for due jobs (retries, other processes).",
      [](Config & c) -> auto& { return c.queue.poll_interval; }));
  t.push_back(duration(
      "queue.retain_done",
      "Delivered (done) jobs are deleted this long after delivery; 0 keeps them forever.",
      [](Config & c) -> auto& { return c.queue.retain_done; }));
  t.push_back(duration(
      "queue.retain_dead",
      "Dead-lettered jobs are deleted this long after they died; 0 (the default) keeps them "
      "until an operator replays or removes them.",
      [](Config & c) -> auto& { return c.queue.retain_dead; }));
  t.push_back(integer(
      "queue.purge_batch",
      "Jobs deleted per write transaction when purging, so a purge never holds the writer "
      "long.",
      1, 1'000'000, [](Config & c) -> auto& { return c.queue.purge_batch; }));
  // [him]
  t.push_back(boolean(
      "him.enabled",
      "Run the OpenHIM-compatible router (on server.port, beside /health and "
      "/metrics) and its admin API.",
      [](Config & c) -> auto& { return c.him.enabled; }));
  t.push_back(text(
      "him.api_host", "Address the admin API binds; 0.0.0.0 for every interface.",
      [](Config & c) -> auto& { return c.him.api_host; }));
  t.push_back(integer(
      "him.api_port", "TCP port of the admin API; 0 picks a free port.", 0, 65535,
      [](Config & c) -> auto& { return c.him.api_port; }));
  t.push_back(boolean(
      "him.api_tls",
      "Serve the admin API over HTTPS (a self-signed certificate is created in "
      "him.data_dir unless one is configured); false serves plain HTTP.",
      [](Config & c) -> auto& { return c.him.api_tls; }));
  t.push_back(text(
      "him.api_tls_certificate_file",
      "PEM certificate (chain) of the admin API; empty uses the self-signed one.",
      [](Config & c) -> auto& { return c.him.api_tls_certificate_file; }));
  t.push_back(text(
      "him.api_tls_private_key_file", "PEM private key of the admin API certificate.",
      [](Config & c) -> auto& { return c.him.api_tls_private_key_file; }));
  t.push_back(text(
      "him.data_dir", "Directory for him's files (the self-signed certificate).",
      [](Config & c) -> auto& { return c.him.data_dir; }));
  t.push_back(duration(
      "him.router_timeout", "Upstream timeout of channels without their own timeout.",
      [](Config & c) -> auto& { return c.him.router_timeout; }));
  t.push_back(integer(
      "him.max_stored_body_bytes",
      "Each body stored in a transaction is cut beyond this many bytes.", 0, kMaxInt,
      [](Config & c) -> auto& { return c.him.max_stored_body_bytes; }));
  t.push_back(duration(
      "him.auth_window", "Admin API token auth: allowed difference between auth-ts and the clock.",
      [](Config & c) -> auto& { return c.him.auth_window; }));
  // [fhir]
  t.push_back(boolean(
      "fhir.enabled", "Run the embedded FHIR R4 server on its own listener.",
      [](Config & c) -> auto& { return c.fhir.enabled; }));
  t.push_back(text(
      "fhir.host", "Address the FHIR server binds; 0.0.0.0 for every interface.",
      [](Config & c) -> auto& { return c.fhir.host; }));
  t.push_back(integer(
      "fhir.port", "TCP port of the FHIR server; 0 picks a free port.", 0, 65535,
      [](Config & c) -> auto& { return c.fhir.port; }));
  t.push_back(text(
      "fhir.base_path", "Path prefix of the FHIR API (the [base] is host + this).",
      [](Config & c) -> auto& { return c.fhir.base_path; }));
  t.push_back(text(
      "fhir.public_base",
      "Absolute base URL used in Location, fullUrl and paging links; empty builds it "
      "from the request's Host / X-Forwarded-* headers.",
      [](Config & c) -> auto& { return c.fhir.public_base; }));
  t.push_back(integer(
      "fhir.max_body_bytes",
      "Largest resource or Bundle accepted; larger gets 413 (OperationOutcome).", 1, kMaxInt,
      [](Config & c) -> auto& { return c.fhir.max_body_bytes; }));
  t.push_back(integer(
      "fhir.default_count", "Search page size when _count is not given.", 1, 10000,
      [](Config & c) -> auto& { return c.fhir.default_count; }));
  t.push_back(integer(
      "fhir.max_count", "Largest search page; a bigger _count is clamped.", 1, 10000,
      [](Config & c) -> auto& { return c.fhir.max_count; }));
  t.push_back(integer(
      "fhir.max_includes", "_include/_revinclude resources added per page.", 0, 100000,
      [](Config & c) -> auto& { return c.fhir.max_includes; }));
  t.push_back(integer(
      "fhir.max_transaction_entries", "Entries accepted in one batch or transaction Bundle.", 1,
      100000, [](Config & c) -> auto& { return c.fhir.max_transaction_entries; }));
  t.push_back(choice(
      "fhir.validation",
      "Validation of written resources against the official R4 definitions. default: reject "
      "(400) only what HAPI FHIR rejects too (invalid values, unknown codes of required "
      "bindings) and accept the rest, as the CHT outbound payloads need; strict: reject any "
      "error (422). $validate reports every issue either way.",
      {"default", "strict"}, [](Config & c) -> auto& { return c.fhir.validation; }));
  t.push_back(boolean(
      "fhir.referential_integrity_on_write",
      "Refuse (400) a create or update whose literal local reference (\"Patient/1\") "
      "names a resource that does not exist, as HAPI FHIR does. Absolute URLs are not checked.",
      [](Config & c) -> auto& { return c.fhir.referential_integrity_on_write; }));
  t.push_back(boolean(
      "fhir.referential_integrity_on_delete",
      "Refuse (409) to delete a resource other resources still refer to, as HAPI FHIR does.",
      [](Config & c) -> auto& { return c.fhir.referential_integrity_on_delete; }));
  t.push_back(integer(
      "fhir.subscription_max_failures",
      "rest-hook Subscriptions: consecutive failed deliveries before the Subscription gets "
      "status error (delivery goes on; the next success sets it active again).",
      1, 1000000, [](Config & c) -> auto& { return c.fhir.subscription_max_failures; }));
  t.push_back(duration(
      "fhir.subscription_reload_interval",
      "How often the in-memory index of Subscriptions is re-read from the database (picks "
      "up Subscriptions written by other processes sharing it).",
      [](Config & c) -> auto& { return c.fhir.subscription_reload_interval; }));
  // [cht]
  t.push_back(choice(
      "cht.mode",
      "pull: follow CHT's medic/_changes and deliver its app_settings outbound payloads "
      "through the queue (instead of, or besides, CHT's own outbound push); off: do not.",
      {"off", "pull"}, [](Config & c) -> auto& { return c.cht.mode; }));
  t.push_back(secret(
      "cht.url", "CHT API base URL for pull mode (https://cht.example.org; user:pass@ allowed).",
      [](Config & c) -> auto& { return c.cht.url; }));
  t.push_back(text(
      "cht.username", "CHT user for pull mode: an online user (admin or mm-online role).",
      [](Config & c) -> auto& { return c.cht.username; }));
  t.push_back(secret(
      "cht.password", "Password of cht.username.",
      [](Config & c) -> auto& { return c.cht.password; }));
  t.push_back(text(
      "cht.settings_file",
      "app_settings JSON whose outbound rules pull mode applies; empty reads them from CHT "
      "(GET /api/v1/settings) and again whenever the settings doc changes.",
      [](Config & c) -> auto& { return c.cht.settings_file; }));
  t.push_back(text(
      "cht.credentials_file",
      "JSON object {\"<password_key>\": \"<secret>\"}: outbound credentials for pull mode "
      "(CHT's own are encrypted in medic-vault, out of reach of its API).",
      [](Config & c) -> auto& { return c.cht.credentials_file; }));
  t.push_back(text(
      "cht.checkpoint", "Name of the stored changes-feed checkpoint (one per followed CHT).",
      [](Config & c) -> auto& { return c.cht.checkpoint; }));
  t.push_back(integer(
      "cht.batch", "Changes read, hydrated and enqueued per transaction.", 1, 10'000,
      [](Config & c) -> auto& { return c.cht.batch; }));
  t.push_back(duration(
      "cht.longpoll", "Once caught up, how long one longpoll request waits for a change.",
      [](Config & c) -> auto& { return c.cht.longpoll; }));
  t.push_back(duration(
      "cht.leader_retry",
      "Several serve processes on one database: one follows the feed (it holds the lock named "
      "after cht.checkpoint), the others stand by and try to take over this often (at least "
      "100ms).",
      [](Config & c) -> auto& { return c.cht.leader_retry; }));
  t.push_back(integer(
      "cht.max_attempts", "Delivery attempts of a pull-mode payload; 0 = queue.max_attempts.", 0,
      1000, [](Config & c) -> auto& { return c.cht.max_attempts; }));
  // [cht_sim]
  t.push_back(boolean(
      "cht_sim.enabled", "Run the CHT emulator (cht-sim) as a listener of serve, in its store.",
      [](Config & c) -> auto& { return c.cht_sim.enabled; }));
  t.push_back(text(
      "cht_sim.host", "Address cht-sim binds; 0.0.0.0 for every interface.",
      [](Config & c) -> auto& { return c.cht_sim.host; }));
  t.push_back(integer(
      "cht_sim.port", "TCP port of cht-sim (CHT's 5988); 0 picks a free port.", 0, 65535,
      [](Config & c) -> auto& { return c.cht_sim.port; }));
  t.push_back(choice(
      "cht_sim.seed",
      "ltfu: on first start, the reference LTFU app_settings and credential openhim1; "
      "empty: no settings.",
      {"ltfu", ""}, [](Config & c) -> auto& { return c.cht_sim.seed; }));
  t.push_back(text(
      "cht_sim.router_url",
      "Where the seeded outbound configs push; empty = this serve's router (server.port).",
      [](Config & c) -> auto& { return c.cht_sim.router_url; }));
  t.push_back(text(
      "cht_sim.admin_user", "cht-sim's CouchDB admin (passes every permission check).",
      [](Config & c) -> auto& { return c.cht_sim.admin_user; }));
  t.push_back(secret(
      "cht_sim.admin_password", "Password of cht_sim.admin_user.",
      [](Config & c) -> auto& { return c.cht_sim.admin_password; }));
  t.push_back(duration(
      "cht_sim.scheduler_interval",
      "How often cht-sim's Sentinel retries queued outbound pushes (CHT: 5 minutes).",
      [](Config & c) -> auto& { return c.cht_sim.scheduler_interval; }));
  t.push_back(boolean(
      "cht_sim.test_hooks", "Serve /_sim/clock/advance and /_sim/scheduler/run (tests only).",
      [](Config & c) -> auto& { return c.cht_sim.test_hooks; }));
  // [mediator]
  t.push_back(boolean(
      "mediator.enabled",
      "Run the CHT<->FHIR mediator (/patient, /encounter, /organization, /endpoint, "
      "/service-request) on its own listener.",
      [](Config & c) -> auto& { return c.mediator.enabled; }));
  t.push_back(text(
      "mediator.host", "Address the mediator binds; 0.0.0.0 for every interface.",
      [](Config & c) -> auto& { return c.mediator.host; }));
  t.push_back(integer(
      "mediator.port", "TCP port of the mediator (reference env PORT); 0 picks a free port.", 0,
      65535, [](Config & c) -> auto& { return c.mediator.port; }));
  t.push_back(text(
      "mediator.fhir_url",
      "FHIR base URL the mediator writes to (reference env FHIR_URL); empty: chtlink's own "
      "FHIR listener.",
      [](Config & c) -> auto& { return c.mediator.fhir_url; }));
  t.push_back(text(
      "mediator.fhir_username", "Basic-auth user for fhir_url (reference env FHIR_USERNAME).",
      [](Config & c) -> auto& { return c.mediator.fhir_username; }));
  t.push_back(secret(
      "mediator.fhir_password", "Password of fhir_username (reference env FHIR_PASSWORD).",
      [](Config & c) -> auto& { return c.mediator.fhir_password; }));
  t.push_back(text(
      "mediator.cht_url",
      "CHT API base URL for the LTFU follow-up records (reference env CHT_URL); empty: "
      "/service-request answers 500.",
      [](Config & c) -> auto& { return c.mediator.cht_url; }));
  t.push_back(text(
      "mediator.cht_username", "CHT user creating the records (reference env CHT_USERNAME).",
      [](Config & c) -> auto& { return c.mediator.cht_username; }));
  t.push_back(secret(
      "mediator.cht_password", "Password of cht_username (reference env CHT_PASSWORD).",
      [](Config & c) -> auto& { return c.mediator.cht_password; }));
  t.push_back(text(
      "mediator.openhim_api_url",
      "OpenHIM management API to register with and heartbeat to (reference env "
      "OPENHIM_API_URL); empty: no registration.",
      [](Config & c) -> auto& { return c.mediator.openhim_api_url; }));
  t.push_back(text(
      "mediator.openhim_username", "OpenHIM API user (reference env OPENHIM_USERNAME).",
      [](Config & c) -> auto& { return c.mediator.openhim_username; }));
  t.push_back(secret(
      "mediator.openhim_password", "Password of openhim_username (reference env OPENHIM_PASSWORD).",
      [](Config & c) -> auto& { return c.mediator.openhim_password; }));
  t.push_back(boolean(
      "mediator.openhim_trust_self_signed",
      "Accept a self-signed certificate on openhim_api_url (as the reference's trustSelfSigned).",
      [](Config & c) -> auto& { return c.mediator.openhim_trust_self_signed; }));
  t.push_back(duration(
      "mediator.heartbeat_interval", "Time between heartbeats to OpenHIM.",
      [](Config & c) -> auto& { return c.mediator.heartbeat_interval; }));
  t.push_back(text(
      "mediator.advertised_host",
      "Host OpenHIM routes the registered Mediator channel to (the mediator's address as "
      "OpenHIM sees it).",
      [](Config & c) -> auto& { return c.mediator.advertised_host; }));
  t.push_back(duration(
      "mediator.upstream_timeout", "Longest wait for one FHIR, CHT or OpenHIM answer.",
      [](Config & c) -> auto& { return c.mediator.upstream_timeout; }));
  t.push_back(duration(
      "mediator.recovery_delay",
      "An LTFU operation not finished this long after it was accepted (the process stopped "
      "between two steps) is finished or undone by its recovery job.",
      [](Config & c) -> auto& { return c.mediator.recovery_delay; }));
  {
    Setting s{"mediator.observations",
              SettingKind::String,
              "Form field -> Observation table, a JSON array of {\"field\" (dotted path in the "
              "report's fields), \"system\", \"code\", \"display\", \"type\" (string, "
              "integer, decimal, boolean, code, quantity, datetime), \"unit\"}.",
              0,
              0,
              {},
              {},
              {}};
    s.assign = [](Config& c, const RawValue& v) -> Status {
      CHTLINK_ASSIGN_OR_RETURN(std::string text_value, toText(v));
      CHTLINK_ASSIGN_OR_RETURN(c.mediator.observations,
                               mediator::parseObservationMappings(text_value));
      return ok();
    };
    s.show = [](const Config& c) {
      return quote(mediator::renderObservationMappings(c.mediator.observations));
    };
    t.push_back(std::move(s));
  }
  // [log]
  t.push_back(choice(
      "log.level", "Least severe level logged.", {"trace", "debug", "info", "warn", "error"},
      [](Config & c) -> auto& { return c.log.level; }));
  t.push_back(choice(
      "log.format", "text: readable on a terminal; json: one JSON object a line.", {"text", "json"},
      [](Config & c) -> auto& { return c.log.format; }));
  t.push_back(boolean(
      "log.access_log", "One log line per HTTP request.",
      [](Config & c) -> auto& { return c.log.access_log; }));
  return t;
}

}  // namespace

std::string Setting::envName() const {
  std::string env = "CHTLINK_";
  for (char c : key) env += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

std::string Setting::section() const { return key.substr(0, key.find('.')); }
std::string Setting::name() const { return key.substr(key.find('.') + 1); }

std::vector<Setting> settings() { return buildSettings(); }

const Setting* findSetting(std::span<const Setting> table, std::string_view key) {
  for (const Setting& s : table)
    if (s.key == key) return &s;
  return nullptr;
}

}  // namespace chtlink::config
