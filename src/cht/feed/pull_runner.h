// PullRunner: pull mode as a background service of `chtlink serve`. One thread reads pages
// with PullFollower until it is caught up, then waits for CHT's next change with a longpoll
// request, and so on. An unreachable or failing CHT is retried with backoff (1 s doubling to
// 60 s), logged once per distinct error; the checkpoint stays where it was.
//
// stop() is prompt: the longpoll wait is an asynchronous request the thread stops waiting
// for; only a page in progress (one bounded read, hydrate and transaction) is finished.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "cht/client/cht_client.h"
#include "cht/feed/pull_follower.h"

namespace spdlog {
class logger;
}

namespace chtlink::cht::feed {

class PullRunner {
 public:
  // `on_enqueued` runs on the runner's thread after a page that enqueued jobs committed (the
  // composition root wakes the queue's workers with it). `follower` and `cht` must outlive the
  // runner.
  PullRunner(PullFollower& follower, ChtClient& cht, std::chrono::milliseconds longpoll,
             std::function<void()> on_enqueued, std::shared_ptr<spdlog::logger> logger);
  ~PullRunner();
  PullRunner(const PullRunner&) = delete;
  PullRunner& operator=(const PullRunner&) = delete;

  void start();
  void stop();

 private:
  struct State;
  void run();
  // Waits for a change after `since` (or stop). False when stopping.
  bool waitForChange(const std::string& since);
  // Sleeps `delay` unless stopped first. False when stopping.
  bool pause(std::chrono::milliseconds delay);

  PullFollower& follower_;
  ChtClient& cht_;
  std::chrono::milliseconds longpoll_;
  std::function<void()> on_enqueued_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::cht::feed
