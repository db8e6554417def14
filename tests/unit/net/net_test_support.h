// Helpers for the net tests: a raw POSIX client for byte-level requests, a log sink that
// keeps lines, a self-signed certificate maker, and a fixture running a Server on port 0.
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/router.h"
#include "net/server.h"
#include "temp_dir.h"

namespace chtlink::net::testing {

using namespace std::chrono_literals;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking TCP client to 127.0.0.1 that sends exactly the bytes a test gives it.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Closes our side, as a client does after an answer with Connection: close.
  void close();
  bool send(std::string_view data);
  // One response (status line, headers, Content-Length body), or nullopt when the connection
  // closes or `deadline` passes first.
  std::optional<RawResponse> readResponse(std::chrono::milliseconds deadline = 5s);
  // True when the server closes the connection within `deadline`; bytes still arriving
  // before the close are collected in `leftover`.
  bool waitClosed(std::chrono::milliseconds deadline = 5s, std::string* leftover = nullptr);

 private:
  // Reads more bytes into buffer_; false on close, error or deadline.
  bool readMore(std::chrono::steady_clock::time_point until);

  int fd_ = -1;
  std::string buffer_;
};

// A scripted TCP server on 127.0.0.1 port 0, for client tests that need misbehaving servers.
// One thread accepts connections and runs `script` on each in turn (index counts from 0);
// the connection is closed when the script returns.
class RawServer {
 public:
  using Script = std::function<void(int fd, int index)>;
  explicit RawServer(Script script);
  ~RawServer();
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

  // Helpers for scripts: reads up to the end of a request head ("" on close or after 5 s),
  // and writes all of `bytes`.
  static std::string readHead(int fd);
  static void writeAll(int fd, std::string_view bytes);

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Keeps every formatted log payload, for assertions on the access log.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

struct CertFiles {
  std::string certificate_file;
  std::string private_key_file;
};

// A self-signed EC certificate valid for `subject_alt_names` ("IP:127.0.0.1,DNS:localhost"),
// written as PEM files into `dir`.
CertFiles makeSelfSignedCertificate(const chtlink::testing::TempDir& dir,
                                    const std::string& subject_alt_names,
                                    const std::string& prefix = "server");

// An EventLoop with a Server on 127.0.0.1 port 0 and a capturing access log.
class ServerHarness {
 public:
  explicit ServerHarness(int threads = 2);
  ~ServerHarness();

  // Listens and starts the loop; returns false (with `error` set) when listen() fails.
  bool start(Router router, ServerOptions options = {},
             std::function<void(const RequestRecord&)> observer = {});
  Server& server() { return *server_; }
  uint16_t port() const { return port_; }
  EventLoop& loop() { return loop_; }
  std::string url(std::string_view path) const;
  std::vector<std::string> logLines() { return sink_->lines(); }
  std::string error;

  static ServerOptions fastOptions();  // small timeouts for tests

 private:
  EventLoop loop_;
  std::shared_ptr<CaptureSink> sink_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::string scheme_ = "http";
};

}  // namespace chtlink::net::testing
