#include <openssl/evp.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "cht/emulator/seed.h"
#include "cht/emulator/sim_internal.h"

namespace chtlink::cht::emulator {
namespace {

constexpr auto kTick = std::chrono::milliseconds(100);

std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0x0F];
  }
  return out;
}

std::string decodeBase64(std::string_view text) {
  std::string out(text.size(), '\0');
  int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (written < 0) return {};
  size_t padding = 0;
  while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<size_t>(written) - std::min<size_t>(padding, 2));
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

std::string passwordHash(const std::string& salt, const std::string& password) {
  const std::string text = salt + password;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return hex(digest, sizeof digest);
}

ChtSimImpl::ChtSimImpl(store::Database& database, script::Engine& engine, net::HttpClient& http,
                       const Clock& clock, Random& random, ChtSimOptions options,
                       std::shared_ptr<spdlog::logger> logger)
    : database_(database),
      engine_(engine),
      http_(http),
      clock_(clock),
      random_(random),
      options_(std::move(options)),
      logger_(std::move(logger)),
      docs_(database, random) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%016llx%010llx",
                static_cast<unsigned long long>(random_.next64()),
                static_cast<unsigned long long>(random_.next64() & 0xFFFFFFFFFFull));
  id_prefix_ = prefix;
}

ChtSimImpl::~ChtSimImpl() { stop(); }

Status ChtSimImpl::start() {
  CHTLINK_ASSIGN_OR_RETURN(auto existing, docs_.get(kMedic, "settings"));
  if (!existing) {
    CHTLINK_ASSIGN_OR_RETURN(OrderedJson app_settings, seedSettings(options_));
    OrderedJson doc = OrderedJson::object();
    doc["_id"] = "settings";
    doc["settings"] = std::move(app_settings);
    CHTLINK_TRY(docs_.put(kMedic, std::move(doc)));
    if (options_.seed_ltfu) {
      OrderedJson credential = OrderedJson::object();
      credential["_id"] = "credential:openhim1";
      credential["password"] = options_.openhim_password;
      CHTLINK_TRY(docs_.put(kVault, std::move(credential)));
    }
  }
  next_schedule_ = clock_.now() + options_.scheduler_interval;
  worker_ = std::thread([this] {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) break;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  });
  ticker_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, kTick);
      if (stopping_) break;
      lock.unlock();
      post([this] {
        answerWaiters(true);
        if (clock_.now() >= next_schedule_) runScheduler();
      });
      lock.lock();
    }
  });
  // Sentinel runs its scheduled tasks at start-up too.
  post([this] { runScheduler(); });
  return ok();
}

void ChtSimImpl::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (worker_.joinable()) worker_.join();
  for (auto& waiter : waiters_) waiter.reply(apiError(503, "cht-sim is stopping"));
  waiters_.clear();
}

void ChtSimImpl::drainWaiters() {
  post([this] {
    draining_ = true;
    for (auto& waiter : waiters_) waiter.deadline = std::chrono::steady_clock::time_point();
    answerWaiters(true);
  });
}

void ChtSimImpl::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(fn));
  }
  wake_.notify_all();
}

net::Response ChtSimImpl::jsonResponse(int status, const OrderedJson& body) {
  net::Response response;
  response.status = status;
  response.headers.set("content-type", "application/json");
  response.body = outbound::jsStringify(body);
  return response;
}

net::Response ChtSimImpl::apiError(int status, const std::string& message) {
  OrderedJson body = OrderedJson::object();
  body["code"] = status;
  body["error"] = message;
  return jsonResponse(status, body);
}

net::Response ChtSimImpl::couchError(int status, const std::string& error,
                                     const std::string& reason) {
  OrderedJson body = OrderedJson::object();
  body["error"] = error;
  body["reason"] = reason;
  return jsonResponse(status, body);
}

net::Response ChtSimImpl::errorFor(const Error& error) {
  switch (error.code) {
    case ErrorCode::Conflict:
      return couchError(409, "conflict", error.message);
    case ErrorCode::NotFound:
      return couchError(404, "not_found", error.message);
    case ErrorCode::InvalidArgument:
      return couchError(400, "bad_request", error.message);
    case ErrorCode::PermissionDenied:
      return apiError(403, error.message);
    case ErrorCode::Unauthenticated:
      return unauthorized();
    default: {
      OrderedJson body = OrderedJson::object();
      body["code"] = 500;
      body["error"] = "Server error";
      body["details"] = error.message;
      return jsonResponse(500, body);
    }
  }
}

net::Response ChtSimImpl::unauthorized() {
  auto response = apiError(401, "unauthorized");
  response.headers.set("www-authenticate", "Basic realm=\"Medic Web Services\"");
  return response;
}

net::Handler ChtSimImpl::authenticated(AuthenticatedFn fn) {
  return [this, fn = std::move(fn)](net::Request request, net::Reply reply) {
    post([this, fn, request = std::move(request), reply] {
      auto user = authenticate(request);
      if (!user) {
        reply(user.error().code == ErrorCode::Unauthenticated ? unauthorized()
                                                              : errorFor(user.error()));
        return;
      }
      reply(fn(*user, request));
    });
  };
}

Result<UserCtx> ChtSimImpl::authenticate(const net::Request& request) {
  const std::string_view header = request.headers.get("authorization");
  if (header.size() < 6 || (header.substr(0, 6) != "Basic " && header.substr(0, 6) != "basic ")) {
    return unauthenticated("unauthorized");
  }
  const std::string decoded = decodeBase64(header.substr(6));
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return unauthenticated("unauthorized");
  const std::string name = decoded.substr(0, colon);
  const std::string password = decoded.substr(colon + 1);
  UserCtx user;
  user.name = name;
  // CHT's development set-up (the reference deployment) has two admins with one password:
  // the CouchDB server admin (`medic`) and the CHT admin user `admin` its scripts log in as.
  if ((name == options_.admin_user || name == "admin") && password == options_.admin_password) {
    user.admin = true;
    user.online = true;
    user.roles = {"_admin"};
    return user;
  }
  CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kUsers, "org.couchdb.user:" + name));
  if (!stored || stored->deleted) return unauthenticated("unauthorized");
  const auto& body = stored->body;
  if (passwordHash(body.value("salt", std::string()), password) !=
      body.value("derived_key", std::string())) {
    return unauthenticated("unauthorized");
  }
  if (body.contains("roles") && body["roles"].is_array()) {
    for (const auto& role : body["roles"]) {
      if (role.is_string()) user.roles.push_back(role.get<std::string>());
    }
  }
  user.admin = contains(user.roles, "_admin");
  user.online = user.admin || contains(user.roles, "mm-online");
  return user;
}

bool ChtSimImpl::hasAll(const UserCtx& user, std::initializer_list<const char*> permissions) {
  if (user.admin) return true;
  auto app_settings = settings();
  if (!app_settings) return false;
  const auto permission_map = app_settings->value("permissions", OrderedJson::object());
  for (const char* permission : permissions) {
    auto roles = permission_map.find(permission);
    if (roles == permission_map.end() || !roles->is_array()) return false;
    bool granted = false;
    for (const auto& role : *roles) {
      if (role.is_string() && contains(user.roles, role.get<std::string>())) granted = true;
    }
    if (!granted) return false;
  }
  return true;
}

bool ChtSimImpl::hasAny(const UserCtx& user, std::initializer_list<const char*> permissions) {
  for (const char* permission : permissions) {
    if (hasAll(user, {permission})) return true;
  }
  return false;
}

Result<OrderedJson> ChtSimImpl::settings() {
  const uint64_t version = docs_.settingsVersion();
  if (settings_cache_ && settings_cache_version_ == version) return *settings_cache_;
  CHTLINK_ASSIGN_OR_RETURN(auto doc, docs_.get(kMedic, "settings"));
  OrderedJson value = OrderedJson::object();
  if (doc && !doc->deleted && doc->body.contains("settings")) value = doc->body["settings"];
  settings_cache_ = value;
  settings_cache_version_ = version;
  return value;
}

std::string ChtSimImpl::newContactId() {
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06llx", static_cast<unsigned long long>(++id_counter_));
  return id_prefix_ + suffix;
}

Result<Written> ChtSimImpl::saveMedic(OrderedJson doc) {
  CHTLINK_ASSIGN_OR_RETURN(auto written, docs_.put(kMedic, std::move(doc)));
  ensureInfoDocs({written.id});
  afterWrite();
  sentinelPass(written.id);
  return written;
}

void ChtSimImpl::afterWrite() { answerWaiters(false); }

net::Router ChtSimImpl::router() {
  net::Router router;
  addCouchRoutes(router);
  addApiRoutes(router);
  if (options_.test_hooks) {
    router.add("POST", "/_sim/clock/advance", [this](net::Request request, net::Reply reply) {
      post([this, request = std::move(request), reply] {
        auto body = outbound::parseOrderedJson(request.body);
        if (!body || !body->is_object() || !(*body)["ms"].is_number_integer()) {
          reply(apiError(400, "body must be {\"ms\": <integer>}"));
          return;
        }
        clock_.advance((*body)["ms"].get<int64_t>());
        OrderedJson answer = OrderedJson::object();
        answer["now"] = nowMs();
        reply(jsonResponse(200, answer));
      });
    });
    router.add("POST", "/_sim/scheduler/run", [this](net::Request, net::Reply reply) {
      post([this, reply] {
        runScheduler();
        OrderedJson answer = OrderedJson::object();
        answer["ok"] = true;
        reply(jsonResponse(200, answer));
      });
    });
  }
  return router;
}

Result<std::unique_ptr<ChtSim>> ChtSim::create(store::Database& database, script::Engine& engine,
                                               net::HttpClient& http, const Clock& clock,
                                               Random& random, ChtSimOptions options,
                                               std::shared_ptr<spdlog::logger> logger) {
  auto sim = std::make_unique<ChtSimImpl>(database, engine, http, clock, random, std::move(options),
                                          std::move(logger));
  CHTLINK_TRY(sim->start());
  return std::unique_ptr<ChtSim>(std::move(sim));
}

}  // namespace chtlink::cht::emulator
