#include "serve_process.h"

#include <stdexcept>

namespace chtlink::testing {

ServeProcess::ServeProcess(const TempDir& dir, std::vector<std::string> sets,
                           std::vector<std::string> extra_args)
    : dir_(dir) {
  static int counter = 0;
  std::string port_file = dir.file("port-" + std::to_string(++counter));
  std::vector<std::string> argv = {
      CHTLINK_BINARY, "serve", "--port-file", port_file, "--set", "server.port=0", "--set",
      "him.api_port=0", "--set", "him.data_dir=" + dir.path().string(), "--set", "fhir.port=0",
      "--set", "mediator.port=0", "--set", "store.url=" + databaseUrl(),
      // Tests own their channels; e2e tests turn this back on.
      "--set", "sandbox.seed=false", "--set", "cht_sim.port=0"};
  for (const auto& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  for (const auto& a : extra_args) argv.push_back(a);
  process_ = std::make_unique<ChildProcess>(argv, dir.path().string());
  ports_ = readPortFile(port_file);
  if (ports_.empty()) {
    throw std::runtime_error("chtlink serve did not report a port; output:\n" + process_->output());
  }
}

uint16_t ServeProcess::port(const std::string& name) const {
  auto it = ports_.find(name);
  return it == ports_.end() ? 0 : it->second;
}

std::string ServeProcess::url(const std::string& path, const std::string& listener) const {
  return "http://127.0.0.1:" + std::to_string(port(listener)) + path;
}

std::string ServeProcess::databaseUrl() const { return "sqlite:" + dir_.file("chtlink.db"); }

TestClient::TestClient() : client_(net::makeBeastHttpClient(loop_, {})) { loop_.start(); }

TestClient::~TestClient() {
  client_.reset();
  loop_.stop();
  loop_.join();
}

Result<net::ClientResponse> TestClient::get(const std::string& url, net::Headers headers) {
  net::ClientRequest r;
  r.url = url;
  r.headers = std::move(headers);
  return client_->sendSync(std::move(r));
}

Result<net::ClientResponse> TestClient::send(net::ClientRequest request) {
  return client_->sendSync(std::move(request));
}

}  // namespace chtlink::testing
