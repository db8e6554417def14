// Durations in configuration: "250ms", "15s", "2m", "1h", or a plain integer of milliseconds.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace chtlink::config {

Result<std::chrono::milliseconds> parseDuration(std::string_view text);
// The shortest exact form: 1500 -> "1500ms", 15000 -> "15s", 120000 -> "2m".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace chtlink::config
