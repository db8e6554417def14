// parseUrl (declared in net/client.h).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "net/client.h"

namespace chtlink::net {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

bool isHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool isIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

Result<Url> parseUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return invalidArgument(fmt::format("invalid URL '{}': {}", url, why), "bad_url");
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected http://host/... or https://host/...");
  Url out;
  out.scheme = lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    return bad(fmt::format("scheme '{}' is not http or https", url.substr(0, sep)));
  }
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target =
      auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported; pass them as request auth");
  }

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected characters after the IPv6 address");
      port = after.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), isIpv6Char)) {
      return bad("malformed IPv6 address");
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (!std::all_of(host.begin(), host.end(), isHostChar)) return bad("malformed host name");
  }
  if (host.empty()) return bad("no host");
  out.host = std::string(host);

  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad(fmt::format("port '{}' is not a number from 1 to 65535", port));
    }
    out.port = static_cast<uint16_t>(value);
  }

  target = target.substr(0, target.find('#'));  // fragments never go on the wire
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return bad("the path and query must be ASCII without spaces (percent-encode them)");
    }
  }
  if (target.empty()) {
    out.target = "/";
  } else if (target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

}  // namespace chtlink::net
