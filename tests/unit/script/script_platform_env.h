// The one script::Platform of a test process (SpiderMonkey allows one JS_Init per process),
// held by a GoogleTest environment that main() sets up before the first test and tears down
// after the last.
#pragma once

#include "script/platform.h"

namespace chtlink::script::testing {

// The process's Platform; valid from the environment's SetUp() until its TearDown().
Platform& platform();

}  // namespace chtlink::script::testing
