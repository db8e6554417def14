// Platform: owns SpiderMonkey's process-wide state (JS_Init / JS_ShutDown).
//
// SpiderMonkey keeps tables that every JSContext of the process shares, set up by JS_Init and
// torn down by JS_ShutDown; both may be called only once per process, and JS_ShutDown only
// after every context is gone. chtlink keeps that lifetime in one object created by the
// composition root (main, `serve`, a CLI command) and passed by reference to every Engine,
// instead of a hidden static: create exactly one Platform per process, before any Engine,
// and destroy it after the last Engine.
#pragma once

#include <memory>

#include "base/result.h"

namespace chtlink::script {

class Platform {
 public:
  // Calls JS_Init. Internal error if SpiderMonkey cannot initialise.
  static Result<std::unique_ptr<Platform>> initialize();
  ~Platform();  // Calls JS_ShutDown.

  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

 private:
  Platform() = default;
};

}  // namespace chtlink::script
