// One pool thread of the Engine: owns a JSContext, its global and its compiled-script cache.
// Private to src/script; JSAPI types appear only here and in the .cc files.
#pragma once

#include <jsapi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"
#include "script/engine.h"

namespace chtlink::script {

class Watchdog;

class Worker {
 public:
  Worker(const EngineOptions& options, Watchdog& watchdog, int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Called on the pool thread: creates the context and global. Must precede evaluate().
  Status start();
  // Called on the pool thread before it exits: frees the context.
  void stop();

  Result<Value> evaluate(std::string_view expression, std::string_view label,
                         JS::HandleString doc_text);
  JSContext* context() const { return cx_; }
  JSObject* global() const { return global_ ? global_->get() : nullptr; }

  // Watchdog side (any thread).
  void interruptIfStill(uint64_t generation);
  int index() const { return index_; }

 private:
  static bool onInterrupt(JSContext* cx);
  Result<JSScript*> compile(std::string_view expression, std::string_view label);
  Error scriptFailure(std::string_view expression, std::string_view label);

  const EngineOptions options_;
  Watchdog& watchdog_;
  const int index_;
  JSContext* cx_ = nullptr;
  std::unique_ptr<JS::PersistentRootedObject> global_;
  std::unique_ptr<JSAutoRealm> realm_;
  std::unordered_map<std::string, std::unique_ptr<JS::PersistentRootedScript>> scripts_;
  // The evaluation in progress (generation_) and the one the watchdog stopped.
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> interrupted_generation_{0};
};

}  // namespace chtlink::script
