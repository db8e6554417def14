#include "net/event_loop.h"

#include <fmt/format.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace chtlink::net {

namespace asio = boost::asio;

struct EventLoop::State {
  State(int n, std::shared_ptr<spdlog::logger> log)
      : threads(std::max(1, n)), error_log(std::move(log)), ioc(threads) {}

  // Runs user code at the Asio edge: whatever it throws is reported here, never unwound
  // through Asio (which would end the I/O thread and the process).
  template <typename F>
  void guarded(const char* what, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      report(what, e.what());
    } catch (...) {
      report(what, "unknown exception");
    }
  }

  void report(const char* what, const char* message) noexcept {
    try {
      if (error_log) {
        error_log->error("event loop: {} threw: {}", what, message);
      } else {
        fmt::print(stderr, "chtlink event loop: {} threw: {}\n", what, message);
      }
    } catch (...) {  // NOLINT(bugprone-empty-catch): nowhere left to report to
    }
  }

  const int threads;
  const std::shared_ptr<spdlog::logger> error_log;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;

  std::mutex mu;
  std::condition_variable stopped_cv;
  bool started = false;
  bool stopped = false;
  bool joining = false;
  bool joined = false;
  std::vector<std::thread> workers;
  std::vector<std::thread::id> worker_ids;
  std::vector<std::unique_ptr<asio::signal_set>> signal_sets;

  // REQUIRES: mu held.
  bool onIoThread() const {
    return std::find(worker_ids.begin(), worker_ids.end(), std::this_thread::get_id()) !=
           worker_ids.end();
  }
};

EventLoop::EventLoop(int threads, std::shared_ptr<spdlog::logger> error_log)
    : state_(std::make_unique<State>(threads, std::move(error_log))) {}

EventLoop::~EventLoop() {
  stop();
  join();
}

void EventLoop::start() {
  std::lock_guard lock(state_->mu);
  if (state_->started || state_->stopped) return;
  state_->started = true;
  state_->work.emplace(state_->ioc.get_executor());
  state_->workers.reserve(static_cast<size_t>(state_->threads));
  for (int i = 0; i < state_->threads; ++i) {
    // Completion handlers never throw (each catches at its edge); an exception reaching here
    // is a bug in net itself, and terminating loudly beats serving in an unknown state.
    state_->workers.emplace_back([this] { state_->ioc.run(); });
    state_->worker_ids.push_back(state_->workers.back().get_id());
  }
}

void EventLoop::post(std::function<void()> fn) {
  asio::post(state_->ioc, [state = state_.get(), fn = std::move(fn)] {
    state->guarded("a posted function", fn);
  });
}

void EventLoop::onSignal(std::initializer_list<int> signals, std::function<void(int)> fn) {
  auto set = std::make_unique<asio::signal_set>(state_->ioc);
  for (int s : signals) set->add(s);
  set->async_wait(
      [state = state_.get(), fn = std::move(fn)](const boost::system::error_code& ec, int signal) {
        if (!ec) state->guarded("a signal callback", [&] { fn(signal); });
      });
  std::lock_guard lock(state_->mu);
  state_->signal_sets.push_back(std::move(set));
}

void EventLoop::stop() {
  bool on_io_thread;
  {
    std::lock_guard lock(state_->mu);
    on_io_thread = state_->onIoThread();
    if (!state_->stopped) {
      state_->stopped = true;
      state_->work.reset();
      state_->ioc.stop();
    }
  }
  state_->stopped_cv.notify_all();
  // Called from an I/O thread (a signal handler, say) it cannot join itself; join() does.
  if (!on_io_thread) join();
}

void EventLoop::join() {
  std::unique_lock lock(state_->mu);
  state_->stopped_cv.wait(lock, [&] { return state_->stopped; });
  if (state_->onIoThread()) return;
  if (state_->joining) {
    state_->stopped_cv.wait(lock, [&] { return state_->joined; });
    return;
  }
  state_->joining = true;
  std::vector<std::thread> workers = std::move(state_->workers);
  lock.unlock();
  for (auto& t : workers) t.join();
  lock.lock();
  state_->joined = true;
  lock.unlock();
  state_->stopped_cv.notify_all();
}

int EventLoop::threads() const { return state_->threads; }

void* EventLoop::nativeContext() { return &state_->ioc; }

}  // namespace chtlink::net
