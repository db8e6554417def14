// PollingScheduler: calls polling channels (type "polling") on their pollingSchedule.
//
// Each due channel is sent through the router without client authentication, as OpenHIM's
// polling does: GET /trigger (the routes' path or pathTransform apply) with the header
// X-OpenHIM-LastRunAt, recorded as a transaction like any other call. Schedules are
// OpenHIM's human intervals ("10 seconds", "5 minutes", "1 hour", "2 days") or cron
// expressions (schedule.h); a schedule that is neither is refused by the API.
//
// Thread-safety: start() and stop() from one thread; the scheduler has one thread of its
// own that only waits and hands calls to the router (which never blocks).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "him/channel_router.h"
#include "him/routing_table.h"

namespace spdlog {
class logger;
}

namespace chtlink::him {

class PollingScheduler {
 public:
  PollingScheduler(const RoutingTable& table, ChannelRouter& router, const Clock& clock,
                   std::shared_ptr<spdlog::logger> log);
  ~PollingScheduler();
  PollingScheduler(const PollingScheduler&) = delete;
  PollingScheduler& operator=(const PollingScheduler&) = delete;

  void start();
  void stop();

 private:
  void run();

  const RoutingTable& table_;
  ChannelRouter& router_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chtlink::him
