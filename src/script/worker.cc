#include <fmt/format.h>
#include <js/CallAndConstruct.h>
#include <js/CompilationAndEvaluation.h>
#include <js/Conversions.h>
#include <js/Exception.h>
#include <js/GlobalObject.h>
#include <js/Initialization.h>
#include <js/Interrupt.h>
#include <js/JSON.h>
#include <js/Realm.h>
#include <js/SourceText.h>
#include <js/Stack.h>

#include "script/watchdog_internal.h"
#include "script/worker_internal.h"

namespace chtlink::script {
namespace {

// The engine's default heap before JSGC_MAX_BYTES lowers it.
constexpr uint32_t kInitialHeapBytes = 512u * 1024u * 1024u;
// Native stack the scripts may use; deep recursion ends as "too much recursion" well before
// the thread's own stack (8 MiB on Linux, less usable under AddressSanitizer) runs out.
constexpr size_t kStackQuotaBytes = 1024 * 1024;
constexpr size_t kExpressionInMessage = 200;

const JSClass kGlobalClass = {
    "global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps, nullptr, nullptr, nullptr};

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// JSON.stringify escapes lone surrogates (well-formed JSON.stringify), so the text handed to
// this conversion has only valid pairs; a stray one becomes U+FFFD rather than invalid UTF-8.
bool appendUtf16(const char16_t* buf, uint32_t len, void* data) {
  auto& out = *static_cast<std::string*>(data);
  for (uint32_t i = 0; i < len; ++i) {
    uint32_t unit = buf[i];
    if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < len && buf[i + 1] >= 0xDC00 &&
        buf[i + 1] <= 0xDFFF) {
      uint32_t low = buf[++i];
      appendUtf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
    } else if (unit >= 0xD800 && unit <= 0xDFFF) {
      appendUtf8(out, 0xFFFD);
    } else {
      appendUtf8(out, unit);
    }
  }
  return true;
}

std::string shortened(std::string_view expression) {
  if (expression.size() <= kExpressionInMessage) return std::string(expression);
  return std::string(expression.substr(0, kExpressionInMessage)) + "...";
}

// The pending exception as "TypeError: message"; clears it.
std::string takeExceptionText(JSContext* cx) {
  JS::RootedValue exception(cx);
  if (!JS_GetPendingException(cx, &exception)) {
    JS_ClearPendingException(cx);
    return "unknown error";
  }
  JS_ClearPendingException(cx);
  JS::RootedString text(cx, JS::ToString(cx, exception));
  if (!text) {
    JS_ClearPendingException(cx);
    return "an exception that cannot be converted to a string";
  }
  JS::UniqueChars utf8 = JS_EncodeStringToUTF8(cx, text);
  if (!utf8) {
    JS_ClearPendingException(cx);
    return "an exception that cannot be converted to a string";
  }
  return utf8.get();
}

}  // namespace

Worker::Worker(const EngineOptions& options, Watchdog& watchdog, int index)
    : options_(options), watchdog_(watchdog), index_(index) {}

Worker::~Worker() { stop(); }

Status Worker::start() {
  cx_ = JS_NewContext(kInitialHeapBytes);
  if (cx_ == nullptr) {
    return internalError("cannot create a JavaScript context", "script_init_failed");
  }
  JS_SetContextPrivate(cx_, this);
  JS_SetGCParameter(cx_, JSGC_MAX_BYTES, static_cast<uint32_t>(options_.memory_limit_bytes));
  JS_SetNativeStackQuota(cx_, kStackQuotaBytes);
  if (!JS::InitSelfHostedCode(cx_)) {
    return internalError("cannot initialise the JavaScript context's built-ins",
                         "script_init_failed");
  }
  JS_AddInterruptCallback(cx_, &Worker::onInterrupt);
  JS::RealmOptions realm_options;
  global_ = std::make_unique<JS::PersistentRootedObject>(
      cx_, JS_NewGlobalObject(cx_, &kGlobalClass, nullptr, JS::FireOnNewGlobalHook, realm_options));
  if (!global_->get())
    return internalError("cannot create a JavaScript global", "script_init_failed");
  realm_ = std::make_unique<JSAutoRealm>(cx_, global_->get());
  if (!JS::InitRealmStandardClasses(cx_)) {
    return internalError("cannot create the JavaScript built-ins", "script_init_failed");
  }
  return ok();
}

void Worker::stop() {
  if (cx_ == nullptr) return;
  scripts_.clear();
  realm_.reset();
  global_.reset();
  JS_DestroyContext(cx_);
  cx_ = nullptr;
}

bool Worker::onInterrupt(JSContext* cx) {
  auto* self = static_cast<Worker*>(JS_GetContextPrivate(cx));
  // Returning false stops the script with an uncatchable termination; a request meant for an
  // evaluation that already ended (generation mismatch) is ignored.
  return self->interrupted_generation_.load() != self->generation_.load();
}

void Worker::interruptIfStill(uint64_t generation) {
  if (generation_.load() != generation) return;
  interrupted_generation_.store(generation);
  JS_RequestInterruptCallback(cx_);
}

Result<JSScript*> Worker::compile(std::string_view expression, std::string_view label) {
  auto found = scripts_.find(std::string(expression));
  if (found != scripts_.end()) return found->second->get();
  JS::CompileOptions compile_options(cx_);
  compile_options.setFileAndLine("expression", 1).setNonSyntacticScope(true);
  JS::SourceText<mozilla::Utf8Unit> source;
  if (!source.init(cx_, expression.data(), expression.size(), JS::SourceOwnership::Borrowed)) {
    return scriptFailure(expression, label);
  }
  JS::RootedScript script(cx_, JS::Compile(cx_, compile_options, source));
  if (!script) return scriptFailure(expression, label);
  if (scripts_.size() >= options_.max_cached_scripts) scripts_.clear();
  scripts_.emplace(std::string(expression),
                   std::make_unique<JS::PersistentRootedScript>(cx_, script));
  return script.get();
}

Error Worker::scriptFailure(std::string_view expression, std::string_view label) {
  if (interrupted_generation_.load() == generation_.load()) {
    JS_ClearPendingException(cx_);
    return deadlineExceeded(
        fmt::format("{}: JavaScript expression exceeded the time limit of {} ms (expression: {})",
                    label, options_.time_limit.count(), shortened(expression)),
        "script_timeout");
  }
  if (JS_IsThrowingOutOfMemory(cx_)) {
    JS_ClearPendingException(cx_);
    JS_GC(cx_);
    return tooLarge(fmt::format("{}: JavaScript expression exceeded the memory limit of {} bytes "
                                "(expression: {})",
                                label, options_.memory_limit_bytes, shortened(expression)),
                    "script_memory");
  }
  if (!JS_IsExceptionPending(cx_)) {
    return internalError(
        fmt::format("{}: JavaScript expression stopped without an exception (expression: {})",
                    label, shortened(expression)),
        "script_error");
  }
  std::string message = takeExceptionText(cx_);
  return invalidArgument(fmt::format("{}: JavaScript error: {} (expression: {})", label, message,
                                     shortened(expression)),
                         "script_error");
}

Result<Value> Worker::evaluate(std::string_view expression, std::string_view label,
                               JS::HandleString doc_text) {
  const uint64_t generation = generation_.load() + 1;
  generation_.store(generation);
  watchdog_.arm(*this, generation, std::chrono::steady_clock::now() + options_.time_limit);
  struct Disarm {
    Watchdog& watchdog;
    Worker& worker;
    ~Disarm() { watchdog.disarm(worker); }
  } disarm{watchdog_, *this};

  CHTLINK_ASSIGN_OR_RETURN(JSScript * compiled, compile(expression, label));
  JS::RootedScript script(cx_, compiled);
  JS::RootedValue doc(cx_);
  if (!JS_ParseJSON(cx_, doc_text, &doc)) {
    std::string message = takeExceptionText(cx_);
    return invalidArgument(fmt::format("{}: the document is not valid JSON: {}", label, message),
                           "script_bad_document");
  }
  JS::RootedObject scope(cx_, JS_NewPlainObject(cx_));
  if (!scope || !JS_DefineProperty(cx_, scope, "doc", doc, JSPROP_ENUMERATE)) {
    return scriptFailure(expression, label);
  }
  JS::RootedObjectVector scope_chain(cx_);
  if (!scope_chain.append(scope)) return scriptFailure(expression, label);
  JS::RootedValue result(cx_);
  if (!JS_ExecuteScript(cx_, scope_chain, script, &result)) {
    return scriptFailure(expression, label);
  }
  Value value;
  value.undefined = result.isUndefined();
  value.truthy = JS::ToBoolean(result);
  // JSON.stringify yields undefined for these; JS_Stringify would write "null" instead.
  const bool unserialisable = result.isUndefined() || result.isSymbol() ||
                              (result.isObject() && JS::IsCallable(&result.toObject()));
  if (!unserialisable) {
    std::string json;
    JS::RootedValue to_stringify(cx_, result);
    if (!JS_Stringify(cx_, &to_stringify, nullptr, JS::NullHandleValue, &appendUtf16, &json)) {
      return scriptFailure(expression, label);
    }
    value.json = std::move(json);
  }
  JS_MaybeGC(cx_);
  return value;
}

}  // namespace chtlink::script
