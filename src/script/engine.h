// Engine: a sandboxed JavaScript evaluator (SpiderMonkey 102) for outbound rules.
//
// CHT evaluates app_settings.outbound `relevant_to` and mapping `expr` strings in a fresh V8
// context whose only global binding is `doc`. Engine reproduces that: each expression runs
// with `doc` (parsed from JSON text, so a mutation by one expression is not seen by the next)
// and the language built-ins (Date, Math, JSON, ...) and nothing else: no require, console,
// timers, file or network access. Results come back as JSON text produced by JSON.stringify
// inside the engine, so numbers and strings are formatted as V8 formats them.
//
// Sandbox limits, per evaluation: a time limit (a watchdog thread interrupts the script
// through JS_RequestInterruptCallback, so `while(true){}` is an error, not a hang) and a memory
// limit (the GC heap maximum; a huge allocation is an out-of-memory error). After any error
// the engine is usable again.
//
// Threads: evaluations run on the engine's own pool (never on an I/O thread). Each pool thread
// owns one JSContext and one global (realm), reused for every document; compiled scripts are
// cached per thread. Work is posted as a function that receives a Session bound to one
// document, so a caller evaluates all the expressions of a document in one hop.
//
// Thread-safety: post() and evaluateSync() may be called from any thread. A Session is used
// only inside the function it was passed to.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace spdlog {
class logger;
}

namespace chtlink::script {

class Platform;

struct EngineOptions {
  // Pool threads, each with its own JSContext. More threads = more documents in parallel.
  int threads = 2;
  // Wall-clock limit for one expression; past it the script is stopped (DeadlineExceeded).
  std::chrono::milliseconds time_limit{1'000};
  // Maximum GC heap of one pool thread; an expression that needs more fails (TooLarge).
  size_t memory_limit_bytes = 64 * 1024 * 1024;
  // Compiled expressions kept per thread (configurations repeat the same few expressions).
  size_t max_cached_scripts = 1024;
};

// The value of one expression.
struct Value {
  bool undefined = true;  // the value is `undefined` (CHT: "expr evaluated to undefined")
  bool truthy = false;    // JavaScript ToBoolean(value), for relevant_to
  // JSON.stringify(value); absent when it yields undefined (undefined, functions, symbols).
  std::optional<std::string> json;
};

// One document's evaluations, on a pool thread.
class Session {
 public:
  virtual ~Session() = default;
  // Evaluates `expression` with global `doc`. `label` names where the expression comes from
  // ("outbound config 'FHIR_patient', mapping 'name'") and starts every error message, which
  // also carries the JavaScript message. Errors: InvalidArgument (syntax or thrown error,
  // reason "script_error"), DeadlineExceeded ("script_timeout"), TooLarge ("script_memory").
  virtual Result<Value> evaluate(std::string_view expression, std::string_view label) = 0;
  // The document as given to post(), for callers that also need it on the C++ side.
  virtual std::string_view docJson() const = 0;
};

class Engine {
 public:
  // Starts the pool. `platform` must outlive the engine. `logger` may be null.
  static Result<std::unique_ptr<Engine>> create(Platform& platform, EngineOptions options,
                                                std::shared_ptr<spdlog::logger> logger);
  virtual ~Engine() = default;  // Finishes queued work, then stops the threads.

  // Runs `work` on a pool thread with a Session over `doc_json` (a JSON object). `work` must
  // not throw. If `doc_json` is not valid JSON every evaluate() of the session fails.
  virtual void post(std::string doc_json, std::function<void(Session&)> work) = 0;

  // post() and wait. Never call it on an I/O thread or a pool thread.
  template <typename T>
  Result<T> runSync(std::string doc_json, std::function<Result<T>(Session&)> work);

  // Convenience: one expression, waited for.
  Result<Value> evaluateSync(std::string doc_json, std::string expression,
                             std::string label = "expression");
};

}  // namespace chtlink::script

#include "script/engine_inl.h"
