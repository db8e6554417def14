#include "net/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace chtlink::net {

namespace {

// A pattern may capture at most this many parameters; matching keeps captures in a fixed
// array so the hot path does not allocate for them.
constexpr size_t kMaxParams = 16;

struct Route {
  std::string pattern;
  std::vector<std::string> param_names;  // in capture order; a catch-all is last
  std::vector<std::pair<std::string, Handler>> methods;

  const Handler* find(std::string_view method) const {
    for (const auto& [m, h] : methods) {
      if (m == method || m == "*") return &h;
    }
    return nullptr;
  }
};

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Compares a literal pattern segment with a raw path segment, decoding %XX in the latter on
// the fly (so "/jobs/de%61d" reaches "/jobs/dead") without allocating.
bool literalMatches(std::string_view literal, std::string_view segment) {
  if (segment.find('%') == std::string_view::npos) return literal == segment;
  size_t j = 0;
  for (size_t i = 0; i < segment.size(); ++i, ++j) {
    if (j >= literal.size()) return false;
    char c = segment[i];
    if (c == '%' && i + 2 < segment.size()) {
      int hi = hexValue(segment[i + 1]);
      int lo = hexValue(segment[i + 2]);
      if (hi >= 0 && lo >= 0) {
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    }
    if (literal[j] != c) return false;
  }
  return j == literal.size();
}

bool validParamName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

struct Router::Node {
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
  std::unique_ptr<Node> param;
  std::unique_ptr<Route> route;      // a pattern ends at this node
  std::unique_ptr<Route> catch_all;  // "{rest...}" at this position

  Node* literalChild(std::string_view segment) {
    for (auto& [lit, child] : literals) {
      if (lit == segment) return child.get();
    }
    literals.emplace_back(std::string(segment), std::make_unique<Node>());
    return literals.back().second.get();
  }
};

namespace {

struct Captures {
  std::array<std::string_view, kMaxParams> values;
  size_t size = 0;
};

// A cursor over "/a/b/c": `pos` is where the current segment starts, just past its '/';
// `done` means the whole path has been consumed.
struct Cursor {
  std::string_view path;
  size_t pos;
  bool done;

  std::string_view segment() const {
    size_t slash = path.find('/', pos);
    return path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
  }
  Cursor next() const {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) return {path, path.size(), true};
    return {path, slash + 1, false};
  }
};

// Depth-first: literal children, then the parameter child, then a catch-all, so the most
// specific pattern that accepts `method` wins. With `method` empty, visits every route whose
// pattern matches and reports it to `seen` (used to build the Allow header).
template <typename Node, typename Seen>
const Route* find(const Node& node, Cursor at, std::string_view method, Captures& caps,
                  Seen&& seen) {
  if (at.done) {
    if (node.route) {
      if (method.empty()) {
        seen(*node.route);
      } else if (node.route->find(method)) {
        return node.route.get();
      }
    }
    return nullptr;
  }
  std::string_view seg = at.segment();
  Cursor next = at.next();
  for (const auto& [lit, child] : node.literals) {
    if (literalMatches(lit, seg)) {
      if (const Route* r = find(*child, next, method, caps, seen)) return r;
    }
  }
  if (node.param && !seg.empty() && caps.size < kMaxParams) {
    caps.values[caps.size++] = seg;
    if (const Route* r = find(*node.param, next, method, caps, seen)) return r;
    --caps.size;
  }
  if (node.catch_all && caps.size < kMaxParams) {
    if (method.empty()) {
      seen(*node.catch_all);
    } else if (node.catch_all->find(method)) {
      caps.values[caps.size++] = at.path.substr(at.pos);
      return node.catch_all.get();
    }
  }
  return nullptr;
}

void addAllowed(std::vector<std::string>& allowed, std::string_view method) {
  if (std::find(allowed.begin(), allowed.end(), method) == allowed.end()) {
    allowed.emplace_back(method);
  }
}

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
  auto fail = [&](std::string_view why) {
    throw std::invalid_argument(fmt::format("route {} {}: {}", method, pattern, why));
  };
  if (method.empty()) fail("empty method");
  if (pattern.empty() || pattern.front() != '/') fail("pattern must start with '/'");
  if (!handler) fail("empty handler");

  Node* node = root_.get();
  std::vector<std::string> names;
  bool catch_all = false;
  Cursor at{pattern, 1, false};
  while (!at.done) {
    std::string_view seg = at.segment();
    Cursor next = at.next();
    if (!seg.empty() && seg.front() == '{') {
      if (seg.size() < 3 || seg.back() != '}') fail("unterminated parameter");
      std::string_view name = seg.substr(1, seg.size() - 2);
      bool rest = name.size() > 3 && name.substr(name.size() - 3) == "...";
      if (rest) name.remove_suffix(3);
      if (!validParamName(name)) fail("parameter names use letters, digits and '_'");
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        fail("parameter used twice");
      }
      names.emplace_back(name);
      if (names.size() > kMaxParams) fail("too many parameters");
      if (rest) {
        if (!next.done) fail("a {name...} catch-all must be the last segment");
        catch_all = true;
        break;
      }
      if (!node->param) node->param = std::make_unique<Node>();
      node = node->param.get();
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos) fail("stray '{' or '}'");
      node = node->literalChild(seg);
    }
    at = next;
  }

  std::unique_ptr<Route>& slot = catch_all ? node->catch_all : node->route;
  if (!slot) {
    slot = std::make_unique<Route>();
    slot->pattern = std::string(pattern);
    slot->param_names = std::move(names);
  } else if (slot->param_names != names) {
    fail(fmt::format("same shape as {} with other parameter names", slot->pattern));
  }
  for (const auto& entry : slot->methods) {
    if (entry.first == method) fail("added twice");
  }
  slot->methods.emplace_back(std::string(method), std::move(handler));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  if (path.empty() || path.front() != '/') {
    m.refusal = Response::error(404, "not_found", fmt::format("no route for {} {}", method, path));
    return m;
  }
  Cursor start{path, 1, false};
  auto ignore = [](const Route&) {};
  Captures caps;
  const Route* route = find(*root_, start, method, caps, ignore);
  std::string_view used_method = method;
  if (!route && method == "HEAD") {
    caps.size = 0;
    route = find(*root_, start, "GET", caps, ignore);
    used_method = "GET";
  }
  if (route) {
    m.handler = route->find(used_method);
    m.pattern = route->pattern;
    m.params.reserve(caps.size);
    for (size_t i = 0; i < caps.size; ++i) {
      bool is_rest = i + 1 == caps.size && route->pattern.ends_with("...}");
      // A {name} is a value and is decoded (so "%2F" stays inside it); a {rest...} is a
      // path and is handed on exactly as received.
      m.params.push_back(PathParam{route->param_names[i], is_rest ? std::string(caps.values[i])
                                                                  : percentDecode(caps.values[i])});
    }
    return m;
  }

  std::vector<std::string> allowed;
  Captures scratch;
  find(*root_, start, std::string_view{}, scratch, [&](const Route& r) {
    for (const auto& entry : r.methods) {
      addAllowed(allowed, entry.first);
      if (entry.first == "GET") addAllowed(allowed, "HEAD");
    }
  });
  if (allowed.empty()) {
    m.refusal = Response::error(404, "not_found", fmt::format("no route for {} {}", method, path));
    return m;
  }
  std::string allow = fmt::format("{}", fmt::join(allowed, ", "));
  m.refusal =
      Response::error(405, "method_not_allowed",
                      fmt::format("{} is not allowed on {} (allowed: {})", method, path, allow));
  m.refusal->headers.set("Allow", allow);
  return m;
}

}  // namespace chtlink::net
