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
    for (auto& thread : threads_) thread.join();
  }

  Status start() {
    const int count = std::max(1, options_.threads);
    std::vector<std::future<Status>> started;
    for (int i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<Worker>(options_, watchdog_, i));
    }
    for (int i = 0; i < count; ++i) {
      auto promise = std::make_shared<std::promise<Status>>();
      started.push_back(promise->get_future());
      threads_.emplace_back(
          [this, i, promise] { run(*workers_[static_cast<size_t>(i)], *promise); });
    }
    Status result;
    for (auto& future : started) {
      Status status = future.get();
      if (!status && result) result = std::move(status);
    }
    return result;
  }

  void post(std::string doc_json, std::function<void(Session&)> work) override {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(Task{std::move(doc_json), std::move(work)});
    }
    ready_.notify_one();
  }

 private:
  void run(Worker& worker, std::promise<Status>& started) {
    Status status = worker.start();
    const bool usable = status.has_value();
    started.set_value(std::move(status));
    if (!usable) {
      worker.stop();
      return;
    }
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
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
