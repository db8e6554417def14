#include "him/polling.h"

#include <spdlog/spdlog.h>

#include "him/schedule.h"

namespace chtlink::him {

PollingScheduler::PollingScheduler(const RoutingTable& table, ChannelRouter& router,
                                   const Clock& clock, std::shared_ptr<spdlog::logger> log)
    : table_(table), router_(router), clock_(clock), log_(std::move(log)) {}

PollingScheduler::~PollingScheduler() { stop(); }

void PollingScheduler::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void PollingScheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PollingScheduler::run() {
  // Next due time per channel id. An interval channel first polls one interval after it
  // appears, a cron channel at its next matching time.
  std::map<std::string, TimePoint> due;
  std::map<std::string, TimePoint> last_run;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto state = table_.get();
    TimePoint now = clock_.now();
    std::map<std::string, TimePoint> next_due;
    for (const Channel& c : state->channels) {
      if (c.type != "polling" || !c.enabled) continue;
      auto schedule = PollingSchedule::parse(c.polling_schedule);
      if (!schedule.has_value()) continue;
      auto it = due.find(c.id);
      std::optional<TimePoint> when =
          it == due.end() ? schedule->next(now) : std::optional<TimePoint>(it->second);
      if (when && *when <= now) {
        auto previous = last_run.find(c.id);
        lock.unlock();
        if (auto s =
                router_.poll(c.id, previous == last_run.end() ? TimePoint() : previous->second);
            !s.has_value() && log_) {
          log_->warn("polling channel '{}': {}", c.name, s.error().message);
        }
        lock.lock();
        last_run[c.id] = now;
        when = schedule->next(now);
      }
      if (when) next_due[c.id] = *when;
    }
    due = std::move(next_due);
    // Wake at least every 200 ms to pick up channel changes; sooner when a poll is due.
    auto wait = std::chrono::milliseconds(200);
    for (const auto& [id, when] : due) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
      if (until < wait) wait = std::max(until, std::chrono::milliseconds(1));
    }
    wake_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

}  // namespace chtlink::him
