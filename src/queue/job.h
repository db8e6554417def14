// Jobs of the durable queue: work that must leave the process (HTTP deliveries, pushes to
// CHT, rest-hook notifications), stored in the same database as the change that caused it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace chtlink::queue {

// pending -> running (leased) -> done
//                  \-> pending (retry after backoff) -> ... -> dead (after max attempts)
// dead -> pending (replay)
enum class JobState { Pending, Running, Done, Dead };
std::string_view jobStateName(JobState state);
std::optional<JobState> parseJobState(std::string_view name);

struct JobSpec {
  std::string kind;                 // selects the handler ("http", "fhir.rest-hook", ...)
  std::string destination;          // concurrency is limited per destination (e.g. "host:port")
  std::string payload;              // JSON text, handler-specific
  int max_attempts = 0;             // 0 = the queue's default
  std::optional<TimePoint> run_at;  // not before; default now
};

struct Job {
  int64_t id = 0;
  std::string kind;
  std::string destination;
  std::string payload;
  JobState state = JobState::Pending;
  int attempts = 0;  // deliveries started so far
  int max_attempts = 0;
  TimePoint run_at;
  TimePoint created_at;
  TimePoint updated_at;
  std::string last_error;
  std::string lease_owner;
  std::optional<TimePoint> lease_expires_at;
};

}  // namespace chtlink::queue
