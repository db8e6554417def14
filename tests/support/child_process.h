// ChildProcess: runs the real chtlink binary (or any program) for integration tests.
//
// Output goes to files in a directory the test owns, so a failing test can print it. The
// destructor kills a process still running (SIGKILL) and reaps it, so a failed assertion
// never leaves a server behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chtlink::testing {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; `env_extra` ("NAME=value") is added to this environment.
  ChildProcess(std::vector<std::string> argv, const std::string& output_dir,
               std::vector<std::string> env_extra = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit up to `deadline`; returns the exit code (128+signal when killed), or
  // nullopt when still running at the deadline.
  std::optional<int> wait(std::chrono::milliseconds deadline);
  bool running();
  std::string output() const;  // stdout and stderr so far

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string output_file_;
};

// Runs a command to completion (deadline 60 s) and returns {exit code, output}.
struct RunResult {
  int exit_code;
  std::string output;
};
RunResult runCommand(std::vector<std::string> argv, const std::string& output_dir,
                     std::vector<std::string> env_extra = {});

// Polls `path` (written by `chtlink serve --port-file`: one "name=port" line per listener)
// until it exists; returns the ports by name, empty on timeout.
std::map<std::string, uint16_t> readPortFile(
    const std::string& path, std::chrono::milliseconds deadline = std::chrono::seconds(20));

}  // namespace chtlink::testing
