// EventLoop: the Asio io_context and its I/O threads (one per core by default).
//
// Network I/O runs here and nothing else: database work and JavaScript run on their own
// pools. Heavy Asio headers stay out of this header; net's .cc files reach the io_context
// through net/asio_access.h.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

namespace spdlog {
class logger;
}

namespace chtlink::net {

// Thread-safety: every method may be called from any thread; stop() and join() also from an
// I/O thread (join() then returns without waiting for the calling thread itself).
class EventLoop {
 public:
  // `error_log` receives exceptions thrown by posted functions and signal callbacks (they
  // are caught there, never left to unwind through Asio); stderr when null.
  explicit EventLoop(int threads, std::shared_ptr<spdlog::logger> error_log = nullptr);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts the I/O threads; returns at once.
  void start();
  // Runs `fn` on an I/O thread. `fn` should not throw (see the constructor).
  void post(std::function<void()> fn);
  // Calls `fn` (on an I/O thread) when one of `signals` arrives, once.
  void onSignal(std::initializer_list<int> signals, std::function<void(int)> fn);
  // Stops the io_context and joins the threads. Idempotent.
  void stop();
  // Blocks until stop() has been called and the threads have finished.
  void join();

  int threads() const;
  void* nativeContext();  // the boost::asio::io_context*, for net's own .cc files

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chtlink::net
