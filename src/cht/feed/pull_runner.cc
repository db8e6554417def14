#include "cht/feed/pull_runner.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace chtlink::cht::feed {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{1'000};
constexpr std::chrono::milliseconds kMaxBackoff{60'000};

}  // namespace

const char* pullRoleName(PullRole role) { return role == PullRole::Leader ? "leader" : "standby"; }

// Shared with the longpoll callbacks, which may run after the runner is gone.
struct PullRunner::State {
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  uint64_t probe = 0;          // id of the longpoll request waited for
  bool probe_done = false;     // its answer arrived
  std::optional<Error> error;  // and it was this error
  std::thread thread;
};

PullRunner::PullRunner(PullFollower& follower, ChtClient& cht, std::chrono::milliseconds longpoll,
                       std::function<void()> on_enqueued, std::shared_ptr<spdlog::logger> logger,
                       store::Database* database, PullLeadership leadership)
    : follower_(follower),
      cht_(cht),
      longpoll_(longpoll),
      on_enqueued_(std::move(on_enqueued)),
      logger_(std::move(logger)),
      database_(database),
      leadership_(std::move(leadership)),
      state_(std::make_shared<State>()) {}

PullRunner::~PullRunner() { stop(); }

void PullRunner::start() {
  std::lock_guard lock(state_->mu);
  if (state_->thread.joinable() || state_->stopping) return;
  state_->thread = std::thread([this] { run(); });
}

void PullRunner::stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
  }
  state_->cv.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

bool PullRunner::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(state_->mu);
  return !state_->cv.wait_for(lock, delay, [&] { return state_->stopping; });
}

bool PullRunner::waitForChange(const std::string& since) {
  uint64_t probe = 0;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) return false;
    probe = ++state_->probe;
    state_->probe_done = false;
    state_->error.reset();
  }
  ChangesQuery query;
  query.since = since;
  query.limit = 1;
  query.include_docs = false;
  query.longpoll = longpoll_;
  cht_.changesAsync(query, [state = state_, probe](Result<ChangesPage> page) {
    std::lock_guard lock(state->mu);
    if (state->probe != probe) return;
    state->probe_done = true;
    if (!page) state->error = page.error();
    state->cv.notify_all();
  });
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->stopping || state_->probe_done; });
  if (state_->stopping) return false;
  if (state_->error) {
    Error error = *state_->error;
    lock.unlock();
    if (logger_) logger_->warn("pull: waiting for CHT changes failed: {}", error.message);
    return pause(kFirstBackoff);
  }
  return true;
}

void PullRunner::setRole(PullRole role) {
  if (role_ == role) return;
  role_ = role;
  if (leadership_.on_role) leadership_.on_role(role);
}

bool PullRunner::lead(std::unique_ptr<store::AdvisoryLock>& lock, std::string& last_error) {
  const std::string feed = cht_.baseUrl() + "/medic/_changes";
  if (leadership_.lock_name.empty() || database_ == nullptr) {
    if (!role_ && logger_) logger_->info("pull: following {}", feed);
    setRole(PullRole::Leader);
    return true;
  }
  if (lock) {
    Status held = lock->check();
    if (held.has_value()) return true;
    // Stop before the next page: another process may be the leader already.
    lock.reset();
    if (logger_) {
      logger_->warn("pull: no longer the leader for {}: {}; standby, trying again every {} ms",
                    feed, held.error().message, leadership_.retry.count());
    }
    setRole(PullRole::Standby);
    return false;
  }
  auto taken = database_->tryAdvisoryLock(leadership_.lock_name);
  if (!taken.has_value()) {
    if (logger_ && taken.error().message != last_error) {
      logger_->warn("pull: cannot take the leader lock \"{}\": {} (trying again every {} ms)",
                    leadership_.lock_name, taken.error().message, leadership_.retry.count());
    }
    last_error = taken.error().message;
    if (role_ != PullRole::Standby && logger_) logger_->info("pull: standby for {}", feed);
    setRole(PullRole::Standby);
    return false;
  }
  last_error.clear();
  if (*taken == nullptr) {
    if (role_ != PullRole::Standby && logger_) {
      logger_->info(
          "standby: another instance follows {} (holds the lock \"{}\"); trying again every "
          "{} ms",
          feed, leadership_.lock_name, leadership_.retry.count());
    }
    setRole(PullRole::Standby);
    return false;
  }
  lock = std::move(*taken);
  // What a previous spell as leader cached may be stale: another process followed meanwhile.
  follower_.forgetCached();
  if (logger_) {
    logger_->info("following {} as leader (lock \"{}\"; from the stored checkpoint)", feed,
                  leadership_.lock_name);
  }
  setRole(PullRole::Leader);
  return true;
}

void PullRunner::run() {
  auto backoff = kFirstBackoff;
  std::string last_error;
  std::string lock_error;
  std::unique_ptr<store::AdvisoryLock> leader_lock;  // released when run() returns
  size_t pulled = 0;
  for (;;) {
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopping) return;
    }
    if (!lead(leader_lock, lock_error)) {
      pulled = 0;
      if (!pause(leadership_.retry)) return;
      continue;
    }
    auto page = follower_.pollOnce(false);
    if (!page) {
      // One line per distinct problem, not one per retry.
      if (logger_ && page.error().message != last_error) {
        logger_->warn("pull: {} (retrying, up to every {} s)", page.error().message,
                      kMaxBackoff.count() / 1000);
      }
      last_error = page.error().message;
      if (!pause(backoff)) return;
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    if (!last_error.empty() && logger_) logger_->info("pull: CHT reachable again");
    last_error.clear();
    backoff = kFirstBackoff;
    if (page->enqueued > 0 && on_enqueued_) on_enqueued_();
    pulled += page->changes;
    if (page->changes > 0) continue;
    if (pulled > 0 && logger_) {
      logger_->info("pull: caught up at {} ({} changes read)", page->last_seq, pulled);
      pulled = 0;
    }
    if (!waitForChange(page->last_seq)) return;
  }
}

}  // namespace chtlink::cht::feed
