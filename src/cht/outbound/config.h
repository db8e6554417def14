// app_settings.outbound: the push configurations (cht.md 3.1).
//
// Parsing keeps CHT's behaviour where a configuration is wrong: the other configurations
// still work, and the wrong one fails each push it is relevant to (CHT finds the problem at
// send time and queues the push). `problem` carries the message, naming the configuration and
// the key, so `outbound dry-run` and the logs show it before anything is sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cht/outbound/js_json.h"

namespace chtlink::cht::outbound {

enum class AuthType { None, Basic, Header, MusoSih };

struct AuthConfig {
  AuthType type = AuthType::None;
  std::string username;      // basic, muso-sih
  std::string password_key;  // basic, muso-sih: credential key
  std::string header_name;   // header: must be "authorization" (any case)
  std::string value_key;     // header: credential key of the header value
  std::string login_path;    // muso-sih: joined to base_url for the login POST
};

struct MappingEntry {
  std::string dest;                 // object path in the payload
  std::optional<std::string> expr;  // JavaScript, if truthy in the configuration
  std::optional<std::string> path;  // object path on {doc}, if truthy
  bool required = true;
};

struct PushConfig {
  std::string name;                        // the key in app_settings.outbound
  std::optional<std::string> relevant_to;  // absent: never fires
  std::string base_url;
  std::string path;
  AuthConfig auth;
  std::vector<MappingEntry> mapping;  // in JavaScript key order
  std::optional<std::string> cron;
  std::optional<Error> problem;  // set: every push of this configuration fails with it
};

struct OutboundSettings {
  // app_settings.transitions.mark_for_outbound is true (and not {"disable": true}).
  bool enabled = false;
  std::vector<PushConfig> configs;  // in JavaScript key order of app_settings.outbound
  const PushConfig* find(std::string_view name) const;
};

// Reads the outbound part of an app_settings object. Fails only if `app_settings` is not an
// object or `outbound` is present and not an object; per-configuration problems are kept in
// PushConfig::problem.
Result<OutboundSettings> parseOutboundSettings(const OrderedJson& app_settings);
Result<OutboundSettings> parseOutboundSettingsText(std::string_view app_settings_json);

// "Invalid auth type 'x'..." etc.: the error CHT raises for a wrong auth object, or none.
// `auth_type` is the raw value, case-insensitive.
Result<AuthType> parseAuthType(const OrderedJson& auth);

// url-join of base_url and path: exactly one "/" between them.
std::string joinUrl(std::string_view base, std::string_view path);

}  // namespace chtlink::cht::outbound
