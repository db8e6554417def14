// ChtService: the CHT side of `chtlink serve`, built from the [cht] and [cht_sim] sections.
//
// - Pull mode (cht.mode = "pull"): a PullRunner follows the CHT's changes feed and enqueues
//   one "http" delivery job per changed outbound payload, in the transaction that advances
//   the checkpoint (feed/pull_follower.h). Of several processes sharing the database, the
//   one holding the advisory lock "cht-pull:<cht.checkpoint>" follows; the others stand by
//   and take over when it dies (feed/pull_runner.h).
// - cht-sim (cht_sim.enabled): the CHT emulator in serve's store, its router served on a
//   listener of its own. Its Sentinel keeps CHT's push semantics (a synchronous attempt,
//   task:outbound:<id> docs, the scheduler of cht.md 3.5) rather than the queue's: the
//   emulator's job is to behave like CHT, and CHT's retries map the *current* document and
//   dedupe against completed_tasks, which a queued request with a fixed body cannot do.
//   Backoff, retry limits and dead letters are what pull mode adds over CHT; point pull mode
//   at cht-sim to get them.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "base/clock.h"
#include "base/random.h"
#include "base/result.h"
#include "cht/options.h"
#include "net/client.h"
#include "net/router.h"
#include "queue/queue.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::script {
class Platform;
}

namespace chtlink::cht {

class ChtService {
 public:
  // The tables of pull mode and cht-sim, created whether or not they are switched on.
  static Status migrate(store::Database& database);
  // Whether `options` need JavaScript (a script::Platform for create()).
  static bool needsScript(const ChtOptions& cht, const ChtSimServeOptions& sim);

  struct Deps {
    store::Database& database;
    net::HttpClient& http;
    const Clock& clock;
    script::Platform* platform;  // required when needsScript()
    queue::QueueOptions queue;
    // Wakes the queue's workers after pull mode enqueued jobs.
    std::function<void()> notify_queue;
    std::shared_ptr<spdlog::logger> logger;
    // Pull mode's role among the processes sharing the database, at each change: "leader"
    // (follows the feed) or "standby" (a string literal). Runs on the pull thread.
    std::function<void(const char* role)> on_pull_role;
  };
  // Reads settings_file and credentials_file (errors name the file) and builds the parts
  // that are switched on. `router_url` is where seeded cht-sim configs push when
  // cht_sim.router_url is empty. Nothing runs before start().
  static Result<std::unique_ptr<ChtService>> create(Deps deps, const ChtOptions& cht,
                                                    const ChtSimServeOptions& sim,
                                                    const std::string& router_url);
  ~ChtService();

  // cht-sim's routes, once (nullopt when cht-sim is off).
  std::optional<net::Router> takeSimRouter();
  // Starts pull mode.
  void start();
  // On SIGTERM: answers cht-sim's waiting longpolls so its listener drains at once.
  void beginShutdown();
  // Stops pull mode (after the page in progress) and cht-sim.
  void stop();

 private:
  struct Parts;
  explicit ChtService(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace chtlink::cht
