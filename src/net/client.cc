// BeastHttpClient: pooled keep-alive HTTP(S) on Boost.Beast.
//
// Each exchange runs on one strand: a pooled connection's strand when it reuses one, a new
// strand otherwise. One timer per exchange enforces the connect and whole-request deadlines;
// on expiry it closes the socket, and the pending operation completes with an error that is
// reported as DeadlineExceeded.
#include "net/client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/logger.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <future>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "net/asio_access.h"
#include "net/tls_internal.h"

namespace chtlink::net {

Result<ClientResponse> HttpClient::sendSync(ClientRequest request) {
  std::promise<Result<ClientResponse>> promise;
  auto future = promise.get_future();
  send(std::move(request),
       [&promise](Result<ClientResponse> result) { promise.set_value(std::move(result)); });
  return future.get();
}

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using TlsStream = ssl::stream<tcp::socket>;

// Longest status line plus headers accepted in an answer.
constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.append("==");
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isFieldValue(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < ' ' && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool isIpLiteral(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One kept-alive connection; lives on the strand of its socket's executor.
struct Connection {
  Connection(const asio::any_io_executor& ex, ssl::context* tls) {
    if (tls) {
      stream.emplace<TlsStream>(ex, *tls);
    } else {
      stream.emplace<tcp::socket>(ex);
    }
  }

  tcp::socket& lowest() {
    if (auto* tls = std::get_if<TlsStream>(&stream)) return tls->next_layer();
    return std::get<tcp::socket>(stream);
  }

  // True when the server closed (or wrote to) the idle connection: a peek returns EOF or
  // data instead of "would block".
  bool looksClosed() {
    if (!lowest().is_open()) return true;
    char byte;
    ssize_t n = ::recv(lowest().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  void close() {
    error_code ec;
    lowest().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }

  std::variant<std::monostate, tcp::socket, TlsStream> stream;
  beast::flat_buffer buffer;
  asio::any_io_executor executor() { return lowest().get_executor(); }
  SteadyClock::time_point idle_since{};
};

// What every exchange of one client shares. Exchanges hold it, so it outlives the client
// object while requests are in flight.
struct ClientShared {
  ClientShared(asio::io_context& io, ClientOptions opts) : ioc(io), options(std::move(opts)) {}

  asio::io_context& ioc;
  const ClientOptions options;

  // The TLS context, made on first use: OpenSSL 3 takes tens of milliseconds to build one,
  // and many clients only ever speak plain HTTP. An error names the trust store or ca_file.
  Result<ssl::context>& tls() {
    std::call_once(tls_once_, [this] {
      tls_.emplace(makeClientTlsContext(options.verify_tls, options.ca_file));
    });
    return *tls_;
  }

  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // by mu

 private:
  std::once_flag tls_once_;
  std::optional<Result<ssl::context>> tls_;

 public:
  std::unique_ptr<Connection> take(const std::string& key) {
    std::vector<std::unique_ptr<Connection>> stale;
    std::unique_ptr<Connection> found;
    {
      std::lock_guard lock(mu);
      auto it = idle.find(key);
      if (it == idle.end()) return nullptr;
      auto& list = it->second;
      auto now = SteadyClock::now();
      while (!list.empty()) {
        auto conn = std::move(list.back());  // most recently used: least likely closed
        list.pop_back();
        if (now - conn->idle_since < options.idle_timeout && !conn->looksClosed()) {
          found = std::move(conn);
          break;
        }
        stale.push_back(std::move(conn));
      }
    }
    for (auto& c : stale) c->close();
    return found;
  }

  void putBack(const std::string& key, std::unique_ptr<Connection> conn) {
    conn->idle_since = SteadyClock::now();
    {
      std::lock_guard lock(mu);
      auto& list = idle[key];
      if (list.size() < options.max_idle_per_host) {
        list.push_back(std::move(conn));
        return;
      }
    }
    conn->close();
  }

  template <typename... Args>
  void logError(fmt::format_string<Args...> format, Args&&... args) noexcept {
    if (!options.error_log) return;
    try {
      options.error_log->error(format, std::forward<Args>(args)...);
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging is best effort, never fatal
    }
  }
};

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ClientShared> client, Url url, http::request<http::string_body> req,
           std::chrono::milliseconds timeout, HttpClient::Callback done)
      : client_(std::move(client)),
        url_(std::move(url)),
        key_(fmt::format("{}://{}:{}", url_.scheme, url_.host, url_.port)),
        where_(fmt::format("{}:{}", url_.host, url_.port)),
        req_(std::move(req)),
        timeout_(timeout),
        done_(std::move(done)) {}

  const std::string& key() const { return key_; }

  void start(std::unique_ptr<Connection> conn) {
    auto ex = conn ? conn->executor() : asio::any_io_executor(asio::make_strand(client_->ioc));
    conn_ = std::move(conn);
    reused_ = conn_ != nullptr;
    executor_ = ex;
    timer_.emplace(ex);
    asio::dispatch(ex, [self = shared_from_this()] {
      self->safely([&] {
        self->deadline_ = SteadyClock::now() + self->timeout_;
        if (self->reused_) {
          self->armTimer(self->deadline_);
          self->write();
        } else {
          self->connect();
        }
      });
    });
  }

 private:
  template <typename F>
  void safely(F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      fail(internalError(fmt::format("request to {} failed: {}", where_, e.what())));
    } catch (...) {
      fail(internalError(fmt::format("request to {} failed: unknown exception", where_)));
    }
  }

  template <typename F>
  void withStream(F&& f) {
    if (auto* tls = std::get_if<TlsStream>(&conn_->stream)) {
      f(*tls);
    } else {
      f(std::get<tcp::socket>(conn_->stream));
    }
  }

  // Deadlines --------------------------------------------------------------------------

  void armTimer(SteadyClock::time_point at) {
    const uint64_t gen = ++timer_gen_;
    timer_->expires_at(at);
    timer_->async_wait([self = shared_from_this(), gen](const error_code& ec) {
      self->safely([&] {
        if (ec || gen != self->timer_gen_ || self->finished_) return;
        self->onTimeout();
      });
    });
  }

  void onTimeout() {
    timed_out_ = true;
    if (resolver_) resolver_->cancel();
    if (conn_) conn_->close();  // the pending operation completes with an error
  }

  Error timeoutError() const {
    if (connecting_ && SteadyClock::now() < deadline_) {
      return deadlineExceeded(fmt::format("connecting to {} timed out after {} ms", where_,
                                          client_->options.connect_timeout.count()),
                              "connect_timeout");
    }
    return deadlineExceeded(fmt::format("{} {} timed out after {} ms", req_.method_string(),
                                        urlText(), timeout_.count()),
                            "request_timeout");
  }

  std::string urlText() const { return fmt::format("{}://{}{}", url_.scheme, where_, url_.target); }

  // Connecting -------------------------------------------------------------------------

  void connect() {
    connecting_ = true;
    auto connect_deadline = SteadyClock::now() + client_->options.connect_timeout;
    armTimer(std::min(connect_deadline, deadline_));
    ssl::context* tls = nullptr;
    if (url_.scheme == "https") tls = &client_->tls().value();
    conn_ = std::make_unique<Connection>(executor_, tls);
    resolver_.emplace(executor_);
    resolver_->async_resolve(
        url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
        [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type results) {
          self->safely([&] { self->onResolve(ec, std::move(results)); });
        });
  }

  void onResolve(const error_code& ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (timed_out_) return fail(timeoutError());
    if (ec) {
      return fail(unavailable(
          fmt::format("cannot resolve host '{}' (for {}): {}", url_.host, where_, ec.message()),
          "dns_failed"));
    }
    asio::async_connect(conn_->lowest(), results,
                        [self = shared_from_this()](const error_code& cec, const tcp::endpoint&) {
                          self->safely([&] { self->onConnect(cec); });
                        });
  }

  void onConnect(const error_code& ec) {
    if (finished_) return;
    if (timed_out_) return fail(timeoutError());
    if (ec) {
      return fail(unavailable(fmt::format("cannot connect to {}: {}", where_, ec.message()),
                              "connect_failed"));
    }
    error_code opt_ec;
    conn_->lowest().set_option(tcp::no_delay(true), opt_ec);
    auto* tls = std::get_if<TlsStream>(&conn_->stream);
    if (!tls) {
      connected();
      return;
    }
    // SNI carries names only, never address literals (RFC 6066).
    if (!isIpLiteral(url_.host) &&
        SSL_ctrl(tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url_.host.c_str())) != 1) {
      return fail(internalError(fmt::format("cannot set TLS server name '{}'", url_.host)));
    }
    if (client_->options.verify_tls) {
      error_code vec;
      tls->set_verify_callback(ssl::host_name_verification(url_.host), vec);
    }
    tls->async_handshake(ssl::stream_base::client,
                         [self = shared_from_this()](const error_code& hec) {
                           self->safely([&] { self->onHandshake(hec); });
                         });
  }

  void onHandshake(const error_code& ec) {
    if (finished_) return;
    if (timed_out_) return fail(timeoutError());
    if (ec) {
      auto& tls = std::get<TlsStream>(conn_->stream);
      long verify = SSL_get_verify_result(tls.native_handle());
      if (client_->options.verify_tls && verify != X509_V_OK) {
        return fail(unavailable(
            fmt::format("TLS certificate verification failed for {}: {} (add the issuing CA "
                        "with ca_file, or fix the server's certificate)",
                        where_, X509_verify_cert_error_string(verify)),
            "tls_verify_failed"));
      }
      return fail(unavailable(fmt::format("TLS handshake with {} failed: {}", where_, ec.message()),
                              "tls_handshake_failed"));
    }
    connected();
  }

  void connected() {
    connecting_ = false;
    armTimer(deadline_);
    write();
  }

  // Exchanging -------------------------------------------------------------------------

  void write() {
    withStream([&](auto& stream) {
      http::async_write(stream, req_, [self = shared_from_this()](const error_code& ec, size_t) {
        self->safely([&] { self->onWrite(ec); });
      });
    });
  }

  void onWrite(const error_code& ec) {
    if (finished_) return;
    if (timed_out_) return fail(timeoutError());
    if (ec) {
      if (retryOnFreshConnection()) return;
      return fail(
          unavailable(fmt::format("sending the request to {} failed: {}", where_, ec.message()),
                      "send_failed"));
    }
    parser_.emplace();
    parser_->header_limit(kMaxResponseHeaderBytes);
    parser_->body_limit(client_->options.max_response_bytes);
    if (req_.method() == http::verb::head) parser_->skip(true);
    // The head first: Beast 1.74 loses the Content-Length body_limit error when one eager
    // read parses the head and the body together, and would read the whole body.
    withStream([&](auto& stream) {
      http::async_read_header(stream, conn_->buffer, *parser_,
                              [self = shared_from_this()](const error_code& rec, size_t) {
                                self->safely([&] { self->onHeader(rec); });
                              });
    });
  }

  void onHeader(const error_code& ec) {
    if (ec || parser_->is_done()) {
      onRead(ec);
      return;
    }
    withStream([&](auto& stream) {
      http::async_read(stream, conn_->buffer, *parser_,
                       [self = shared_from_this()](const error_code& rec, size_t) {
                         self->safely([&] { self->onRead(rec); });
                       });
    });
  }

  void onRead(const error_code& ec) {
    if (finished_) return;
    if (timed_out_) return fail(timeoutError());
    if (ec == http::error::body_limit) {
      return fail(tooLarge(fmt::format("the answer from {} exceeds the limit of {} bytes", where_,
                                       client_->options.max_response_bytes),
                           "response_too_large"));
    }
    if (ec == http::error::header_limit) {
      return fail(tooLarge(fmt::format("the answer headers from {} exceed {} bytes", where_,
                                       kMaxResponseHeaderBytes),
                           "response_too_large"));
    }
    if (ec) {
      if (!parser_->got_some() && retryOnFreshConnection()) return;
      return fail(
          unavailable(fmt::format("reading the answer from {} failed: {}", where_, ec.message()),
                      "receive_failed"));
    }

    auto& msg = parser_->get();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) out.headers.add(field.name_string(), field.value());
    out.body = std::move(msg.body());
    const bool reusable = msg.keep_alive() && !parser_->need_eof() && conn_->buffer.size() == 0;
    parser_.reset();
    finished_ = true;
    cancelTimer();
    if (reusable) {
      client_->putBack(key_, std::move(conn_));
    } else {
      conn_->close();
      conn_.reset();
    }
    deliver(std::move(out));
  }

  // A pooled connection the server had already closed fails before any answer byte; the
  // request never reached a handler, so sending it again on a new connection is safe.
  bool retryOnFreshConnection() {
    if (!reused_ || retried_ || timed_out_) return false;
    retried_ = true;
    reused_ = false;
    conn_->close();
    conn_.reset();
    connect();
    return true;
  }

  void cancelTimer() {
    ++timer_gen_;
    timer_->cancel();
  }

  void fail(Error error) {
    if (finished_) return;
    finished_ = true;
    cancelTimer();
    if (resolver_) resolver_->cancel();
    if (conn_) {
      conn_->close();
      conn_.reset();
    }
    deliver(std::move(error));
  }

  void deliver(Result<ClientResponse> result) {
    auto done = std::move(done_);
    if (!done) return;
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      client_->logError("HTTP client callback for {} threw: {}", urlText(), e.what());
    } catch (...) {
      client_->logError("HTTP client callback for {} threw", urlText());
    }
  }

  std::shared_ptr<ClientShared> client_;
  const Url url_;
  const std::string key_;    // pool key: scheme://host:port
  const std::string where_;  // host:port, for messages
  http::request<http::string_body> req_;
  const std::chrono::milliseconds timeout_;
  HttpClient::Callback done_;

  asio::any_io_executor executor_;
  std::optional<asio::steady_timer> timer_;
  std::optional<tcp::resolver> resolver_;
  std::unique_ptr<Connection> conn_;
  std::optional<http::response_parser<http::string_body>> parser_;
  SteadyClock::time_point deadline_{};
  uint64_t timer_gen_ = 0;
  bool reused_ = false;
  bool retried_ = false;
  bool connecting_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
};

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(EventLoop& loop, ClientOptions options)
      : shared_(std::make_shared<ClientShared>(ioContext(loop), std::move(options))) {}

  void send(ClientRequest request, Callback done) override {
    auto req = build(request);
    if (!req) {
      asio::post(shared_->ioc, [done = std::move(done), e = std::move(req).error()]() mutable {
        done(std::move(e));
      });
      return;
    }
    auto& [url, message] = req.value();
    if (url.scheme == "https" && !shared_->tls()) {
      asio::post(shared_->ioc, [done = std::move(done), e = shared_->tls().error()]() mutable {
        done(std::move(e));
      });
      return;
    }
    auto timeout = request.timeout.count() > 0 ? request.timeout : shared_->options.request_timeout;
    auto exchange = std::make_shared<Exchange>(shared_, std::move(url), std::move(message), timeout,
                                               std::move(done));
    exchange->start(shared_->take(exchange->key()));
  }

 private:
  using Built = std::pair<Url, http::request<http::string_body>>;

  static Result<Built> build(ClientRequest& request) {
    CHTLINK_ASSIGN_OR_RETURN(Url url, parseUrl(request.url));
    if (!isToken(request.method)) {
      return invalidArgument(
          fmt::format("invalid HTTP method '{}' for {}", request.method, request.url),
          "bad_method");
    }
    http::request<http::string_body> msg;
    msg.version(11);
    msg.method_string(request.method);
    msg.target(url.target);
    for (const auto& [name, value] : request.headers.all()) {
      if (!isToken(name) || !isFieldValue(value)) {
        return invalidArgument(
            fmt::format("invalid header '{}' in request to {}", name, request.url), "bad_header");
      }
      msg.insert(name, value);
    }
    if (!request.headers.has("Host")) {
      bool v6 = url.host.find(':') != std::string::npos;
      std::string host = v6 ? "[" + url.host + "]" : url.host;
      bool default_port =
          (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
      if (!default_port) host += fmt::format(":{}", url.port);
      msg.set(http::field::host, host);
    }
    if (!request.headers.has("User-Agent")) msg.set(http::field::user_agent, "chtlink");
    if (request.auth) {
      msg.set(http::field::authorization,
              "Basic " + base64(request.auth->username + ":" + request.auth->password));
    }
    msg.body() = std::move(request.body);
    msg.prepare_payload();
    msg.keep_alive(true);
    return Built{std::move(url), std::move(msg)};
  }

  std::shared_ptr<ClientShared> shared_;
};

}  // namespace

std::unique_ptr<HttpClient> makeBeastHttpClient(EventLoop& loop, ClientOptions options) {
  return std::make_unique<BeastHttpClient>(loop, std::move(options));
}

}  // namespace chtlink::net
