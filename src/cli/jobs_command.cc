// `chtlink jobs ...`: operator access to the durable queue (list, replay, delete).
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <iostream>

#include "base/clock.h"
#include "base/json.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cli {
namespace {

std::string formatTime(TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Opens the configured database and brings its schema up to date; prints errors.
std::unique_ptr<store::Database> openStore(const config::Config& config) {
  auto log =
      std::make_shared<spdlog::logger>("chtlink", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto db = store::openDatabase(config.store, log);
  if (!db.has_value()) {
    std::cerr << "chtlink: " << db.error().message << "\n";
    return nullptr;
  }
  if (Status s = store::migrate(**db, queue::migrations()); !s.has_value()) {
    std::cerr << "chtlink: " << s.error().message << "\n";
    return nullptr;
  }
  return std::move(db).value();
}

Json jobJson(const queue::Job& job) {
  return {{"id", job.id},
          {"state", queue::jobStateName(job.state)},
          {"kind", job.kind},
          {"destination", job.destination},
          {"attempts", job.attempts},
          {"max_attempts", job.max_attempts},
          {"run_at", formatTime(job.run_at)},
          {"created_at", formatTime(job.created_at)},
          {"last_error", job.last_error}};
}

// Loads the configuration, opens the store and runs `command` with a JobStore on it.
int withJobStore(const ConfigArgs& args, const std::function<int(queue::JobStore&)>& command) {
  auto config = loadConfigOrReport(args);
  if (!config) return kExitUsage;
  auto db = openStore(*config);
  if (!db) return kExitFailure;
  SystemClock clock;
  queue::JobStore jobs(*db, clock);
  return command(jobs);
}

int reportError(const Error& error) {
  std::cerr << "chtlink: " << error.message << "\n";
  return kExitFailure;
}

}  // namespace

int jobsListCommand(const JobsListArgs& args) {
  return withJobStore(args.config, [&](queue::JobStore& jobs) {
    queue::JobFilter filter;
    if (!args.state.empty()) filter.state = queue::parseJobState(args.state);
    if (!args.kind.empty()) filter.kind = args.kind;
    filter.limit = args.limit;
    auto listed = jobs.list(filter);
    if (!listed.has_value()) return reportError(listed.error());
    if (args.json) {
      for (const auto& job : *listed) std::cout << dumpJson(jobJson(job)) << "\n";
      return kExitOk;
    }
    std::cout << fmt::format("{:>8}  {:<8}  {:<12}  {:<24}  {:>8}  {:<20}  {}\n", "ID", "STATE",
                             "KIND", "DESTINATION", "ATTEMPTS", "NEXT RUN", "LAST ERROR");
    for (const auto& job : *listed) {
      std::cout << fmt::format("{:>8}  {:<8}  {:<12}  {:<24}  {:>8}  {:<20}  {}\n", job.id,
                               queue::jobStateName(job.state), job.kind, job.destination,
                               fmt::format("{}/{}", job.attempts, job.max_attempts),
                               formatTime(job.run_at), job.last_error);
    }
    if (listed->empty()) std::cout << "(no jobs)\n";
    return kExitOk;
  });
}

int jobsReplayCommand(const JobsReplayArgs& args) {
  return withJobStore(args.config, [&](queue::JobStore& jobs) {
    if (args.all_dead) {
      auto n = jobs.replayAllDead();
      if (!n.has_value()) return reportError(n.error());
      std::cout << "replayed " << *n << " dead job(s)\n";
      return kExitOk;
    }
    if (Status s = jobs.replay(*args.id); !s.has_value()) return reportError(s.error());
    std::cout << "job " << *args.id << " queued again\n";
    return kExitOk;
  });
}

int jobsDeleteCommand(const JobsDeleteArgs& args) {
  return withJobStore(args.config, [&](queue::JobStore& jobs) {
    if (Status s = jobs.remove(args.id); !s.has_value()) return reportError(s.error());
    std::cout << "job " << args.id << " deleted\n";
    return kExitOk;
  });
}

}  // namespace chtlink::cli
