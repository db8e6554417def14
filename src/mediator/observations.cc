#include "mediator/observations.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdlib>

namespace chtlink::mediator {
namespace {

constexpr std::array<std::pair<std::string_view, ObservationValueType>, 7> kTypes = {{
    {"string", ObservationValueType::String},
    {"integer", ObservationValueType::Integer},
    {"decimal", ObservationValueType::Decimal},
    {"boolean", ObservationValueType::Boolean},
    {"code", ObservationValueType::Code},
    {"quantity", ObservationValueType::Quantity},
    {"datetime", ObservationValueType::DateTime},
}};

std::string_view typeName(ObservationValueType t) {
  for (const auto& [name, type] : kTypes)
    if (type == t) return name;
  return "string";
}

const Json* lookup(const Json& fields, const std::string& path) {
  const Json* at = &fields;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return at;
}

// CHT xforms store every answer as a string; numbers and booleans arrive as text.
std::optional<double> asNumber(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<Json> valueFor(const ObservationMapping& row, const Json& v, std::string& why) {
  switch (row.type) {
    case ObservationValueType::String:
      if (v.is_string() && !v.get_ref<const std::string&>().empty())
        return Json{{"valueString", v}};
      if (v.is_number() || v.is_boolean()) return Json{{"valueString", v.dump()}};
      why = "expected text";
      return std::nullopt;
    case ObservationValueType::Integer: {
      auto n = asNumber(v);
      if (!n || std::floor(*n) != *n || std::fabs(*n) > 2147483647.0) {
        why = "expected an integer";
        return std::nullopt;
      }
      return Json{{"valueInteger", static_cast<int64_t>(*n)}};
    }
    case ObservationValueType::Decimal: {
      auto n = asNumber(v);
      if (!n) {
        why = "expected a number";
        return std::nullopt;
      }
      return Json{{"valueQuantity", Json{{"value", *n}}}};
    }
    case ObservationValueType::Quantity: {
      auto n = asNumber(v);
      if (!n) {
        why = "expected a number";
        return std::nullopt;
      }
      Json q{{"value", *n}};
      if (!row.unit.empty()) {
        q["unit"] = row.unit;
        q["system"] = "http://unitsofmeasure.org";
        q["code"] = row.unit;
      }
      return Json{{"valueQuantity", std::move(q)}};
    }
    case ObservationValueType::Boolean:
      if (v.is_boolean()) return Json{{"valueBoolean", v}};
      if (v == "yes" || v == "true" || v == "1") return Json{{"valueBoolean", true}};
      if (v == "no" || v == "false" || v == "0") return Json{{"valueBoolean", false}};
      why = "expected yes/no or true/false";
      return std::nullopt;
    case ObservationValueType::Code:
      if (v.is_string() && !v.get_ref<const std::string&>().empty())
        return Json{{"valueCodeableConcept",
                     Json{{"coding", Json::array({Json{{"system", row.system}, {"code", v}}})},
                          {"text", v}}}};
      why = "expected a code";
      return std::nullopt;
    case ObservationValueType::DateTime:
      if (v.is_string() && v.get_ref<const std::string&>().size() >= 4)
        return Json{{"valueDateTime", v}};
      why = "expected a date or date-time";
      return std::nullopt;
  }
  why = "unknown type";
  return std::nullopt;
}

}  // namespace

Result<std::vector<ObservationMapping>> parseObservationMappings(std::string_view json) {
  auto parsed = parseJson(json);
  if (!parsed) return invalidArgument("not valid JSON: " + parsed.error().message);
  if (!parsed->is_array()) return invalidArgument("expected a JSON array of mapping rows");
  std::vector<ObservationMapping> rows;
  for (size_t i = 0; i < parsed->size(); ++i) {
    const Json& r = (*parsed)[i];
    auto text = [&](const char* key, bool needed) -> Result<std::string> {
      auto it = r.find(key);
      if (it == r.end()) {
        if (needed) return invalidArgument(fmt::format("row {}: \"{}\" is required", i, key));
        return std::string();
      }
      if (!it->is_string())
        return invalidArgument(fmt::format("row {}: \"{}\" must be a string", i, key));
      return it->get<std::string>();
    };
    if (!r.is_object()) return invalidArgument(fmt::format("row {}: expected an object", i));
    for (const auto& [key, value] : r.items()) {
      if (key != "field" && key != "system" && key != "code" && key != "display" && key != "type" &&
          key != "unit")
        return invalidArgument(fmt::format(
            "row {}: unknown key \"{}\" (keys: field, system, code, display, type, unit)", i, key));
    }
    ObservationMapping m;
    CHTLINK_ASSIGN_OR_RETURN(m.field, text("field", true));
    CHTLINK_ASSIGN_OR_RETURN(m.system, text("system", true));
    CHTLINK_ASSIGN_OR_RETURN(m.code, text("code", true));
    CHTLINK_ASSIGN_OR_RETURN(m.display, text("display", false));
    CHTLINK_ASSIGN_OR_RETURN(m.unit, text("unit", false));
    CHTLINK_ASSIGN_OR_RETURN(std::string type, text("type", false));
    if (m.field.empty() || m.code.empty())
      return invalidArgument(fmt::format("row {}: \"field\" and \"code\" must not be empty", i));
    bool known = type.empty();
    for (const auto& [name, t] : kTypes) {
      if (type == name) {
        m.type = t;
        known = true;
      }
    }
    if (!known)
      return invalidArgument(fmt::format(
          "row {}: \"type\" must be one of string, integer, decimal, boolean, code, quantity, "
          "datetime (got \"{}\")",
          i, type));
    rows.push_back(std::move(m));
  }
  return rows;
}

std::string renderObservationMappings(const std::vector<ObservationMapping>& rows) {
  Json out = Json::array();
  for (const auto& r : rows) {
    Json row{{"field", r.field},
             {"system", r.system},
             {"code", r.code},
             {"type", std::string(typeName(r.type))}};
    if (!r.display.empty()) row["display"] = r.display;
    if (!r.unit.empty()) row["unit"] = r.unit;
    out.push_back(std::move(row));
  }
  return dumpJson(out);
}

MappedObservations mapObservations(const std::vector<ObservationMapping>& rows,
                                   const Json& fields) {
  MappedObservations out;
  if (!fields.is_object()) return out;
  for (const auto& row : rows) {
    const Json* v = lookup(fields, row.field);
    if (v == nullptr || v->is_null() ||
        (v->is_string() && v->get_ref<const std::string&>().empty()))
      continue;
    std::string why;
    auto value = valueFor(row, *v, why);
    if (!value) {
      out.skipped.push_back(fmt::format("{}: {}, got {}", row.field, why, v->dump()));
      continue;
    }
    Json coding{{"system", row.system}, {"code", row.code}};
    if (!row.display.empty()) coding["display"] = row.display;
    Json obs{{"resourceType", "Observation"},
             {"status", "final"},
             {"code", Json{{"coding", Json::array({coding})}}}};
    for (auto& [key, val] : value->items()) obs[key] = val;
    out.observations.push_back(std::move(obs));
  }
  return out;
}

}  // namespace chtlink::mediator
