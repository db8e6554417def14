#include "cht_sim_process.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

namespace chtlink::testing {

ChtSimProcess::ChtSimProcess(const TempDir& dir, const std::string& router_url,
                             const std::vector<std::string>& extra_args, uint16_t port) {
  const std::string port_file = dir.file("sim.port");
  std::remove(port_file.c_str());  // a restart must not read the last run's port
  std::vector<std::string> args{
      CHTLINK_BINARY, "cht-sim", "--port",       std::to_string(port),
      "--port-file",  port_file, "--store",      "sqlite:" + dir.file("sim.db"),
      "--seed",       "ltfu",    "--router-url", router_url};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(args, dir.path().string());
  auto ports = readPortFile(port_file);
  port_ = ports.count("cht-sim") ? ports["cht-sim"] : 0;
}

std::string ChtSimProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

net::ClientResponse sendAsChtAdmin(TestClient& client, const std::string& method,
                                   const std::string& url, const std::string& body,
                                   std::chrono::seconds timeout) {
  net::ClientRequest request;
  request.method = method;
  request.url = url;
  request.body = body;
  request.headers.set("content-type", "application/json");
  request.auth = net::BasicAuth{"medic", "password"};
  request.timeout = timeout;
  auto answer = client.send(std::move(request));
  EXPECT_TRUE(answer.has_value()) << answer.error().message;
  return answer.has_value() ? *answer : net::ClientResponse{};
}

}  // namespace chtlink::testing
