// PullRunner: pull mode as a background service of `chtlink serve`. One thread reads pages
// with PullFollower until it is caught up, then waits for CHT's next change with a longpoll
// request, and so on. An unreachable or failing CHT is retried with backoff (1 s doubling to
// 60 s), logged once per distinct error; the checkpoint stays where it was.
//
// Several processes sharing one database follow one feed from one process at a time: the
// runner is a standby until it holds the advisory lock named leadership.lock_name
// (store::Database::tryAdvisoryLock; PostgreSQL releases it when the holder dies), tries
// again every leadership.retry, checks the lock before each page and goes back to standby at
// once when it was lost. A new leader resumes from the stored checkpoint; the page
// transaction also locks the checkpoint (PullFollower), so two processes that both believe
// they lead for a moment still cannot enqueue one page twice.
//
// stop() is prompt: the longpoll wait is an asynchronous request the thread stops waiting
// for; only a page in progress (one bounded read, hydrate and transaction) is finished.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cht/client/cht_client.h"
#include "cht/feed/pull_follower.h"

namespace spdlog {
class logger;
}

namespace chtlink::cht::feed {

enum class PullRole { Standby, Leader };
// "standby" / "leader" (a string literal).
const char* pullRoleName(PullRole role);

struct PullLeadership {
  // The advisory lock whose holder follows the feed; empty: no lock (a single process).
  std::string lock_name;
  // How often a standby tries to take the lock.
  std::chrono::milliseconds retry{5'000};
  // Runs on the runner's thread at each change of role (the first one included).
  std::function<void(PullRole)> on_role;
};

class PullRunner {
 public:
  // `on_enqueued` runs on the runner's thread after a page that enqueued jobs committed (the
  // composition root wakes the queue's workers with it). `follower`, `cht` and `database`
  // (where the lock is taken; the follower's) must outlive the runner.
  PullRunner(PullFollower& follower, ChtClient& cht, std::chrono::milliseconds longpoll,
             std::function<void()> on_enqueued, std::shared_ptr<spdlog::logger> logger,
             store::Database* database = nullptr, PullLeadership leadership = {});
  ~PullRunner();
  PullRunner(const PullRunner&) = delete;
  PullRunner& operator=(const PullRunner&) = delete;

  void start();
  void stop();

 private:
  struct State;
  void run();
  // Takes or keeps the lock. False when this process is not (or no longer) the leader.
  bool lead(std::unique_ptr<store::AdvisoryLock>& lock, std::string& last_error);
  void setRole(PullRole role);
  // Waits for a change after `since` (or stop). False when stopping.
  bool waitForChange(const std::string& since);
  // Sleeps `delay` unless stopped first. False when stopping.
  bool pause(std::chrono::milliseconds delay);

  PullFollower& follower_;
  ChtClient& cht_;
  std::chrono::milliseconds longpoll_;
  std::function<void()> on_enqueued_;
  std::shared_ptr<spdlog::logger> logger_;
  store::Database* database_;
  PullLeadership leadership_;
  std::optional<PullRole> role_;  // the runner's thread only
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::cht::feed
