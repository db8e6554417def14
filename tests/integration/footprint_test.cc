// Footprint of `chtlink serve` in sandbox mode (the first README command): resident memory
// once start-up is done must stay under the 60 MB.
//
// Only optimised builds without sanitizers measure it (the release ctest pass): Debug code
// and AddressSanitizer's shadow memory make the figure meaningless, so there the file holds
// no test. The peak (VmHWM) is asserted, not the current VmRSS, so a transient start-up
// allocation that was freed again still counts. bench/run.sh prints the same figures.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "serve_process.h"
#include "temp_dir.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)

using namespace std::chrono_literals;

constexpr int64_t kIdleLimitKb = 60 * 1024;

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"), or nullopt.
std::optional<int64_t> statusKb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return std::nullopt;
}

TEST(Footprint, SandboxServeIdlesUnder60Mb) {
  TempDir dir;
  // The sandbox's defaults (admin API over HTTPS, access log on); only the ports are free ones.
  ServeProcess serve(dir, {"sandbox.mode=on", "sandbox.seed=true", "cht_sim.port=0"});
  TestClient client;
  // Start-up is over when the sandbox's own set-up is: the mediator channel answers.
  auto channel_ready = [&] {
    net::ClientRequest request;
    request.url = serve.url("/mediator/");
    request.auth = net::BasicAuth{"interop-client", "interop-password"};
    auto r = client.send(std::move(request));
    return r.has_value() && r->status == 200;
  };
  ASSERT_TRUE(waitUntil(channel_ready, 20s)) << serve.process().output();
  const pid_t pid = serve.process().pid();
  auto rss = statusKb(pid, "VmRSS");
  auto peak = statusKb(pid, "VmHWM");
  ASSERT_TRUE(rss.has_value() && peak.has_value());
  std::cout << "sandbox serve after start-up: VmRSS " << *rss / 1024.0 << " MB, VmHWM "
            << *peak / 1024.0 << " MB\n";
  EXPECT_LT(*peak, kIdleLimitKb);
}

#endif

}  // namespace
}  // namespace chtlink::testing
