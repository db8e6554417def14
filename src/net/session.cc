// One HTTP/1.1 connection: read a request, route it, answer, repeat while keep-alive holds.
//
// Everything a session does runs on its own strand (the executor of its socket), so its
// members need no lock. Handlers may answer from any thread: the Reply posts back to the
// strand, and a sequence number drops answers that arrive after the request timed out.
//
// One steady_timer serves every deadline (idle, read, request, write, linger). It is re-armed
// only when a new deadline is earlier than the pending expiry; when it fires early it re-arms
// for the remaining time. Keep-alive traffic thus costs about one timer operation per
// timeout period instead of several per request.
#include <fmt/format.h>
#include <spdlog/logger.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>
#include <type_traits>

#include "net/request_id.h"
#include "net/server_internal.h"

namespace chtlink::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// After a final answer with Connection: close, unread client bytes are drained for at most
// this long (or this many bytes) so closing does not reset the connection under the answer.
constexpr std::chrono::milliseconds kMaxLinger{2'000};
constexpr size_t kMaxLingerBytes = 256 * 1024;
// Bytes asked of the socket per read.
constexpr size_t kReadChunk = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kUnmatched = "unmatched";
constexpr std::string_view kUnknown = "-";
constexpr std::string_view kRequestIdHeader = "X-Request-Id";

using TlsStream = asio::ssl::stream<tcp::socket>;

template <typename Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Framing headers are the server's business; a handler setting them would corrupt the stream.
bool isFramingHeader(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding") ||
         equalsIgnoreCase(name, "connection");
}

// A field a handler sets must not smuggle CR/LF (response splitting) or other controls.
bool isSafeField(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c >= 0x7f || c == ':') return false;
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < ' ' && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool isHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// "/a/b?x=1" -> path "/a/b", query "x=1". An absolute-form target ("http://h/a?x") is
// reduced to its path; "*" (OPTIONS *) stays as is and matches no route.
void splitTarget(std::string_view target, std::string& path, std::string& query) {
  std::string_view t = target;
  if (!t.empty() && t.front() != '/' && t != "*") {
    size_t scheme_end = t.find("://");
    if (scheme_end != std::string_view::npos) {
      size_t start = t.find_first_of("/?", scheme_end + 3);
      t = start == std::string_view::npos ? std::string_view{} : t.substr(start);
    }
  }
  size_t q = t.find('?');
  std::string_view p = t.substr(0, q);
  path.assign(p.empty() ? std::string_view("/") : p);
  if (q == std::string_view::npos) {
    query.clear();
  } else {
    query.assign(t.substr(q + 1));
  }
}

template <typename Stream>
Stream makeStream(tcp::socket socket, ServerState& server) {
  if constexpr (kIsTls<Stream>) {
    return Stream(std::move(socket), *server.tls);
  } else {
    return socket;
  }
}

template <typename Stream>
class Session final : public SessionBase {
 public:
  Session(std::shared_ptr<ServerState> server, tcp::socket socket, bool refuse)
      : server_(std::move(server)),
        opts_(server_->options),
        stream_(makeStream<Stream>(std::move(socket), *server_)),
        executor_(stream_.get_executor()),
        timer_(executor_),
        ids_(server_->random.next64()),
        refuse_(refuse) {
    if (!refuse_) server_->open.fetch_add(1, std::memory_order_relaxed);
    error_code ec;
    auto endpoint = lowest().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string();
  }

  ~Session() override {
    if (!refuse_) server_->open.fetch_sub(1, std::memory_order_relaxed);
    server_->remove(this);
  }

  void start() {
    asio::dispatch(executor_, [self = shared()] {
      self->safely([&] {
        if constexpr (kIsTls<Stream>) {
          self->startHandshake();
        } else {
          self->afterHandshake();
        }
      });
    });
  }

  void beginShutdown() override {
    asio::dispatch(executor_, [self = shared()] {
      self->safely([&] {
        self->draining_ = true;
        // Nothing in flight: close now. Otherwise the answer carries Connection: close; a
        // connection already lingering after its last answer finishes on its own.
        if (self->phase_ == Phase::Handshake || self->phase_ == Phase::Idle) {
          self->closeNow();
        }
      });
    });
  }

  void forceClose() override {
    asio::dispatch(executor_, [self = shared()] { self->safely([&] { self->closeNow(); }); });
  }

 private:
  enum class Phase { Handshake, Idle, Reading, Handling, Writing, Closing, Closed };
  enum class Expiry { Close, ReadTimeout, RequestTimeout };

  std::shared_ptr<Session> shared() {
    return std::static_pointer_cast<Session>(shared_from_this());
  }

  tcp::socket& lowest() {
    if constexpr (kIsTls<Stream>) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // Every completion handler runs its body through here: nothing may escape into Asio.
  template <typename F>
  void safely(F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      logError("connection from {} failed: {}", remote_, e.what());
      closeNow();
    } catch (...) {
      logError("connection from {} failed: unknown exception", remote_);
      closeNow();
    }
  }

  template <typename... Args>
  void logError(fmt::format_string<Args...> format, Args&&... args) noexcept {
    const auto& log = server_->error_log ? server_->error_log : server_->access_log;
    if (!log) return;
    try {
      log->error("{}: {}", opts_.name, fmt::format(format, std::forward<Args>(args)...));
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging is best effort, never fatal
    }
  }

  // Deadlines ----------------------------------------------------------------------------

  void setDeadline(std::chrono::milliseconds d, Expiry what) {
    deadline_ = SteadyClock::now() + d;
    expiry_ = what;
    if (timer_waits_ == 0 || deadline_ < timer_expiry_) armTimer();
  }

  void armTimer() {
    timer_expiry_ = deadline_;
    timer_.expires_at(deadline_);  // cancels a pending wait; its handler sees a newer one
    ++timer_waits_;
    timer_.async_wait(
        [self = shared()](const error_code&) { self->safely([&] { self->onTimer(); }); });
  }

  void onTimer() {
    --timer_waits_;
    if (closed_ || timer_waits_ > 0 || deadline_ == SteadyClock::time_point::max()) return;
    if (SteadyClock::now() < deadline_) {
      armTimer();
      return;
    }
    deadline_ = SteadyClock::time_point::max();
    switch (expiry_) {
      case Expiry::Close:
        closeNow();
        break;
      case Expiry::ReadTimeout: {
        // The pending read completes with operation_aborted and answers 408.
        read_timed_out_ = true;
        error_code ec;
        lowest().cancel(ec);
        break;
      }
      case Expiry::RequestTimeout:
        if (phase_ == Phase::Handling) {
          ++seq_;  // a late answer from the handler is dropped
          send(Response::error(503, "request_timeout",
                               fmt::format("the request was not answered within {} ms",
                                           opts_.request_timeout.count())),
               /*close=*/false);
        }
        break;
    }
  }

  // Reading ------------------------------------------------------------------------------

  void startHandshake() {
    phase_ = Phase::Handshake;
    setDeadline(opts_.read_timeout, Expiry::Close);
    if constexpr (kIsTls<Stream>) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared()](const error_code& ec) {
                                self->safely([&] {
                                  if (self->closed_) return;
                                  if (ec) {
                                    self->closeNow();  // not TLS, bad certificate, timeout
                                  } else {
                                    self->afterHandshake();
                                  }
                                });
                              });
    }
  }

  void afterHandshake() {
    if (closed_) return;
    if (refuse_) {
      resetRequest();
      request_id_ = ids_.next();
      start_ = SteadyClock::now();
      send(Response::error(503, "too_many_connections",
                           fmt::format("the server is at its limit of {} connections; retry "
                                       "later",
                                       opts_.max_connections)),
           /*close=*/true);
      return;
    }
    waitForRequest();
  }

  void resetRequest() {
    read_timed_out_ = false;
    head_ = false;
    keep_alive_ = false;
    version_ = 11;
    method_.assign(kUnknown);
    path_.assign(kUnknown);
    route_ = kUnmatched;
  }

  // Waits for the first byte of the next request: a quiet connection is closed without an
  // answer, a started request must then arrive whole within read_timeout.
  //
  // Bytes are fed to Beast's parser directly (no beast::http::async_read): a request that
  // arrives in one segment is parsed without another operation or handler dispatch.
  void waitForRequest() {
    phase_ = Phase::Idle;
    resetRequest();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
        std::min<size_t>(opts_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(opts_.max_body_bytes);
    if (buffer_.size() > 0) {  // pipelined: the next request is already here
      beginRequest();
      parseBuffered();
      return;
    }
    setDeadline(first_ ? opts_.read_timeout : opts_.idle_timeout, Expiry::Close);
    readMore();
  }

  void beginRequest() {
    phase_ = Phase::Reading;
    start_ = SteadyClock::now();
    setDeadline(opts_.read_timeout, Expiry::ReadTimeout);
  }

  void readMore() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared()](const error_code& ec, size_t n) {
                              self->safely([&] { self->onRead(ec, n); });
                            });
  }

  void onRead(const error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      if (read_timed_out_) {
        onReadError(ec);  // answers 408
      } else {
        closeNow();  // closed by the client (mid-request or not), or idle too long
      }
      return;
    }
    buffer_.commit(n);
    if (phase_ == Phase::Idle) beginRequest();
    parseBuffered();
  }

  void parseBuffered() {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      error_code ec;
      const bool had_header = parser_->is_header_done();
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) {
        onReadError(ec);
        return;
      }
      if (used == 0) break;  // no progress without more bytes
      if (!had_header && parser_->is_header_done()) {
        // Not eager before this point: Beast 1.74 drops the Content-Length body_limit error
        // when one eager put() parses the head and body bytes together.
        parser_->eager(true);
        if (!parser_->is_done() &&
            equalsIgnoreCase(parser_->get()[http::field::expect], "100-continue")) {
          writeContinue();
          return;
        }
      }
    }
    if (parser_->is_done()) {
      onRequest();
    } else {
      readMore();
    }
  }

  void writeContinue() {
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared()](const error_code& ec, size_t) {
                        self->safely([&] {
                          if (self->closed_) return;
                          if (ec) {
                            self->closeNow();
                          } else {
                            self->parseBuffered();
                          }
                        });
                      });
  }

  // Whatever is known of the request head, so refusals are logged and echo the request id.
  void takeHead() {
    if (!parser_ || !parser_->is_header_done()) {
      request_id_ = ids_.next();
      return;
    }
    auto& msg = parser_->get();
    method_.assign(msg.method_string());
    std::string query;
    splitTarget(msg.target(), path_, query);
    version_ = msg.version();
    auto id = msg[kRequestIdHeader];
    if (isValidRequestId(id)) {
      request_id_.assign(id);
    } else {
      request_id_ = ids_.next();
    }
  }

  void onReadError(const error_code& ec) {
    if (read_timed_out_) {
      takeHead();
      sendAndClose(
          408, "read_timeout",
          fmt::format("the request did not arrive within {} ms", opts_.read_timeout.count()));
    } else if (ec == http::error::header_limit) {
      takeHead();
      sendAndClose(431, "headers_too_large",
                   fmt::format("the request line and headers exceed the limit of {} bytes",
                               opts_.max_header_bytes));
    } else if (ec == http::error::body_limit) {
      takeHead();
      sendAndClose(
          413, "body_too_large",
          fmt::format("the request body exceeds the limit of {} bytes", opts_.max_body_bytes));
    } else if (isHttpParseError(ec)) {
      takeHead();
      sendAndClose(400, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()));
    } else {
      closeNow();  // the client went away mid-request
    }
  }

  void sendAndClose(int status, std::string_view reason, std::string message) {
    send(Response::error(status, reason, message), /*close=*/true);
  }

  // Handling -----------------------------------------------------------------------------

  void onRequest() {
    auto& msg = parser_->get();
    Request req;
    req.method.assign(msg.method_string());
    req.target.assign(msg.target());
    splitTarget(req.target, req.path, req.query);
    for (const auto& field : msg) req.headers.add(field.name_string(), field.value());
    req.body = std::move(msg.body());
    auto id = msg[kRequestIdHeader];
    req.request_id = isValidRequestId(id) ? std::string(id) : ids_.next();
    req.remote_address = remote_;
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == http::verb::head;
    parser_.reset();

    method_ = req.method;
    path_ = req.path;
    request_id_ = req.request_id;

    Router::Match match = server_->router.match(req.method, req.path);
    if (match.refusal) {
      route_ = kUnmatched;
      send(std::move(*match.refusal), /*close=*/false);
      return;
    }
    route_ = match.pattern;
    req.params = std::move(match.params);

    phase_ = Phase::Handling;
    const uint64_t seq = ++seq_;
    setDeadline(opts_.request_timeout, Expiry::RequestTimeout);
    Reply reply([weak = std::weak_ptr<SessionBase>(shared()), seq](Response response) {
      auto base = weak.lock();
      if (!base) return;  // the connection is gone; nobody is listening
      auto self = std::static_pointer_cast<Session>(std::move(base));
      auto executor = self->executor_;
      asio::dispatch(executor, [self = std::move(self), seq, r = std::move(response)]() mutable {
        self->safely([&] { self->onReply(seq, std::move(r)); });
      });
    });
    try {
      (*match.handler)(std::move(req), reply);
    } catch (const std::exception& e) {
      logError("handler for {} {} threw: {} (request {})", method_, path_, e.what(), request_id_);
      reply(Response::error(
          500, "handler_failed",
          fmt::format("the handler for {} {} failed: {}", method_, path_, e.what())));
    } catch (...) {
      logError("handler for {} {} threw an unknown exception (request {})", method_, path_,
               request_id_);
      reply(Response::error(
          500, "handler_failed",
          fmt::format("the handler for {} {} failed with an unknown exception", method_, path_)));
    }
  }

  void onReply(uint64_t seq, Response response) {
    if (closed_ || phase_ != Phase::Handling || seq != seq_) return;  // late: timed out
    send(std::move(response), /*close=*/false);
  }

  // Writing ------------------------------------------------------------------------------

  void send(Response response, bool close) {
    if (response.status < 100 || response.status > 599) {
      logError("handler for {} {} answered with invalid status {}", method_, path_,
               response.status);
      response = Response::error(
          500, "invalid_status",
          fmt::format("the handler answered with invalid HTTP status {}", response.status));
    }
    phase_ = Phase::Writing;
    status_ = response.status;
    const bool keep = keep_alive_ && !close && !draining_;
    close_after_ = !keep;
    const bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;

    // The head is written by hand into a buffer the session keeps: no per-field allocation.
    head_buf_.clear();
    head_buf_.append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    appendNumber(static_cast<size_t>(response.status));
    head_buf_.push_back(' ');
    head_buf_.append(statusText(response.status));
    head_buf_.append("\r\n");
    for (const auto& [name, value] : response.headers.all()) {
      if (isFramingHeader(name)) continue;
      if (!isSafeField(name, value)) {
        logError("dropped unsafe response header '{}' on {} {}", name, method_, path_);
        continue;
      }
      appendField(name, value);
    }
    appendField(kRequestIdHeader, request_id_);
    if (!bodiless) {
      head_buf_.append("Content-Length: ");
      appendNumber(response.body.size());
      head_buf_.append("\r\n");
    }
    if (!keep && version_ != 10) appendField("Connection", "close");
    if (keep && version_ == 10) appendField("Connection", "keep-alive");
    head_buf_.append("\r\n");

    body_buf_.clear();
    if (!bodiless && !head_) body_buf_ = std::move(response.body);

    setDeadline(opts_.write_timeout, Expiry::Close);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head_buf_), asio::buffer(body_buf_)};
    asio::async_write(stream_, buffers, [self = shared()](const error_code& ec, size_t bytes) {
      self->safely([&] { self->onWrite(ec, bytes); });
    });
  }

  void appendNumber(size_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    head_buf_.append(digits, end);
  }

  void appendField(std::string_view name, std::string_view value) {
    head_buf_.append(name);
    head_buf_.append(": ");
    head_buf_.append(value);
    head_buf_.append("\r\n");
  }

  void onWrite(const error_code& ec, size_t bytes) {
    record(bytes);
    if (body_buf_.capacity() > kReadChunk) std::string().swap(body_buf_);  // no big leftovers
    if (closed_) return;
    if (ec) {
      closeNow();
    } else if (close_after_ || (draining_ && buffer_.size() == 0)) {
      // Draining began while this answer was being written (so it went out keep-alive):
      // nothing else is pending on the connection, close it now rather than let it idle
      // until the drain period ends.
      gracefulClose();
    } else {
      first_ = false;
      waitForRequest();
    }
  }

  void record(size_t bytes) {
    auto duration = SteadyClock::now() - start_;
    const auto& log = server_->access_log;
    if (log && log->should_log(spdlog::level::info)) {
      double ms = std::chrono::duration<double, std::milli>(duration).count();
      try {
        log->info("{} {} \"{} {}\" {} {} {:.3f}ms {}", opts_.name, remote_, method_, path_, status_,
                  bytes, ms, request_id_);
      } catch (...) {  // NOLINT(bugprone-empty-catch): logging is best effort, never fatal
      }
    }
    if (server_->observer) {
      try {
        server_->observer(
            RequestRecord{method_, route_, status_, bytes,
                          std::chrono::duration_cast<std::chrono::nanoseconds>(duration)});
      } catch (const std::exception& e) {
        logError("request observer threw: {}", e.what());
      } catch (...) {
        logError("request observer threw an unknown exception");
      }
    }
  }

  // Closing ------------------------------------------------------------------------------

  void gracefulClose() {
    if (closed_) return;
    phase_ = Phase::Closing;
    setDeadline(std::min(kMaxLinger, opts_.read_timeout), Expiry::Close);
    if constexpr (kIsTls<Stream>) {
      stream_.async_shutdown(
          [self = shared()](const error_code&) { self->safely([&] { self->closeNow(); }); });
    } else {
      error_code ec;
      stream_.shutdown(tcp::socket::shutdown_send, ec);
      if (ec) {
        closeNow();
        return;
      }
      buffer_.clear();
      linger_bytes_ = 0;
      drainInput();
    }
  }

  // Reads and drops what the client still sends until it closes (or the linger ends).
  void drainInput() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared()](const error_code& ec, size_t n) {
                              self->safely([&] {
                                if (self->closed_) return;
                                self->linger_bytes_ += n;
                                if (ec || self->linger_bytes_ > kMaxLingerBytes) {
                                  self->closeNow();
                                } else {
                                  self->drainInput();
                                }
                              });
                            });
  }

  void closeNow() noexcept {
    if (closed_) return;
    closed_ = true;
    phase_ = Phase::Closed;
    deadline_ = SteadyClock::time_point::max();
    try {
      timer_.cancel();
    } catch (...) {  // NOLINT(bugprone-empty-catch): cannot fail on Linux; the close below ends all
    }
    error_code ec;
    lowest().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }

  std::shared_ptr<ServerState> server_;
  const ServerOptions& opts_;
  Stream stream_;
  asio::any_io_executor executor_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_buf_;  // the answer's status line and headers
  std::string body_buf_;  // the answer's body, kept alive while it is written
  RequestIdGenerator ids_;
  std::string remote_;
  const bool refuse_;

  Phase phase_ = Phase::Handshake;
  bool first_ = true;      // no request answered yet on this connection
  bool draining_ = false;  // the server is shutting down
  bool closed_ = false;
  bool close_after_ = false;
  bool read_timed_out_ = false;
  size_t linger_bytes_ = 0;

  SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
  SteadyClock::time_point timer_expiry_{};
  Expiry expiry_ = Expiry::Close;
  int timer_waits_ = 0;

  // The request in progress.
  uint64_t seq_ = 0;
  SteadyClock::time_point start_{};
  std::string method_;
  std::string path_;
  std::string request_id_;
  std::string_view route_ = kUnmatched;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  int status_ = 0;
};

}  // namespace

void startSession(std::shared_ptr<ServerState> server, tcp::socket socket, bool refuse) {
  auto& state = *server;
  if (state.tls) {
    auto session =
        std::make_shared<Session<TlsStream>>(std::move(server), std::move(socket), refuse);
    state.add(session.get());
    session->start();
  } else {
    auto session =
        std::make_shared<Session<tcp::socket>>(std::move(server), std::move(socket), refuse);
    state.add(session.get());
    session->start();
  }
}

}  // namespace chtlink::net
