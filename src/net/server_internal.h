// Private to src/net: the state a Server shares with its sessions.
//
// Sessions hold a shared_ptr to it, so it outlives the Server object while connections
// drain. The acceptor and the shutdown bookkeeping run on `strand`; each session has its own.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "base/random.h"
#include "net/router.h"
#include "net/server.h"

namespace chtlink::net {

// What the server needs from a session, whatever its stream type.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Both post to the session's strand and may be called from any thread.
  // Closes the connection if idle; otherwise its current request is answered with
  // Connection: close.
  virtual void beginShutdown() = 0;
  // Closes the connection now, whatever it is doing.
  virtual void forceClose() = 0;
};

struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(boost::asio::io_context& io, ServerOptions opts, Router r,
              std::shared_ptr<spdlog::logger> access);

  boost::asio::io_context& ioc;
  const ServerOptions options;
  const Router router;
  const std::shared_ptr<spdlog::logger> access_log;    // may be null
  const std::shared_ptr<spdlog::logger> error_log;     // may be null
  std::function<void(const RequestRecord&)> observer;  // set before listen(), then const
  std::optional<boost::asio::ssl::context> tls;        // set by listen(), then const

  boost::asio::strand<boost::asio::io_context::executor_type> strand;
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer retry_timer;  // accept retries after EMFILE and the like
  boost::asio::steady_timer drain_timer;
  MtRandom random;  // seeds each session's request-id generator

  std::atomic<size_t> open{0};
  std::atomic<size_t> accepted{0};
  std::atomic<bool> stopping{false};

  // Registry of live sessions, for shutdown. Touched once per connection, never per request.
  void add(SessionBase* session);
  void remove(SessionBase* session);
  std::vector<std::shared_ptr<SessionBase>> liveSessions();

  // Strand-only shutdown bookkeeping.
  void startShutdown(std::chrono::milliseconds drain, std::function<void()> done);
  void maybeFinishShutdown();
  bool finished = false;
  std::vector<std::function<void()>> done_callbacks;

  void doAccept();

 private:
  void onAccept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);

  std::mutex mu_;
  std::unordered_set<SessionBase*> sessions_;  // guarded by mu_
};

// Starts serving `socket` (accepted on its own strand). When `refuse` is set the session
// answers 503 (too many connections) and closes.
void startSession(std::shared_ptr<ServerState> server, boost::asio::ip::tcp::socket socket,
                  bool refuse);

}  // namespace chtlink::net
