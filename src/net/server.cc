#include "net/server.h"

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

#include "net/asio_access.h"
#include "net/server_internal.h"
#include "net/tls_internal.h"

namespace chtlink::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// After a failed accept (out of file descriptors, say) wait this long before the next, so a
// persistent failure does not spin an I/O thread.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

const std::shared_ptr<spdlog::logger>& pickLog(const ServerState& s) {
  return s.error_log ? s.error_log : s.access_log;
}

// Runs the body of a completion handler; nothing it throws may unwind into Asio.
template <typename F>
void guarded(const ServerState& s, const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    try {
      if (const auto& log = pickLog(s))
        log->error("{}: {} failed: {}", s.options.name, what, e.what());
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging is best effort
    }
  } catch (...) {
    try {
      if (const auto& log = pickLog(s)) log->error("{}: {} failed", s.options.name, what);
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging is best effort
    }
  }
}

}  // namespace

// ServerState ----------------------------------------------------------------------------

ServerState::ServerState(asio::io_context& io, ServerOptions opts, Router r,
                         std::shared_ptr<spdlog::logger> access)
    : ioc(io),
      options(std::move(opts)),
      router(std::move(r)),
      access_log(std::move(access)),
      error_log(options.error_log),
      strand(asio::make_strand(io)),
      acceptor(strand),
      retry_timer(strand),
      drain_timer(strand) {}

void ServerState::add(SessionBase* session) {
  std::lock_guard lock(mu_);
  sessions_.insert(session);
}

void ServerState::remove(SessionBase* session) {
  bool last;
  {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
    last = sessions_.empty();
  }
  if (last && stopping.load()) {
    asio::post(strand, [self = shared_from_this()] {
      guarded(*self, "shutdown", [&] { self->maybeFinishShutdown(); });
    });
  }
}

std::vector<std::shared_ptr<SessionBase>> ServerState::liveSessions() {
  std::vector<std::shared_ptr<SessionBase>> out;
  std::lock_guard lock(mu_);
  out.reserve(sessions_.size());
  for (SessionBase* s : sessions_) {
    // Null when the session is being destroyed (its destructor waits on mu_ to unregister).
    if (auto p = s->weak_from_this().lock()) out.push_back(std::move(p));
  }
  return out;
}

void ServerState::doAccept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](const error_code& ec,
                                                                            tcp::socket socket) {
    guarded(*self, "accepting a connection", [&] { self->onAccept(ec, std::move(socket)); });
  });
}

void ServerState::onAccept(const error_code& ec, tcp::socket socket) {
  if (stopping.load() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors, say: wait a little instead of spinning on the error.
    if (const auto& log = pickLog(*this)) {
      log->warn("{}: accepting a connection failed: {}", options.name, ec.message());
    }
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](const error_code& wec) {
      guarded(*self, "accepting a connection", [&] {
        if (!wec && !self->stopping.load()) self->doAccept();
      });
    });
    return;
  }
  // Accept the next one whatever happens to this one.
  struct Next {
    ServerState* s;
    ~Next() {
      guarded(*s, "accepting a connection", [&] { s->doAccept(); });
    }
  } next{this};
  accepted.fetch_add(1, std::memory_order_relaxed);
  error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);  // answers go out whole; no Nagle delay
  const bool refuse = open.load(std::memory_order_relaxed) >= options.max_connections;
  startSession(shared_from_this(), std::move(socket), refuse);
}

void ServerState::startShutdown(std::chrono::milliseconds drain, std::function<void()> done) {
  if (done) done_callbacks.push_back(std::move(done));
  if (finished) {
    maybeFinishShutdown();
    return;
  }
  if (stopping.exchange(true)) return;  // already draining; `done` joins the others
  error_code ec;
  acceptor.close(ec);
  retry_timer.cancel();
  for (auto& session : liveSessions()) session->beginShutdown();
  drain_timer.expires_after(drain);
  drain_timer.async_wait([self = shared_from_this()](const error_code& wec) {
    if (wec) return;
    guarded(*self, "shutdown", [&] {
      auto rest = self->liveSessions();
      if (!rest.empty()) {
        if (const auto& log = pickLog(*self)) {
          log->warn("{}: closing {} connection(s) still busy after the drain period",
                    self->options.name, rest.size());
        }
      }
      for (auto& session : rest) session->forceClose();
      self->maybeFinishShutdown();
    });
  });
  maybeFinishShutdown();
}

void ServerState::maybeFinishShutdown() {
  if (!stopping.load()) return;
  {
    std::lock_guard lock(mu_);
    if (!sessions_.empty()) return;
  }
  finished = true;
  drain_timer.cancel();
  auto callbacks = std::move(done_callbacks);
  done_callbacks.clear();
  for (auto& fn : callbacks) {
    try {
      fn();
    } catch (const std::exception& e) {
      if (const auto& log = pickLog(*this))
        log->error("{}: shutdown callback threw: {}", options.name, e.what());
    } catch (...) {
      if (const auto& log = pickLog(*this)) log->error("{}: shutdown callback threw", options.name);
    }
  }
}

// Server ---------------------------------------------------------------------------------

// Server::State is private to the class; the sessions see it as its base.
struct Server::State : ServerState {
  using ServerState::ServerState;
};

Server::Server(EventLoop& loop, ServerOptions options, Router router,
               std::shared_ptr<spdlog::logger> access_log)
    : state_(std::make_shared<State>(ioContext(loop), std::move(options), std::move(router),
                                     std::move(access_log))) {}

Server::~Server() {
  // Sessions keep the state alive; close them and the listener now, on their strands.
  asio::dispatch(state_->strand, [s = state_] {
    guarded(*s, "closing", [&] {
      if (!s->stopping.exchange(true)) {
        error_code ec;
        s->acceptor.close(ec);
        s->retry_timer.cancel();
      }
      for (auto& session : s->liveSessions()) session->forceClose();
    });
  });
}

void Server::setObserver(std::function<void(const RequestRecord&)> observer) {
  state_->observer = std::move(observer);
}

Result<uint16_t> Server::listen() {
  State& s = *state_;
  const ServerOptions& o = s.options;
  if (o.tls) {
    auto ctx = makeServerTlsContext(*o.tls, o.name);
    if (!ctx) return std::move(ctx).error();
    s.tls.emplace(std::move(ctx).value());
  }

  auto fail = [&](std::string_view why, std::string reason) -> Error {
    return unavailable(fmt::format("{} cannot listen on {}:{}: {} (change it with --set {}=...)",
                                   o.name, o.host, o.port, why, o.port_setting),
                       std::move(reason));
  };

  error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    // A host name ("localhost"): listen() runs at start-up, not on an I/O thread, so a
    // blocking lookup is acceptable here.
    tcp::resolver resolver(s.ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return fail(fmt::format("cannot resolve host '{}'", o.host), "bad_host");
    }
    endpoint = results.begin()->endpoint();
  }

  s.acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail(ec.message(), "listen_failed");
  s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  s.acceptor.bind(endpoint, ec);
  if (ec == asio::error::address_in_use) {
    s.acceptor.close(ec);
    return fail("address already in use", "port_in_use");
  }
  if (ec == asio::error::access_denied) {
    s.acceptor.close(ec);
    return fail("permission denied (ports below 1024 need privileges)", "port_denied");
  }
  if (ec) {
    auto why = ec.message();
    s.acceptor.close(ec);
    return fail(why, "listen_failed");
  }
  s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    auto why = ec.message();
    s.acceptor.close(ec);
    return fail(why, "listen_failed");
  }
  uint16_t port = s.acceptor.local_endpoint(ec).port();
  if (const auto& log = pickLog(s)) {
    log->info("{} listening on {}://{}:{}", o.name, o.tls ? "https" : "http",
              endpoint.address().is_v6() ? fmt::format("[{}]", o.host) : o.host, port);
  }
  asio::post(s.strand, [self = state_] {
    guarded(*self, "accepting a connection", [&] { self->doAccept(); });
  });
  return port;
}

void Server::shutdown(std::chrono::milliseconds drain, std::function<void()> done) {
  asio::dispatch(state_->strand, [s = state_, drain, done = std::move(done)]() mutable {
    guarded(*s, "shutdown", [&] { s->startShutdown(drain, std::move(done)); });
  });
}

size_t Server::openConnections() const { return state_->open.load(); }

size_t Server::acceptedConnections() const { return state_->accepted.load(); }

}  // namespace chtlink::net
