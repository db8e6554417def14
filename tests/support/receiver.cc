#include "receiver.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace chtlink::testing {

Receiver::Receiver(uint16_t listen_port) {
  net::Router router;
  router.add("*", "/{path...}", [this](net::Request request, net::Reply reply) {
    int status = status_.load();
    std::string job(request.headers.get("X-Chtlink-Job-Id"));
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    int limit = ack_limit_.load();
    if (status >= 200 && status < 300 && limit >= 0 && acknowledged_total_ >= limit) {
      status = kHold;
    }
    if (status == kHold) {
      held_.push_back(reply);
      return;
    }
    if (status >= 200 && status < 300) {
      ++acknowledged_[job];
      ++acknowledged_total_;
    }
    reply(net::Response::json(status, {{"received", job}}));
  });
  net::ServerOptions options;
  options.name = "receiver";
  options.port = listen_port;
  options.request_timeout = std::chrono::minutes(5);
  auto log =
      std::make_shared<spdlog::logger>("receiver", std::make_shared<spdlog::sinks::null_sink_mt>());
  server_ = std::make_unique<net::Server>(loop_, options, std::move(router), log);
  auto port = server_->listen();
  if (!port.has_value()) throw std::runtime_error(port.error().message);
  port_ = *port;
  loop_.start();
}

Receiver::~Receiver() {
  loop_.stop();
  loop_.join();
  std::lock_guard lock(mu_);
  held_.clear();
}

std::string Receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

size_t Receiver::received() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

std::map<std::string, int> Receiver::acknowledged() const {
  std::lock_guard lock(mu_);
  return acknowledged_;
}

size_t Receiver::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

std::vector<net::Request> Receiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

}  // namespace chtlink::testing
