#include "fhir/subscription/subscription_resource.h"

#include <fmt/format.h>

#include "fhir/rest/outcome.h"
#include "net/client.h"

namespace chtlink::fhir::subscription {
namespace {

Error invalid(std::string message) { return fhirError("invalid", std::move(message)); }

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

bool isToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == '(' || c == ')' || c == ',' || c == '/' || c == ':' ||
        c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' || c == '[' ||
        c == '\\' || c == ']' || c == '{' || c == '}' || c == '"')
      return false;
  }
  return true;
}

Result<RestHook> readChannel(const Json& resource) {
  auto channel = resource.find("channel");
  if (channel == resource.end() || !channel->is_object())
    return invalid(
        "Subscription.channel is required (an object with type rest-hook and an endpoint)");
  std::string type = channel->value("type", "");
  if (type != "rest-hook")
    return invalid(fmt::format(
        "Subscription.channel.type \"{}\" is not supported: only rest-hook is supported", type));
  RestHook hook;
  auto endpoint = channel->find("endpoint");
  if (endpoint == channel->end() || !endpoint->is_string() || endpoint->get<std::string>().empty())
    return invalid(
        "Subscription.channel.endpoint is required for a rest-hook channel "
        "(the http(s) URL notifications are sent to)");
  hook.endpoint = endpoint->get<std::string>();
  auto url = net::parseUrl(hook.endpoint);
  if (!url.has_value())
    return invalid(fmt::format("Subscription.channel.endpoint \"{}\" is not an http(s) URL: {}",
                               hook.endpoint, url.error().message));
  if (auto payload = channel->find("payload"); payload != channel->end()) {
    if (!payload->is_string())
      return invalid("Subscription.channel.payload must be a MIME type string");
    std::string mime = payload->get<std::string>();
    std::string base = trim(mime.substr(0, mime.find(';')));
    for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (base != "application/fhir+json" && base != "application/json")
      return invalid(fmt::format(
          "Subscription.channel.payload \"{}\" is not supported: use application/fhir+json "
          "(the resource is sent) or leave it out (an empty notification)",
          mime));
    hook.payload = base;
  }
  if (auto headers = channel->find("header"); headers != channel->end()) {
    // R4 has header as a list; a single string (STU3 style) is read as one line.
    Json lines = headers->is_array() ? *headers : Json::array({*headers});
    for (size_t i = 0; i < lines.size(); ++i) {
      const Json& line = lines[i];
      std::string text = line.is_string() ? line.get<std::string>() : "";
      auto colon = text.find(':');
      std::string name = colon == std::string::npos ? "" : trim(text.substr(0, colon));
      if (!line.is_string() || !isToken(name) || text.find_first_of("\r\n") != std::string::npos)
        return invalid(
            fmt::format("Subscription.channel.header[{}] must be a \"Name: value\" line, got {}", i,
                        dumpJson(line)));
      hook.headers.emplace_back(name, trim(text.substr(colon + 1)));
    }
  }
  return hook;
}

Result<SubscriptionSpec> read(const search::Indexer& indexer, const Json& resource) {
  SubscriptionSpec spec;
  auto status = resource.find("status");
  if (status == resource.end() || !status->is_string())
    return invalid("Subscription.status is required: requested, active, error or off");
  spec.status = status->get<std::string>();
  if (spec.status != "requested" && spec.status != kStatusActive && spec.status != kStatusError &&
      spec.status != kStatusOff)
    return invalid(fmt::format(
        "Subscription.status \"{}\" is not one of requested, active, error, off", spec.status));
  auto criteria = resource.find("criteria");
  if (criteria == resource.end() || !criteria->is_string())
    return invalid(
        "Subscription.criteria is required: a search URL such as "
        "Encounter?identifier=x");
  auto parsed = parseCriteria(indexer, criteria->get<std::string>());
  if (!parsed.has_value()) return invalid(parsed.error().message);
  spec.criteria = std::move(parsed).value();
  CHTLINK_ASSIGN_OR_RETURN(spec.channel, readChannel(resource));
  return spec;
}

}  // namespace

Result<SubscriptionSpec> acceptSubscription(const search::Indexer& indexer, Json& resource) {
  CHTLINK_ASSIGN_OR_RETURN(SubscriptionSpec spec, read(indexer, resource));
  if (spec.status == "requested") {
    spec.status = std::string(kStatusActive);
    resource["status"] = spec.status;
  }
  return spec;
}

Result<SubscriptionSpec> readSubscription(const search::Indexer& indexer, const Json& resource) {
  CHTLINK_ASSIGN_OR_RETURN(SubscriptionSpec spec, read(indexer, resource));
  if (spec.status == "requested") spec.status = std::string(kStatusActive);
  return spec;
}

}  // namespace chtlink::fhir::subscription
