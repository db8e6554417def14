// Private to cht-sim: the implementation class shared by its .cc files.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cht/emulator/cht_sim.h"
#include "cht/emulator/doc_store.h"
#include "cht/outbound/config.h"
#include "cht/outbound/request.h"
#include "net/http.h"

namespace chtlink::cht::emulator {

inline constexpr const char* kMedic = "medic";
inline constexpr const char* kSentinel = "medic-sentinel";
inline constexpr const char* kUsers = "_users";
inline constexpr const char* kVault = "medic-vault";

struct UserCtx {
  std::string name;
  std::vector<std::string> roles;
  bool admin = false;
  bool online = false;
};

// The emulator's clock: the injected one plus what the test hook added.
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(const Clock& base) : base_(base) {}
  TimePoint now() const override {
    return base_.now() + std::chrono::milliseconds(offset_ms_.load());
  }
  std::chrono::steady_clock::time_point steadyNow() const override { return base_.steadyNow(); }
  void advance(int64_t ms) { offset_ms_ += ms; }

 private:
  const Clock& base_;
  std::atomic<int64_t> offset_ms_{0};
};

// A longpoll _changes request waiting for a write.
struct Waiter {
  std::string db;
  int64_t since = 0;
  int limit = 0;
  bool include_docs = false;
  bool continuous = false;  // answer in the feed=continuous line format
  std::chrono::steady_clock::time_point deadline;
  net::Reply reply;
};

class ChtSimImpl final : public ChtSim, private outbound::CredentialStore {
 public:
  ChtSimImpl(store::Database& database, script::Engine& engine, net::HttpClient& http,
             const Clock& clock, Random& random, ChtSimOptions options,
             std::shared_ptr<spdlog::logger> logger);
  ~ChtSimImpl() override;

  Status start();
  net::Router router() override;
  void drainWaiters() override;
  void stop() override;

  // --- shared helpers (cht_sim.cc) ---
  static net::Response jsonResponse(int status, const OrderedJson& body);
  static net::Response apiError(int status, const std::string& message);
  static net::Response couchError(int status, const std::string& error, const std::string& reason);
  static net::Response errorFor(const Error& error);  // Conflict -> 409 couch envelope, ...
  static net::Response unauthorized();
  Result<UserCtx> authenticate(const net::Request& request);
  // A route handler that authenticates the request on the emulator's thread, answers 401
  // (or the error's envelope) when that fails, and otherwise answers with `fn`.
  using AuthenticatedFn = std::function<net::Response(const UserCtx&, const net::Request&)>;
  net::Handler authenticated(AuthenticatedFn fn);
  bool hasAll(const UserCtx& user, std::initializer_list<const char*> permissions);
  bool hasAny(const UserCtx& user, std::initializer_list<const char*> permissions);
  Result<OrderedJson> settings();
  std::string newContactId();
  int64_t nowMs() const { return toUnixMillis(clock_.now()); }
  // Writes to medic then runs the Sentinel pass for it.
  Result<Written> saveMedic(OrderedJson doc);
  void afterWrite();  // wakes longpoll waiters

  // --- CouchDB API (couch_api.cc) ---
  void addCouchRoutes(net::Router& router);
  net::Response getDoc(const UserCtx& user, const std::string& db, const std::string& id,
                       const net::Request& request);
  net::Response putDoc(const UserCtx& user, const std::string& db, const std::string& id,
                       const net::Request& request);
  net::Response deleteDoc(const UserCtx& user, const std::string& db, const std::string& id,
                          const net::Request& request);
  net::Response postDoc(const UserCtx& user, const std::string& db, const net::Request& request);
  net::Response bulkDocs(const UserCtx& user, const std::string& db, const net::Request& request);
  net::Response allDocs(const UserCtx& user, const std::string& db, const net::Request& request);
  net::Response find(const UserCtx& user, const std::string& db, const net::Request& request);
  // Answers now, or parks a longpoll waiter.
  void changes(const UserCtx& user, const std::string& db, const net::Request& request,
               net::Reply reply);
  OrderedJson changesBody(const std::vector<StoredDoc>& docs, bool include_docs, int64_t last_seq);
  // changesBody as a response: one JSON object, or for feed=continuous one line per change
  // and a final {"last_seq"} line.
  net::Response changesResponse(const std::vector<StoredDoc>& docs, bool include_docs,
                                int64_t last_seq, bool continuous);
  void answerWaiters(bool timeouts_only);

  // --- CHT API (cht_api.cc) ---
  void addApiRoutes(net::Router& router);
  net::Response getSettings(const UserCtx& user);
  net::Response putSettings(const UserCtx& user, const net::Request& request);
  net::Response putCredential(const UserCtx& user, const std::string& key,
                              const net::Request& request);
  net::Response createPerson(const UserCtx& user, const net::Request& request);
  net::Response createPlace(const UserCtx& user, const net::Request& request);
  net::Response createRecord(const UserCtx& user, const net::Request& request);
  net::Response createUsers(const UserCtx& user, const net::Request& request, bool v2);
  net::Response listUsers(const UserCtx& user);
  net::Response getPerson(const UserCtx& user, const std::string& id, const net::Request& request);
  net::Response hydrateDocs(const UserCtx& user, const net::Request& request);
  net::Response monitoring(const UserCtx& user);
  // Place creation shared by places, people and users (2.3): the new or existing place id.
  Result<std::string> resolvePlace(const OrderedJson& place);
  Result<Written> createPersonDoc(OrderedJson person);

  // --- Sentinel (sentinel.cc) ---
  void sentinelPass(const std::string& id);
  void runScheduler();
  // Documents already read during one request, by id (nullopt: missing or deleted).
  using HydrateMemo = std::map<std::string, std::optional<OrderedJson>>;
  Result<OrderedJson> hydrate(const OrderedJson& doc, HydrateMemo* memo = nullptr);
  // API creates <id>-info on a document's first write (cht.md 1.8); one read and at most one
  // write for all of `ids`.
  void ensureInfoDocs(const std::vector<std::string>& ids);
  Result<OrderedJson> minify(const OrderedJson& doc);
  Result<OrderedJson> loadInfo(const std::string& id);
  // mark_for_outbound for one config; true = delivered or duplicate.
  Result<bool> pushOne(const outbound::PushConfig& config, const OrderedJson& hydrated,
                       OrderedJson& info);
  Result<std::optional<std::string>> get(std::string_view key) override;  // credentials

  // Runs `fn` on the emulator thread.
  void post(std::function<void()> fn);

  store::Database& database_;
  script::Engine& engine_;
  net::HttpClient& http_;
  OffsetClock clock_;
  Random& random_;
  const ChtSimOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  DocStore docs_;
  std::string id_prefix_;
  uint64_t id_counter_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<Waiter> waiters_;  // emulator thread only
  bool draining_ = false;        // emulator thread only: no new waiters
  // Parsed app_settings and the DocStore::settingsVersion() they were read at (emulator
  // thread only): every request checks permissions against them.
  std::optional<OrderedJson> settings_cache_;
  uint64_t settings_cache_version_ = 0;
  TimePoint next_schedule_;  // emulator thread only
  std::thread worker_;
  std::thread ticker_;
};

}  // namespace chtlink::cht::emulator
