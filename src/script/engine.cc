#include "script/engine.h"

#include <js/CharacterEncoding.h>
#include <js/String.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "script/watchdog_internal.h"
#include "script/worker_internal.h"

namespace chtlink::script {
namespace {

class SessionImpl final : public Session {
 public:
  SessionImpl(Worker& worker, const std::string& doc_json)
      : worker_(worker), doc_json_(doc_json), doc_text_(worker.context()) {}

  Result<Value> evaluate(std::string_view expression, std::string_view label) override {
    if (!doc_text_) {
      JSContext* cx = worker_.context();
      doc_text_ = JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(doc_json_.data(), doc_json_.size()));
      if (!doc_text_) {
        JS_ClearPendingException(cx);
        return invalidArgument(std::string(label) + ": the document is not valid UTF-8",
                               "script_bad_document");
      }
    }
    return worker_.evaluate(expression, label, doc_text_);
  }

  std::string_view docJson() const override { return doc_json_; }

 private:
  Worker& worker_;
  const std::string& doc_json_;
  JS::RootedString doc_text_;
};

struct Task {
  std::string doc_json;
  std::function<void(Session&)> work;
};

// Pool threads start on demand: the first with the engine (so a JavaScript engine that cannot
// start is an error of create()), each further one when tasks queue up: more than one waiting
// beyond the threads that are free to take them. Every thread owns a JSContext of about 3 MB
// (its runtime, the self-hosted built-ins, a GC nursery); a caller that evaluates one document
// at a time, like cht-sim's Sentinel, keeps one context instead of options.threads, while a
// page of changes posted at once (pull mode) gets every thread. Waiting for one queued task
// rather than starting a thread at once also keeps a sequential caller from starting one
// when it posts its next task before the finished thread is back at the queue.
class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineOptions options, std::shared_ptr<spdlog::logger> logger)
      : options_(options), logger_(std::move(logger)) {}

  ~EngineImpl() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    // No thread is added once stopping_ is set (post() checks it under the lock).
    for (auto& thread : threads_) thread.join();
  }

  Status start() {
    const int count = std::max(1, options_.threads);
    for (int i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<Worker>(options_, watchdog_, i));
    }
    auto promise = std::make_shared<std::promise<Status>>();
    auto started = promise->get_future();
    {
      std::lock_guard lock(mutex_);
      startThreadLocked(promise);
    }
    return started.get();
  }

  void post(std::string doc_json, std::function<void(Session&)> work) override {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(Task{std::move(doc_json), std::move(work)});
      if (!stopping_ && tasks_.size() > idle_ + 1 && threads_.size() < workers_.size()) {
        startThreadLocked(nullptr);
      }
    }
    ready_.notify_one();
  }

 private:
  // `started` (the first thread only) receives the outcome of the worker's start.
  void startThreadLocked(std::shared_ptr<std::promise<Status>> started) {
    Worker& worker = *workers_[threads_.size()];
    threads_.emplace_back([this, &worker, started] { run(worker, started.get()); });
  }

  void run(Worker& worker, std::promise<Status>* started) {
    Status status = worker.start();
    const bool usable = status.has_value();
    if (!usable && !started && logger_) {
      // The engine goes on with the threads it has.
      logger_->error("script: an extra evaluation thread could not start: {}",
                     status.error().message);
    }
    if (started) started->set_value(std::move(status));
    if (!usable) {
      worker.stop();
      return;
    }
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mutex_);
        ++idle_;
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        --idle_;
        if (tasks_.empty()) break;  // stopping, and everything queued is done
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      SessionImpl session(worker, task.doc_json);
      task.work(session);
    }
    worker.stop();
  }

  const EngineOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  Watchdog watchdog_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;
  size_t idle_ = 0;  // started threads waiting for a task
  bool stopping_ = false;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(Platform& /*platform*/, EngineOptions options,
                                               std::shared_ptr<spdlog::logger> logger) {
  if (options.time_limit.count() <= 0) {
    return invalidArgument("script time limit must be positive");
  }
  if (options.memory_limit_bytes < 1024 * 1024 ||
      options.memory_limit_bytes > 4ull * 1024 * 1024 * 1024 - 1) {
    return invalidArgument("script memory limit must be between 1 MiB and 4 GiB");
  }
  auto engine = std::make_unique<EngineImpl>(options, std::move(logger));
  CHTLINK_TRY(engine->start());
  return std::unique_ptr<Engine>(std::move(engine));
}

Result<Value> Engine::evaluateSync(std::string doc_json, std::string expression,
                                   std::string label) {
  return runSync<Value>(std::move(doc_json),
                        [&](Session& session) { return session.evaluate(expression, label); });
}

}  // namespace chtlink::script
