#include "him_fixture.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "him/crypto.h"

namespace chtlink::testing {

Upstream::Upstream() {
  respond_ = [](const net::Request&) { return net::Response::json(200, {{"ok", true}}); };
  net::Router router;
  router.add("*", "/{path...}", [this](net::Request request, net::Reply reply) {
    std::unique_lock lock(mu_);
    requests_.push_back(request);
    if (hold_) {
      held_.push_back(reply);
      return;
    }
    Respond respond = respond_;
    lock.unlock();
    reply(respond(request));
  });
  net::ServerOptions options;
  options.name = "upstream";
  options.request_timeout = std::chrono::minutes(5);
  auto log =
      std::make_shared<spdlog::logger>("upstream", std::make_shared<spdlog::sinks::null_sink_mt>());
  server_ = std::make_unique<net::Server>(loop_, options, std::move(router), log);
  auto port = server_->listen();
  if (!port.has_value()) throw std::runtime_error(port.error().message);
  port_ = *port;
  loop_.start();
}

Upstream::~Upstream() {
  loop_.stop();
  loop_.join();
  std::lock_guard lock(mu_);
  held_.clear();
}

void Upstream::respondWith(Respond respond) {
  std::lock_guard lock(mu_);
  respond_ = std::move(respond);
}

void Upstream::hold() {
  std::lock_guard lock(mu_);
  hold_ = true;
}

std::vector<net::Request> Upstream::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t Upstream::received() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

namespace {
std::vector<std::string> withPlainApi(std::vector<std::string> sets) {
  // Sandbox mode keeps root@openhim.org's default password, which these tests use; its
  // seeding is off so each test starts from an empty configuration.
  sets.insert(sets.begin(), {"him.api_tls=false", "sandbox.mode=on", "sandbox.seed=false"});
  return sets;
}
}  // namespace

HimServe::HimServe(const TempDir& dir, std::vector<std::string> sets)
    : serve_(dir, withPlainApi(std::move(sets))) {}

Result<net::ClientResponse> HimServe::apiCall(const std::string& method, const std::string& path,
                                              const Json& body, net::Headers headers,
                                              bool basic_root) {
  net::ClientRequest r;
  r.method = method;
  r.url = api(path);
  r.headers = std::move(headers);
  if (basic_root) r.auth = net::BasicAuth{"root@openhim.org", "openhim-password"};
  if (!body.is_null()) {
    r.body = dumpJson(body);
    r.headers.set("Content-Type", "application/json");
  }
  return client_.send(std::move(r));
}

Result<net::ClientResponse> HimServe::routerCall(const std::string& method, const std::string& path,
                                                 const std::string& user, const std::string& body) {
  net::ClientRequest r;
  r.method = method;
  r.url = router(path);
  if (!user.empty()) {
    auto colon = user.find(':');
    r.auth = net::BasicAuth{user.substr(0, colon), user.substr(colon + 1)};
  }
  r.body = body;
  if (!body.empty()) r.headers.set("Content-Type", "application/json");
  return client_.send(std::move(r));
}

void HimServe::createClient(const std::string& client_id, const std::string& password,
                            const std::vector<std::string>& roles) {
  std::string salt = "salt-" + client_id;
  auto r = apiCall("POST", "/clients",
                   {{"clientID", client_id},
                    {"name", client_id},
                    {"roles", roles},
                    {"passwordAlgorithm", "sha512"},
                    {"passwordSalt", salt},
                    {"passwordHash", him::sha512Hex(password + salt)}});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->status, 201) << r->body;
}

void HimServe::createChannel(const Json& channel) {
  auto r = apiCall("POST", "/channels", channel);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->status, 201) << r->body;
}

Json HimServe::transactions(const std::string& filters) {
  std::string path = "/transactions?filterRepresentation=full";
  if (!filters.empty()) {
    std::string encoded;
    for (char c : filters) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        encoded += c;
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
        encoded += buf;
      }
    }
    path += "&filters=" + encoded;
  }
  auto r = apiCall("GET", path);
  if (!r.has_value() || r->status != 200) return Json::array();
  auto parsed = parseJson(r->body);
  return parsed.has_value() ? *parsed : Json::array();
}

Json channelTo(const std::string& name, const std::string& pattern, uint16_t port, Json extra) {
  Json doc = {{"name", name},
              {"urlPattern", pattern},
              {"methods", {"GET", "POST", "PUT", "DELETE"}},
              {"allow", {"interop"}},
              {"routes", Json::array({{{"name", name + " route"},
                                       {"host", "127.0.0.1"},
                                       {"port", port},
                                       {"primary", true}}})}};
  doc.update(extra);
  return doc;
}

}  // namespace chtlink::testing
