#include "script/platform.h"

#include <js/Initialization.h>

namespace chtlink::script {

Result<std::unique_ptr<Platform>> Platform::initialize() {
  if (const char* failure = JS_InitWithFailureDiagnostic()) {
    return internalError(std::string("cannot initialise the JavaScript engine: ") + failure,
                         "script_init_failed");
  }
  return std::unique_ptr<Platform>(new Platform());
}

Platform::~Platform() { JS_ShutDown(); }

}  // namespace chtlink::script
