#include "queue/job.h"

namespace chtlink::queue {

std::string_view jobStateName(JobState state) {
  switch (state) {
    case JobState::Pending:
      return "pending";
    case JobState::Running:
      return "running";
    case JobState::Done:
      return "done";
    case JobState::Dead:
      return "dead";
  }
  return "pending";
}

std::optional<JobState> parseJobState(std::string_view name) {
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Done, JobState::Dead}) {
    if (jobStateName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace chtlink::queue
