// Registration with OpenHIM (openhim.md 6): register once, read the mediator config, then a
// heartbeat every heartbeat_interval with the uptime, as openhim-mediator-utils 0.4 does
// (Basic auth). Runs on a thread of its own, so the blocking client calls are allowed.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mediator/mediator_internal.h"

namespace chtlink::mediator {
namespace {

constexpr std::string_view kMediatorVersion = "2.0.0";

Json registrationBody(const MediatorOptions& o, uint16_t port) {
  Json route{{"name", "Mediator"},
             {"host", o.advertised_host},
             {"port", std::to_string(port)},
             {"pathTransform", "s/\\/mediator/"},
             {"primary", true},
             {"type", "http"}};
  Json channel{{"name", "Mediator"},
               {"urlPattern", "^/mediator/.*$"},
               {"routes", Json::array({route})},
               {"allow", Json::array({"interop"})},
               {"methods", Json::array({"GET", "POST", "PUT", "DELETE"})},
               {"type", "http"}};
  Json endpoint{{"name", "Mediator"},           {"host", o.advertised_host}, {"path", "/"},
                {"port", std::to_string(port)}, {"primary", true},           {"type", "http"}};
  return Json{{"urn", std::string(kMediatorUrn)},
              {"version", std::string(kMediatorVersion)},
              {"name", "chtlink mediator"},
              {"description", "CHT <-> FHIR mediator with the LTFU workflow (chtlink)"},
              {"defaultChannelConfig", Json::array({channel})},
              {"endpoints", Json::array({endpoint})}};
}

}  // namespace

void runRegistration(const StatePtr& st, uint16_t port, net::HttpClient& http) {
  std::string base = st->options.openhim_api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  net::BasicAuth auth{st->options.openhim_username, st->options.openhim_password};
  auto post = [&](const std::string& path, const Json& body) {
    auto request = jsonRequest("POST", base, path, auth, body);
    request.timeout = st->options.upstream_timeout;
    return http.sendSync(std::move(request));
  };
  auto setState = [&](const char* key, Json value) {
    std::lock_guard lock(st->mu);
    st->openhim[key] = std::move(value);
  };
  // Waits one interval; false when stopping.
  auto pause = [&] {
    std::unique_lock lock(st->mu);
    return !st->stop_cv.wait_for(lock, st->options.heartbeat_interval,
                                 [&] { return st->stopping; });
  };
  auto configFrom = [&](const net::ClientResponse& r) {
    if (r.body.empty() || r.body == "OK") return;
    auto parsed = parseJson(r.body);
    if (parsed && parsed->is_object()) {
      setState("config", std::move(*parsed));
      st->log->info("mediator: configuration received from OpenHIM");
    }
  };
  setState("enabled", true);
  setState("registered", false);
  const std::string heartbeat = fmt::format("/mediators/{}/heartbeat", kMediatorUrn);
  do {
    auto r = post("/mediators", registrationBody(st->options, port));
    if (r && r->status / 100 == 2) {
      setState("registered", true);
      setState("error", nullptr);
      st->log->info("mediator: registered {} with OpenHIM at {}", kMediatorUrn, base);
      auto c = post(heartbeat, Json{{"uptime", st->uptimeSeconds()}, {"config", true}});
      if (c && c->status == 200) configFrom(*c);
      break;
    }
    std::string why = r ? fmt::format("OpenHIM answered {}: {}", r->status, r->body.substr(0, 300))
                        : r.error().message;
    setState("error", "registration failed: " + why);
    st->log->warn("mediator: cannot register with OpenHIM at {}: {} (retrying)", base, why);
  } while (pause());
  while (pause()) {
    auto r = post(heartbeat, Json{{"uptime", st->uptimeSeconds()}});
    if (r && r->status == 200) {
      setState("last_heartbeat", isoTime(st->clock.now()));
      setState("error", nullptr);
      configFrom(*r);
      continue;
    }
    std::string why = r ? fmt::format("OpenHIM answered {}", r->status) : r.error().message;
    setState("error", "heartbeat failed: " + why);
    st->log->warn("mediator: heartbeat to OpenHIM failed: {}", why);
  }
}

}  // namespace chtlink::mediator
