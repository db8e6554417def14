#include "cht/outbound/config.h"

#include <algorithm>
#include <cctype>

namespace chtlink::cht::outbound {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// JavaScript truthiness of a JSON value.
bool truthy(const OrderedJson& value) {
  switch (value.type()) {
    case OrderedJson::value_t::null:
    case OrderedJson::value_t::discarded:
      return false;
    case OrderedJson::value_t::boolean:
      return value.get<bool>();
    case OrderedJson::value_t::string:
      return !value.get_ref<const std::string&>().empty();
    case OrderedJson::value_t::number_integer:
    case OrderedJson::value_t::number_unsigned:
    case OrderedJson::value_t::number_float:
      return value.get<double>() != 0;  // NaN cannot come from JSON
    default:
      return true;
  }
}

// String(value) for a truthy configuration value: CHT hands it to the engine as source text.
std::string asSource(const OrderedJson& value) {
  if (value.is_string()) return value.get<std::string>();
  return jsStringify(value);
}

Error configError(const std::string& name, const std::string& key, const std::string& what) {
  return invalidArgument("app_settings.outbound '" + name + "': " + key + ": " + what,
                         "outbound_config");
}

Status parseAuth(const std::string& name, const OrderedJson& auth, AuthConfig& out) {
  if (!auth.is_object()) {
    return configError(name, "destination.auth", "must be an object");
  }
  auto type = parseAuthType(auth);
  if (!type) return configError(name, "destination.auth.type", type.error().message);
  out.type = *type;
  auto text = [&](const char* key, std::string& into) -> Status {
    auto found = auth.find(key);
    if (found == auth.end() || !found->is_string() || found->get<std::string>().empty()) {
      return configError(
          name, std::string("destination.auth.") + key,
          "required for auth type '" + auth["type"].get<std::string>() + "' (a non-empty string)");
    }
    into = found->get<std::string>();
    return ok();
  };
  switch (out.type) {
    case AuthType::Basic:
      CHTLINK_TRY(text("username", out.username));
      CHTLINK_TRY(text("password_key", out.password_key));
      break;
    case AuthType::Header:
      CHTLINK_TRY(text("name", out.header_name));
      if (lower(out.header_name) != "authorization") {
        return configError(
            name, "destination.auth.name",
            "Unsupported header name '" + out.header_name + "'. Supported: authorization");
      }
      CHTLINK_TRY(text("value_key", out.value_key));
      break;
    case AuthType::MusoSih:
      CHTLINK_TRY(text("username", out.username));
      CHTLINK_TRY(text("password_key", out.password_key));
      CHTLINK_TRY(text("path", out.login_path));
      break;
    case AuthType::None:
      break;
  }
  return ok();
}

Status parseMapping(const std::string& name, const OrderedJson& mapping,
                    std::vector<MappingEntry>& out) {
  if (!mapping.is_object()) return configError(name, "mapping", "must be an object");
  for (const auto& dest : jsKeys(mapping)) {
    const auto& source = mapping.at(dest);
    MappingEntry entry;
    entry.dest = dest;
    if (source.is_string()) {
      if (!source.get_ref<const std::string&>().empty()) entry.path = source.get<std::string>();
    } else if (source.is_object()) {
      if (auto expr = source.find("expr"); expr != source.end() && truthy(*expr)) {
        entry.expr = asSource(*expr);
      }
      if (auto path = source.find("path"); path != source.end() && truthy(*path)) {
        if (!path->is_string()) {
          return configError(name, "mapping." + dest + ".path", "must be a string");
        }
        entry.path = path->get<std::string>();
      }
      if (auto optional = source.find("optional"); optional != source.end()) {
        entry.required = !truthy(*optional);
      }
    }
    // Neither expr nor path: CHT fails the push at mapping time; so does the mapper.
    out.push_back(std::move(entry));
  }
  return ok();
}

Status parseConfig(const std::string& name, const OrderedJson& raw, PushConfig& config) {
  if (!raw.is_object()) return configError(name, "(config)", "must be an object");
  if (auto relevant = raw.find("relevant_to"); relevant != raw.end() && !relevant->is_null()) {
    if (!relevant->is_string()) return configError(name, "relevant_to", "must be a string");
    if (!relevant->get_ref<const std::string&>().empty()) {
      config.relevant_to = relevant->get<std::string>();
    }
  }
  auto destination = raw.find("destination");
  if (destination == raw.end() || !destination->is_object()) {
    return configError(name, "destination", "required (an object with base_url and path)");
  }
  auto base_url = destination->find("base_url");
  if (base_url == destination->end() || !base_url->is_string() ||
      base_url->get_ref<const std::string&>().empty()) {
    return configError(name, "destination.base_url", "required (a non-empty string)");
  }
  config.base_url = base_url->get<std::string>();
  if (auto path = destination->find("path"); path != destination->end()) {
    if (!path->is_string()) return configError(name, "destination.path", "must be a string");
    config.path = path->get<std::string>();
  }
  if (auto auth = destination->find("auth"); auth != destination->end() && !auth->is_null()) {
    CHTLINK_TRY(parseAuth(name, *auth, config.auth));
  }
  auto mapping = raw.find("mapping");
  if (mapping == raw.end()) return configError(name, "mapping", "required (an object)");
  CHTLINK_TRY(parseMapping(name, *mapping, config.mapping));
  if (auto cron = raw.find("cron"); cron != raw.end() && !cron->is_null()) {
    if (!cron->is_string()) return configError(name, "cron", "must be a string");
    config.cron = cron->get<std::string>();
  }
  return ok();
}

}  // namespace

const PushConfig* OutboundSettings::find(std::string_view name) const {
  for (const auto& config : configs) {
    if (config.name == name) return &config;
  }
  return nullptr;
}

Result<AuthType> parseAuthType(const OrderedJson& auth) {
  auto type = auth.find("type");
  if (type == auth.end() || !truthy(*type)) {
    return invalidArgument("No auth.type, either declare the type or omit the auth property",
                           "outbound_config");
  }
  const std::string raw = type->is_string() ? type->get<std::string>() : jsStringify(*type);
  const std::string name = lower(raw);
  if (name == "basic") return AuthType::Basic;
  if (name == "header") return AuthType::Header;
  if (name == "muso-sih") return AuthType::MusoSih;
  return invalidArgument("Invalid auth type '" + raw + "'. Supported: basic, header, muso-sih",
                         "outbound_config");
}

Result<OutboundSettings> parseOutboundSettings(const OrderedJson& app_settings) {
  if (!app_settings.is_object()) {
    return invalidArgument("app_settings: must be a JSON object", "outbound_config");
  }
  OutboundSettings settings;
  if (auto transitions = app_settings.find("transitions");
      transitions != app_settings.end() && transitions->is_object()) {
    if (auto mark = transitions->find("mark_for_outbound"); mark != transitions->end()) {
      if (mark->is_object()) {
        auto disable = mark->find("disable");
        settings.enabled = !(disable != mark->end() && truthy(*disable));
      } else {
        settings.enabled = truthy(*mark);
      }
    }
  }
  auto outbound = app_settings.find("outbound");
  if (outbound == app_settings.end() || outbound->is_null()) return settings;
  if (!outbound->is_object()) {
    return invalidArgument("app_settings.outbound: must be an object keyed by config name",
                           "outbound_config");
  }
  for (const auto& name : jsKeys(*outbound)) {
    PushConfig config;
    config.name = name;
    Status parsed = parseConfig(name, outbound->at(name), config);
    if (!parsed) config.problem = parsed.error();
    settings.configs.push_back(std::move(config));
  }
  return settings;
}

Result<OutboundSettings> parseOutboundSettingsText(std::string_view app_settings_json) {
  auto parsed = parseOrderedJson(app_settings_json);
  if (!parsed) return parsed.error().withContext("app_settings is not valid JSON: ");
  return parseOutboundSettings(*parsed);
}

std::string joinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return std::string(base);
  if (path.front() == '?' || path.front() == '#') return std::string(base) + std::string(path);
  return std::string(base) + "/" + std::string(path);
}

}  // namespace chtlink::cht::outbound
