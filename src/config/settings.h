// The settings table: one row per configuration key. Private to src/config.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "config/config.h"

namespace chtlink::config {

enum class SettingKind { String, Secret, Integer, Boolean, Duration, Choice };

// A value as it arrived. Text from the environment or --set may be converted ("5001" for an
// integer); a TOML value must already have the right TOML type.
struct RawValue {
  std::variant<std::string, int64_t, bool, double> value;
  bool from_text = false;
};

struct Setting {
  std::string key;  // "server.port"
  SettingKind kind;
  std::string description;
  int64_t min = 0;
  int64_t max = 0;
  std::vector<std::string> choices;
  // Stores a value into the config, or says why it cannot (without naming the key: the
  // caller adds it with the source).
  std::function<Status(Config&, const RawValue&)> assign;
  // The value as a TOML literal.
  std::function<std::string(const Config&)> show;

  std::string envName() const;  // CHTLINK_SERVER_PORT
  std::string section() const;  // "server"
  std::string name() const;     // "port"
};

// A fresh table each call (cheap; no static objects with constructors).
std::vector<Setting> settings();
const Setting* findSetting(std::span<const Setting> table, std::string_view key);

}  // namespace chtlink::config
