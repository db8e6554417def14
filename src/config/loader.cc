#include <fmt/format.h>
#include <toml++/toml.h>

#include <cstdlib>

#include "config/config.h"
#include "config/settings.h"

extern char** environ;  // POSIX; read only by processEnvironment(), from main.

namespace chtlink::config {
namespace {

// Collects every problem so the user can fix them all in one go.
class Problems {
 public:
  void add(std::string line) { lines_.push_back(std::move(line)); }
  bool empty() const { return lines_.empty(); }
  Error error() const {
    std::string msg = lines_.size() == 1 ? "invalid configuration: "
                                         : "invalid configuration (" +
                                               std::to_string(lines_.size()) + " problems):\n  ";
    for (size_t i = 0; i < lines_.size(); ++i) msg += (i ? "\n  " : "") + lines_[i];
    return invalidArgument(msg, "invalid_config");
  }

 private:
  std::vector<std::string> lines_;
};

std::string position(const std::string& file, const toml::source_region& where) {
  return fmt::format("{}:{}:{}", file, where.begin.line, where.begin.column);
}

void apply(Config& config, std::span<const Setting> table, const std::string& key,
           const RawValue& value, const std::string& source, Problems& problems) {
  const Setting* s = findSetting(table, key);
  if (s == nullptr) {
    problems.add(fmt::format("{}: unknown key \"{}\"", source, key));
    return;
  }
  Status st = s->assign(config, value);
  if (!st.has_value()) {
    problems.add(fmt::format("{}: {}: {}", source, key, st.error().message));
    return;
  }
  config.sources[key] = source;
}

void loadFile(Config& config, std::span<const Setting> table, const std::string& file,
              Problems& problems) {
  toml::table doc;
  try {
    doc = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source();
    if (where.begin.line == 0) {
      problems.add(fmt::format("{}: cannot read the file: {}", file, e.description()));
    } else {
      problems.add(fmt::format("{}: {}", position(file, where), e.description()));
    }
    return;
  }
  for (auto&& [section_key, section_node] : doc) {
    std::string section(section_key.str());
    const toml::table* section_table = section_node.as_table();
    if (section_table == nullptr) {
      problems.add(fmt::format("{}: \"{}\" must be a [section]; keys look like server.port",
                               position(file, section_node.source()), section));
      continue;
    }
    for (auto&& [key, node] : *section_table) {
      std::string full = section + "." + std::string(key.str());
      std::string source = "file " + position(file, node.source());
      RawValue raw;
      if (auto s = node.value<std::string>(); s && node.is_string())
        raw.value = *s;
      else if (node.is_integer())
        raw.value = *node.value<int64_t>();
      else if (node.is_boolean())
        raw.value = *node.value<bool>();
      else if (node.is_floating_point())
        raw.value = *node.value<double>();
      else {
        if (findSetting(table, full) == nullptr) {
          problems.add(fmt::format("{}: unknown key \"{}\"", source, full));
        } else {
          problems.add(
              fmt::format("{}: {}: arrays, tables and dates are not accepted here", source, full));
        }
        continue;
      }
      apply(config, table, full, raw, source, problems);
    }
  }
}

void finish(Config& config, Problems& problems) {
  bool has_cert = !config.tls_certificate_file.empty();
  bool has_key = !config.tls_private_key_file.empty();
  if (has_cert != has_key) {
    problems.add(
        "server.tls_certificate_file and server.tls_private_key_file must be set "
        "together to serve HTTPS");
  } else if (has_cert) {
    config.server.tls = net::TlsFiles{config.tls_certificate_file, config.tls_private_key_file};
  }
  if (config.queue.initial_backoff > config.queue.max_backoff) {
    problems.add("queue.initial_backoff must not be longer than queue.max_backoff");
  }
  if (config.cht.mode == "pull" && config.cht.url.empty()) {
    problems.add("cht.mode = \"pull\" needs cht.url (the CHT to follow)");
  }
}

}  // namespace

net::ServerOptions Config::defaultServerOptions() {
  net::ServerOptions o;
  o.name = "chtlink";
  o.port = 5001;
  o.port_setting = "server.port";
  return o;
}

Result<Config> loadConfig(const ConfigSources& sources) {
  Config config;
  const std::vector<Setting> table = settings();
  for (const Setting& s : table) config.sources[s.key] = "default";
  Problems problems;

  if (sources.file) loadFile(config, table, *sources.file, problems);

  // The reference mediator's .env names (a deployment swaps the Node container for chtlink
  // with the same .env). They rank above the file and below CHTLINK_MEDIATOR_* and --set.
  constexpr std::pair<std::string_view, std::string_view> kReferenceEnv[] = {
      {"PORT", "mediator.port"},
      {"FHIR_URL", "mediator.fhir_url"},
      {"FHIR_USERNAME", "mediator.fhir_username"},
      {"FHIR_PASSWORD", "mediator.fhir_password"},
      {"CHT_URL", "mediator.cht_url"},
      {"CHT_USERNAME", "mediator.cht_username"},
      {"CHT_PASSWORD", "mediator.cht_password"},
      {"OPENHIM_API_URL", "mediator.openhim_api_url"},
      {"OPENHIM_USERNAME", "mediator.openhim_username"},
      {"OPENHIM_PASSWORD", "mediator.openhim_password"},
  };
  for (const auto& [name, value] : sources.env) {
    for (const auto& [env_name, key] : kReferenceEnv) {
      if (name == env_name)
        apply(config, table, std::string(key), RawValue{value, true}, "environment " + name,
              problems);
    }
  }

  for (const auto& [name, value] : sources.env) {
    if (name.rfind("CHTLINK_", 0) != 0) continue;
    const Setting* match = nullptr;
    for (const Setting& s : table)
      if (s.envName() == name) match = &s;
    if (match == nullptr) {
      problems.add(
          fmt::format("environment {}: no such setting (settings are listed by "
                      "`chtlink config docs`)",
                      name));
      continue;
    }
    apply(config, table, match->key, RawValue{value, true}, "environment " + name, problems);
  }

  for (const std::string& o : sources.overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.add(fmt::format("--set {}: expected section.key=value", o));
      continue;
    }
    apply(config, table, o.substr(0, eq), RawValue{o.substr(eq + 1), true}, "--set", problems);
  }

  finish(config, problems);
  if (!problems.empty()) return problems.error();
  return config;
}

std::string renderEffectiveConfig(const Config& config) {
  std::string out =
      "# Effective configuration (secrets masked). Precedence: default < file <\n"
      "# environment < --set.\n";
  std::string section;
  for (const Setting& s : settings()) {
    if (s.section() != section) {
      section = s.section();
      out += fmt::format("\n[{}]\n", section);
    }
    std::string value = s.show(config);
    if (s.kind == SettingKind::Secret && value != "\"\"") value = "\"********\"";
    auto src = config.sources.find(s.key);
    out += fmt::format("{} = {}  # {}\n", s.name(), value,
                       src == config.sources.end() ? "default" : src->second);
  }
  return out;
}

std::string renderConfigReference() {
  const Config defaults;
  std::string out =
      "# Configuration reference\n\n"
      "Generated by `chtlink config docs` from the settings table (src/config/settings.cc);\n"
      "a test fails when this file is stale. Regenerate it with\n"
      "`build/release/src/cli/chtlink config docs > docs/configuration.md`.\n\n"
      "Each setting can be given, from lowest to highest precedence, as its built-in default,\n"
      "in the TOML file passed with `--config` (`[section]` then `key = value`), as an\n"
      "environment variable, or on the command line with `--set section.key=value`.\n"
      "Durations are written `250ms`, `15s`, `2m` or `1h` (a bare integer means\n"
      "milliseconds). Unknown keys and values of the wrong type stop start-up with exit code 2\n"
      "and a message naming the key (and, for the file, its line and column).\n"
      "`chtlink config check` prints the effective configuration with secrets masked.\n\n"
      "The reference mediator's environment variables `PORT`, `FHIR_URL`, `FHIR_USERNAME`,\n"
      "`FHIR_PASSWORD`, `CHT_URL`, `CHT_USERNAME`, `CHT_PASSWORD`, `OPENHIM_API_URL`,\n"
      "`OPENHIM_USERNAME` and `OPENHIM_PASSWORD` set the matching `[mediator]` keys, so its\n"
      "`.env` works unchanged. They rank above the TOML file and below `CHTLINK_MEDIATOR_*`\n"
      "and `--set`.\n";
  std::string section;
  for (const Setting& s : settings()) {
    if (s.section() != section) {
      section = s.section();
      out += fmt::format(
          "\n## [{}]\n\n| key | environment | default | description |\n"
          "|---|---|---|---|\n",
          section);
    }
    std::string def = s.show(defaults);
    if (s.kind == SettingKind::Choice) {
      def += " (" + fmt::format("{}", fmt::join(s.choices, ", ")) + ")";
    }
    out += fmt::format("| `{}` | `{}` | `{}` | {} |\n", s.key, s.envName(), def, s.description);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> processEnvironment() {
  std::vector<std::pair<std::string, std::string>> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

}  // namespace chtlink::config
