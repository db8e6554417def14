// UTF-8 decoding shared by the outbound engine's JavaScript-compatible string handling.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace chtlink::cht::outbound {

// The code points of `text`, leniently: a truncated sequence at the end yields what was read.
std::vector<uint32_t> utf8CodePoints(std::string_view text);

}  // namespace chtlink::cht::outbound
