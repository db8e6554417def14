// PullFollower: pull mode (cht.mode = "pull"). Follows medic/_changes of a real or emulated
// CHT from a stored checkpoint, hydrates each changed document, evaluates the app_settings
// outbound rules with the same engine as CHT's Sentinel (cht/outbound), and for each payload
// that differs from the last one sent for that (document, config) enqueues an "http" delivery
// job — in the same database transaction that advances the checkpoint, so a crash either
// redoes the whole page or none of it: nothing lost, nothing sent twice.
//
// Unlike CHT: delivery retries with backoff up to a limit and then dead-letters (the queue's
// rules; `chtlink jobs list/replay`), there are no 5-minute stalls, and a mapping error is
// recorded (chtpull_errors) and logged with config, key and document instead of retried
// forever.
//
// pollOnce() blocks: call it from a worker thread or a CLI command, never an I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "cht/client/cht_client.h"
#include "cht/outbound/request.h"
#include "queue/queue.h"
#include "script/engine.h"
#include "store/database.h"
#include "store/migrations.h"

namespace spdlog {
class logger;
}

namespace chtlink::cht::feed {

inline constexpr std::string_view kDefaultCheckpoint = "cht.pull";

struct PullOptions {
  std::string checkpoint = std::string(kDefaultCheckpoint);  // name of the stored checkpoint
  int batch = 500;                                           // changes per page
  std::chrono::milliseconds longpoll{30'000};
  int max_attempts = 0;  // per delivery job; 0 = the queue's default
  // The app_settings whose outbound rules apply (cht.settings_file). Absent: read from CHT
  // (GET /api/v1/settings) on the first page and again after the feed shows a change of the
  // `settings` doc, which is where CHT keeps them.
  std::optional<OrderedJson> app_settings;
  // Read the next page from CHT while the current one is evaluated and written.
  bool read_ahead = true;
};

struct PageResult {
  size_t changes = 0;   // changes read
  size_t enqueued = 0;  // delivery jobs written
  size_t skipped = 0;   // payloads equal to the last one sent (dedupe hash)
  size_t errors = 0;    // mapping / credential errors recorded
  std::string last_seq;
};

class PullFollower {
 public:
  PullFollower(store::Database& database, ChtClient& cht, script::Engine& engine,
               outbound::CredentialStore& credentials, const Clock& clock,
               queue::QueueOptions queue_options, PullOptions options,
               std::shared_ptr<spdlog::logger> logger);
  ~PullFollower();
  PullFollower(const PullFollower&) = delete;
  PullFollower& operator=(const PullFollower&) = delete;

  // Tables of module "chtpull": checkpoints, last sent hash per (doc, config), errors.
  static std::span<const store::Migration> migrations();

  // Reads one page of changes after the checkpoint (waiting up to options.longpoll for one
  // when `longpoll`) and processes it. An unreachable CHT is an error; the checkpoint then
  // stays where it was.
  Result<PageResult> pollOnce(bool longpoll);

  // The stored checkpoint ("0" when none).
  Result<std::string> checkpoint();
  // Moves the checkpoint (backfill --since).
  Status setCheckpoint(const std::string& seq);

  // Drops what was cached from CHT (app_settings read from it, the page read ahead): for a
  // follower that starts following again after another process followed the feed.
  void forgetCached();

 private:
  struct Fetched {
    ChangesPage page;
    std::map<std::string, std::string> revs;  // id -> rev of the changes to evaluate
    bool settings_changed = false;
    std::vector<HydratedDoc> docs;
  };
  Result<Fetched> fetchPage(const std::string& since, bool longpoll);

  store::Database& database_;
  ChtClient& cht_;
  script::Engine& engine_;
  outbound::CredentialStore& credentials_;
  const Clock& clock_;
  queue::QueueOptions queue_options_;
  PullOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  std::optional<outbound::OutboundSettings> settings_;  // cached; pollOnce's thread only
  std::future<Result<Fetched>> prefetch_;               // the page after prefetch_since_
  std::string prefetch_since_;
};

}  // namespace chtlink::cht::feed
