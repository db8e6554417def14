#include "cht/outbound/utf8.h"

namespace chtlink::cht::outbound {

std::vector<uint32_t> utf8CodePoints(std::string_view text) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    uint32_t cp = byte;
    size_t length = 1;
    if (byte >= 0xF0) {
      cp = byte & 0x07u;
      length = 4;
    } else if (byte >= 0xE0) {
      cp = byte & 0x0Fu;
      length = 3;
    } else if (byte >= 0xC0) {
      cp = byte & 0x1Fu;
      length = 2;
    }
    for (size_t j = 1; j < length && i + j < text.size(); ++j) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + j]) & 0x3Fu);
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

}  // namespace chtlink::cht::outbound
