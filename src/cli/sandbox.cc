#include "cli/sandbox.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base/json.h"
#include "base/random.h"
#include "him/crypto.h"

namespace chtlink::cli {
namespace {

using namespace std::chrono_literals;

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

Json channel(const std::string& name, const std::string& pattern, uint16_t port,
             const std::string& path_transform, Json methods) {
  return {{"name", name},
          {"urlPattern", pattern},
          {"methods", std::move(methods)},
          {"type", "http"},
          {"authType", "private"},
          {"allow", Json::array({kSandboxClientRole})},
          {"priority", 1},
          {"status", "enabled"},
          {"routes", Json::array({{{"name", name},
                                   {"host", "127.0.0.1"},
                                   {"port", port},
                                   {"path", ""},
                                   {"pathTransform", path_transform},
                                   {"primary", true},
                                   {"type", "http"},
                                   {"status", "enabled"}}})}};
}

// The names ("email" or "clientID") in a JSON array answer of the admin API.
std::vector<std::string> namesIn(const std::string& body, const char* field) {
  std::vector<std::string> out;
  auto json = parseJson(body);
  if (!json.has_value() || !json->is_array()) return out;
  for (const auto& item : *json)
    if (item.is_object() && item.contains(field) && (*item.find(field)).is_string())
      out.push_back((*item.find(field)).get<std::string>());
  return out;
}

}  // namespace

bool isSandbox(const config::Config& config, bool has_config_file) {
  if (config.sandbox.mode == "on") return true;
  if (config.sandbox.mode == "off") return false;
  return !has_config_file;
}

Json sandboxMetadata(const SandboxPorts& ports, const std::string& fhir_base_path,
                     const std::vector<std::string>& existing_users,
                     const std::vector<std::string>& existing_clients, Random& random) {
  Json users = Json::array();
  if (!contains(existing_users, kSandboxInteropUser)) {
    users.push_back({{"firstname", "Interop"},
                     {"surname", "User"},
                     {"email", kSandboxInteropUser},
                     {"password", kSandboxInteropPassword},
                     {"groups", Json::array({"admin"})}});
  }
  Json clients = Json::array();
  if (!contains(existing_clients, kSandboxClientId)) {
    // OpenHIM's client hash: SHA-512 of password then salt.
    std::string salt = newUuid(random);
    clients.push_back(
        {{"clientID", kSandboxClientId},
         {"name", "Interoperability client"},
         {"roles", Json::array({kSandboxClientRole})},
         {"passwordAlgorithm", "sha512"},
         {"passwordSalt", salt},
         {"passwordHash", him::sha512Hex(std::string(kSandboxClientPassword) + salt)}});
  }
  Json channels = Json::array();
  const Json all_methods =
      Json::array({"GET", "POST", "DELETE", "PUT", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PATCH"});
  if (ports.fhir != 0) {
    // Paths pass through unchanged: /fhir/Patient reaches the FHIR listener's /fhir base.
    std::string transform;
    if (fhir_base_path != "/fhir") transform = "s/^\\/fhir/" + fhir_base_path + "/";
    channels.push_back(channel("FHIR Server", "^/fhir/.*$", ports.fhir, transform, all_methods));
  }
  if (ports.mediator != 0) {
    channels.push_back(channel("Mediator", "^/mediator/.*$", ports.mediator, "",
                               Json::array({"GET", "POST", "PUT", "DELETE"})));
  }
  return {{"Users", users},
          {"Clients", clients},
          {"Channels", channels},
          {"Mediators", Json::array()},
          {"ContactGroups", Json::array()}};
}

SandboxConfigurator::SandboxConfigurator(net::HttpClient& client, SandboxPorts ports,
                                         config::Config config, std::shared_ptr<spdlog::logger> log)
    : client_(client), ports_(ports), config_(std::move(config)), log_(std::move(log)) {}

SandboxConfigurator::~SandboxConfigurator() {
  if (thread_.joinable()) thread_.join();
}

void SandboxConfigurator::start() {
  thread_ = std::thread([this] { run(); });
}

void SandboxConfigurator::run() {
  const std::string api =
      fmt::format("{}://127.0.0.1:{}", config_.him.api_tls ? "https" : "http", ports_.api);
  const net::BasicAuth root{kSandboxRootUser, kSandboxRootPassword};
  auto call = [&](const std::string& method, const std::string& path,
                  std::optional<Json> body) -> Result<net::ClientResponse> {
    net::ClientRequest request;
    request.method = method;
    request.url = api + path;
    request.auth = root;
    request.timeout = 10s;
    if (body) {
      request.body = dumpJson(*body);
      request.headers.set("Content-Type", "application/json");
    }
    return client_.sendSync(std::move(request));
  };
  auto failed = [&](const std::string& what, const Result<net::ClientResponse>& r) {
    std::string why = r.has_value() ? fmt::format("HTTP {} {}", r->status, r->body.substr(0, 300))
                                    : r.error().message;
    log_->error(
        "sandbox: {} failed: {}. The router may lack the reference channels; check the admin "
        "API at {} (root password changed? then configure channels yourself).",
        what, why, api);
  };

  auto users = call("GET", "/users", std::nullopt);
  auto clients = call("GET", "/clients", std::nullopt);
  if (!users.has_value() || users->status != 200) return failed("reading users", users);
  if (!clients.has_value() || clients->status != 200) return failed("reading clients", clients);

  MtRandom random;
  Json metadata = sandboxMetadata(ports_, config_.fhir.base_path, namesIn(users->body, "email"),
                                  namesIn(clients->body, "clientID"), random);
  auto imported = call("POST", "/metadata", metadata);
  if (!imported.has_value() || imported->status != 201)
    return failed("importing the reference configuration", imported);
  log_->info("sandbox: reference configuration installed ({} users, {} clients added; channels {})",
             metadata["Users"].size(), metadata["Clients"].size(), metadata["Channels"].size());

  if (ports_.mediator == 0) return;
  // The mediator registers itself at start; install its default channel once it has, as the
  // reference end-to-end set-up does (an already installed channel is left as it is).
  const std::string urn_path = std::string("/mediators/") + kSandboxMediatorUrn;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  Result<net::ClientResponse> mediator = call("GET", urn_path, std::nullopt);
  while ((!mediator.has_value() || mediator->status != 200) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);  // waiting on another component, not a test
    mediator = call("GET", urn_path, std::nullopt);
  }
  if (!mediator.has_value() || mediator->status != 200)
    return failed("waiting for the mediator's registration", mediator);
  auto installed = call("POST", urn_path + "/channels", Json::array({"Mediator"}));
  if (!installed.has_value() || installed->status != 201)
    return failed("installing the mediator's default channel", installed);
  log_->info("sandbox: mediator {} registered, channel Mediator installed", kSandboxMediatorUrn);
}

std::string sandboxBanner(const config::Config& config, const SandboxPorts& ports,
                          const std::string& data_dir) {
  std::string out;
  out += fmt::format(
      "\n  chtlink sandbox: the reference LTFU stack on this machine.\n"
      "  Data: {} (delete it to start over)\n\n",
      data_dir);
  auto row = [&](const char* what, const std::string& url, const std::string& credentials) {
    out += fmt::format("  {:<22} {:<32} {}\n", what, url, credentials);
  };
  row("what", "URL", "credentials");
  if (ports.router)
    row("router (OpenHIM core)", fmt::format("http://127.0.0.1:{}", ports.router),
        fmt::format("client {} / {}", kSandboxClientId, kSandboxClientPassword));
  if (ports.api)
    row("admin API (OpenHIM)",
        fmt::format("{}://127.0.0.1:{}", config.him.api_tls ? "https" : "http", ports.api),
        fmt::format("{} / {}, {} / {}", kSandboxRootUser, kSandboxRootPassword, kSandboxInteropUser,
                    kSandboxInteropPassword));
  if (ports.fhir)
    row("FHIR R4", fmt::format("http://127.0.0.1:{}{}", ports.fhir, config.fhir.base_path),
        "none (or /fhir through the router)");
  if (ports.mediator)
    row("mediator", fmt::format("http://127.0.0.1:{}/mediator/", ports.mediator),
        "none (or /mediator through the router)");
  if (ports.cht)
    row("cht-sim (CHT)", fmt::format("http://127.0.0.1:{}", ports.cht),
        "admin / password, medic / password");
  out +=
      "\n  Try it: chtlink demo ltfu\n"
      "  These passwords are public: keep the sandbox on 127.0.0.1. For production run\n"
      "  chtlink serve --config chtlink.toml (see docs/chtlink.example.toml).\n";
  return out;
}

}  // namespace chtlink::cli
