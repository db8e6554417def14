#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "wait_until.h"

extern char** environ;

namespace chtlink::testing {
namespace {

std::atomic<int> g_counter{0};  // distinct output files per process within one test binary

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& output_dir,
                           std::vector<std::string> env_extra) {
  output_file_ = output_dir + "/process-" + std::to_string(getpid()) + "-" +
                 std::to_string(g_counter.fetch_add(1)) + ".log";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (auto& e : env_extra) env.push_back(std::move(e));
  std::vector<char*> argv_c, env_c;
  for (auto& a : argv) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  for (auto& e : env) env_c.push_back(e.data());
  env_c.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  int rc = posix_spawn(&pid_, argv_c[0], &actions, nullptr, argv_c.data(), env_c.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

void ChildProcess::signal(int sig) {
  if (!exit_code_) ::kill(pid_, sig);
}

bool ChildProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return r == 0;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds deadline) {
  waitUntil([&] { return !running(); }, deadline);
  return exit_code_;
}

std::string ChildProcess::output() const {
  std::ifstream in(output_file_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunResult runCommand(std::vector<std::string> argv, const std::string& output_dir,
                     std::vector<std::string> env_extra) {
  ChildProcess p(std::move(argv), output_dir, std::move(env_extra));
  auto code = p.wait(std::chrono::seconds(60));
  return {code.value_or(-1), p.output()};
}

std::map<std::string, uint16_t> readPortFile(const std::string& path,
                                             std::chrono::milliseconds deadline) {
  std::map<std::string, uint16_t> ports;
  waitUntil(
      [&] {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
          auto eq = line.find('=');
          if (eq == std::string::npos) continue;
          ports[line.substr(0, eq)] = static_cast<uint16_t>(std::stoi(line.substr(eq + 1)));
        }
        return !ports.empty();
      },
      deadline);
  return ports;
}

}  // namespace chtlink::testing
