#include "him/channel.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "him/schedule.h"

namespace chtlink::him {
namespace {

constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH"};

Result<std::shared_ptr<const std::regex>> compile(const std::string& source) {
  try {
    return std::make_shared<const std::regex>(source, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return invalidArgument(
        fmt::format("'{}' is not a valid regular expression: {}", source, e.what()), "bad_regex");
  }
}

std::string stringField(const Json& doc, const char* key, std::string fallback = "") {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

bool boolField(const Json& doc, const char* key, bool fallback) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

std::vector<std::string> stringList(const Json& doc, const char* key) {
  std::vector<std::string> out;
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// Ports arrive as numbers or strings ("6000" in the cht mediator's config).
Result<uint16_t> portField(const Json& route) {
  auto it = route.find("port");
  if (it == route.end() || it->is_null()) return static_cast<uint16_t>(80);
  int64_t port = -1;
  if (it->is_number_integer()) {
    port = it->get<int64_t>();
  } else if (it->is_string()) {
    try {
      size_t used = 0;
      std::string s = it->get<std::string>();
      port = std::stoll(s, &used);
      if (used != s.size()) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535)
    return invalidArgument(fmt::format("route port {} is not a port number", it->dump()),
                           "bad_port");
  return static_cast<uint16_t>(port);
}

struct Sed {
  std::string from;
  std::string to;
  bool global = false;
};

Result<Sed> parseSed(std::string_view transform) {
  // Split on unescaped slashes; "\/" stays a literal slash in the pieces.
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < transform.size(); ++i) {
    if (transform[i] == '\\' && i + 1 < transform.size() && transform[i + 1] == '/') {
      parts.back() += '/';
      ++i;
    } else if (transform[i] == '/') {
      parts.emplace_back();
    } else {
      parts.back() += transform[i];
    }
  }
  if (parts.size() < 3 || parts.size() > 4 || parts[0] != "s") {
    return invalidArgument(
        fmt::format("pathTransform '{}' must have the form s/from/to or s/from/to/g", transform),
        "bad_path_transform");
  }
  // In a JS RegExp a bare "/" inside `from` came from "\/"; std::regex reads it literally.
  return Sed{parts[1], parts[2], parts.size() == 4 && parts[3] == "g"};
}

}  // namespace

Result<Channel> parseChannel(const Json& doc, int64_t order) {
  if (!doc.is_object()) return invalidArgument("a channel must be a JSON object", "bad_channel");
  Channel c;
  c.id = stringField(doc, "_id");
  c.name = stringField(doc, "name");
  c.type = stringField(doc, "type", "http");
  c.url_pattern = stringField(doc, "urlPattern");
  c.order = order;
  auto compiled = compile(c.url_pattern);
  if (!compiled.has_value())
    return compiled.error().withContext(fmt::format("channel '{}': urlPattern", c.name));
  c.pattern = std::move(compiled).value();
  c.methods = stringList(doc, "methods");
  if (auto it = doc.find("priority"); it != doc.end() && it->is_number())
    c.priority = it->get<int64_t>();
  std::string status = stringField(doc, "status", "enabled");
  c.enabled = status == "enabled";
  c.is_public = stringField(doc, "authType", "private") == "public";
  c.allow = stringList(doc, "allow");
  c.whitelist = stringList(doc, "whitelist");
  c.match_content_types = stringList(doc, "matchContentTypes");
  if (auto it = doc.find("timeout"); it != doc.end() && it->is_number() && it->get<int64_t>() > 0)
    c.timeout = std::chrono::milliseconds(it->get<int64_t>());
  c.request_body = boolField(doc, "requestBody", true);
  c.response_body = boolField(doc, "responseBody", true);
  c.polling_schedule = stringField(doc, "pollingSchedule");
  if (auto it = doc.find("routes"); it != doc.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) continue;
      if (stringField(r, "status", "enabled") != "enabled") continue;
      Route route;
      route.name = stringField(r, "name");
      route.host = stringField(r, "host");
      auto port = portField(r);
      if (!port.has_value())
        return port.error().withContext(fmt::format("channel '{}' route '{}'", c.name, route.name));
      route.port = *port;
      route.path = stringField(r, "path");
      route.path_transform = stringField(r, "pathTransform");
      route.primary = boolField(r, "primary", false);
      route.secured = boolField(r, "secured", false);
      route.forward_auth_header = boolField(r, "forwardAuthHeader", false);
      route.username = stringField(r, "username");
      route.password = stringField(r, "password");
      route.wait_primary_response = boolField(r, "waitPrimaryResponse", false);
      c.routes.push_back(std::move(route));
    }
  }
  return c;
}

Status validateChannelDocument(const Json& doc) {
  if (!doc.is_object()) return invalidArgument("Channel must be a JSON object");
  if (stringField(doc, "name").empty())
    return invalidArgument("ValidationError: name: Path `name` is required.");
  if (stringField(doc, "urlPattern").empty())
    return invalidArgument("ValidationError: urlPattern: Path `urlPattern` is required.");
  if (auto r = compile(stringField(doc, "urlPattern")); !r.has_value()) return r.error();
  if (auto it = doc.find("priority"); it != doc.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() < 1)
      return invalidArgument("Channel priority cannot be below 1 (= Highest priority)");
  }
  if (auto it = doc.find("timeout"); it != doc.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() < 1 || it->get<double>() > 3'600'000)
      return invalidArgument("Channel timeout must be between 1 and 3600000 ms");
  }
  std::set<std::string> seen;
  for (const auto& m : stringList(doc, "methods")) {
    if (std::find(std::begin(kMethods), std::end(kMethods), m) == std::end(kMethods))
      return invalidArgument(fmt::format("Channel method '{}' is not an HTTP method", m));
    if (!seen.insert(m).second)
      return invalidArgument(fmt::format("Channel methods contain duplicates: {}", m));
  }
  std::string type = stringField(doc, "type", "http");
  if (type != "http" && type != "polling")
    return invalidArgument(fmt::format("Channel type '{}' is not supported (http, polling)", type));
  if (type == "polling") {
    if (auto schedule = PollingSchedule::parse(stringField(doc, "pollingSchedule"));
        !schedule.has_value()) {
      return invalidArgument("Polling channel: " + schedule.error().message);
    }
  }
  int primaries = 0;
  if (auto it = doc.find("routes"); it != doc.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) return invalidArgument("Channel routes must be objects");
      if (stringField(r, "name").empty())
        return invalidArgument("ValidationError: routes.name: Path `name` is required.");
      if (auto port = portField(r); !port.has_value()) return port.error();
      std::string transform = stringField(r, "pathTransform");
      if (!transform.empty()) {
        if (!stringField(r, "path").empty())
          return invalidArgument("Cannot supply both path and pathTransform to the same route");
        auto sed = parseSed(transform);
        if (!sed.has_value()) return sed.error();
        if (auto rx = compile(sed->from); !rx.has_value()) return rx.error();
      }
      if (boolField(r, "primary", false) && stringField(r, "status", "enabled") == "enabled")
        ++primaries;
    }
  }
  if (primaries == 0) return invalidArgument("Channel must have a primary route");
  if (primaries > 1) return invalidArgument("Channel cannot have a multiple primary routes");
  return ok();
}

void sortForSelection(std::vector<Channel>& channels) {
  std::stable_sort(channels.begin(), channels.end(), [](const Channel& a, const Channel& b) {
    if (a.priority.has_value() != b.priority.has_value()) return a.priority.has_value();
    if (a.priority && *a.priority != *b.priority) return *a.priority < *b.priority;
    return a.order < b.order;
  });
}

const Channel* selectChannel(const std::vector<Channel>& channels, std::string_view method,
                             std::string_view path, std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  for (const Channel& c : channels) {
    if (!c.enabled || c.type != "http") continue;
    if (std::find(c.methods.begin(), c.methods.end(), method) == c.methods.end()) continue;
    if (!c.match_content_types.empty() &&
        std::find(c.match_content_types.begin(), c.match_content_types.end(), media) ==
            c.match_content_types.end()) {
      continue;
    }
    if (!std::regex_search(path.begin(), path.end(), *c.pattern)) continue;
    return &c;
  }
  return nullptr;
}

Result<std::string> transformPath(std::string_view path, std::string_view transform) {
  CHTLINK_ASSIGN_OR_RETURN(Sed sed, parseSed(transform));
  CHTLINK_ASSIGN_OR_RETURN(auto rx, compile(sed.from));
  auto flags =
      sed.global ? std::regex_constants::format_default : std::regex_constants::format_first_only;
  return std::regex_replace(std::string(path), *rx, sed.to, flags);
}

std::optional<std::chrono::milliseconds> parsePollingSchedule(std::string_view schedule) {
  while (!schedule.empty() && schedule.front() == ' ') schedule.remove_prefix(1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(schedule.data(), schedule.data() + schedule.size(), n);
  if (ec != std::errc() || n <= 0) return std::nullopt;
  std::string_view unit(end, static_cast<size_t>(schedule.data() + schedule.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  while (!unit.empty() && unit.back() == ' ') unit.remove_suffix(1);
  if (unit.size() > 1 && unit.back() == 's') unit.remove_suffix(1);
  using namespace std::chrono;
  if (unit == "second") return duration_cast<milliseconds>(seconds(n));
  if (unit == "minute") return duration_cast<milliseconds>(minutes(n));
  if (unit == "hour") return duration_cast<milliseconds>(hours(n));
  if (unit == "day") return duration_cast<milliseconds>(hours(24 * n));
  return std::nullopt;
}

Result<std::string> upstreamPath(const Route& route, std::string_view path) {
  if (!route.path.empty()) return route.path;
  if (!route.path_transform.empty()) return transformPath(path, route.path_transform);
  return std::string(path);
}

}  // namespace chtlink::him
