// Mediators: registration, heartbeat, config and default-channel installation, with the
// status codes and texts openhim-mediator-utils (0.2.x and 0.4.x) rely on.
#include <fmt/format.h>

#include <regex>

#include "him/admin_api/api_internal.h"
#include "him/crypto.h"

namespace chtlink::him::api {
namespace {

using store::Access;

constexpr std::string_view kMask = "**********";

std::optional<std::array<int64_t, 3>> semver(const std::string& v) {
  // Never deleted: no static objects with non-trivial destructors.
  static const auto* const kPattern =
      new std::regex(R"(^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$)");
  std::smatch m;
  if (!std::regex_match(v, m, *kPattern)) return std::nullopt;
  try {
    return std::array<int64_t, 3>{std::stoll(m[1]), std::stoll(m[2]), std::stoll(m[3])};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string paramType(const Json& defs, const std::string& param) {
  if (!defs.is_array()) return "";
  for (const auto& d : defs)
    if (d.is_object() && d.value("param", "") == param) return d.value("type", "");
  return "";
}

Status validateConfig(const Json& defs, const Json& config) {
  if (config.is_null()) return ok();
  if (!config.is_object()) return invalidArgument("Mediator config must be an object");
  for (const auto& [param, value] : config.items()) {
    std::string type = paramType(defs, param);
    if (type.empty()) continue;  // OpenHIM ignores values without a definition too
    bool good = true;
    if (type == "string" || type == "bigstring" || type == "password" || type == "option") {
      good = value.is_string() || value.is_null();
    } else if (type == "bool") {
      good = value.is_boolean() || value.is_null();
    } else if (type == "number") {
      good = value.is_number() || value.is_null();
    } else if (type == "map" || type == "struct") {
      good = value.is_object() || value.is_null();
    }
    if (!good) {
      return invalidArgument(fmt::format("Expected config param {} to be a {}", param, type));
    }
  }
  return ok();
}

Status validateMediator(const Json& doc, bool is_new) {
  if (!doc.is_object()) return invalidArgument("the mediator must be a JSON object");
  if (doc.value("urn", "").empty()) return invalidArgument("URN is required");
  if (doc.value("version", "").empty() || !semver(doc.value("version", "")))
    return invalidArgument("Version is required. Must be in SemVer form x.y.z");
  if (doc.value("name", "").empty())
    return invalidArgument("ValidationError: name: Path `name` is required.");
  auto endpoints = doc.find("endpoints");
  if (is_new && (endpoints == doc.end() || !endpoints->is_array() || endpoints->empty()))
    return invalidArgument("At least 1 endpoint is required");
  if (auto defs = doc.find("configDefs"); defs != doc.end() && defs->is_array()) {
    for (const auto& d : *defs) {
      if (!d.is_object() || d.value("param", "").empty())
        return invalidArgument("configDefs entries need a param");
      if (d.value("type", "") == "option" &&
          (!d.contains("values") || !d["values"].is_array() || d["values"].empty())) {
        return invalidArgument(
            fmt::format("Config definition {} of type option needs a non-empty values list",
                        d["param"].dump()));
      }
    }
  }
  return validateConfig(doc.contains("configDefs") ? doc["configDefs"] : Json(),
                        doc.contains("config") ? doc["config"] : Json());
}

Result<StoredDoc> findMediator(Call& call) {
  std::string urn(call.request.param("urn"));
  CHTLINK_ASSIGN_OR_RETURN(auto found, findByKey(call.tx, Collection::Mediators, urn));
  if (!found) return notFound("No mediator found for this urn.");
  return std::move(*found);
}

Json masked(Json doc) {
  doc.erase("_configPending");
  if (!doc.contains("config") || !doc["config"].is_object()) return doc;
  for (auto& [param, value] : doc["config"].items())
    if (paramType(doc.value("configDefs", Json()), param) == "password" && value.is_string())
      value = kMask;
  return doc;
}

}  // namespace

void addMediatorRoutes(net::Router& router, const AdminApiDeps& deps) {
  // POST /mediators: 201 "Created" whether created, upgraded or unchanged (as OpenHIM).
  router.add("POST", "/mediators",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
               std::string urn = body.is_object() ? body.value("urn", "") : "";
               CHTLINK_ASSIGN_OR_RETURN(auto existing,
                                        findByKey(call.tx, Collection::Mediators, urn));
               if (auto s = validateMediator(body, !existing); !s.has_value())
                 return invalidArgument("Could not add Mediator via the API: " + s.error().message);
               if (!existing) {
                 body["_id"] = newObjectId(call.deps.clock, call.deps.random);
                 CHTLINK_TRY(insertDoc(call.tx, Collection::Mediators, body));
                 return text(201, "Created");
               }
               auto old_version = semver(existing->doc.value("version", "0.0.0"));
               auto new_version = semver(body.value("version", ""));
               if (old_version && new_version && *new_version > *old_version) {
                 // Keep the values already set for params that still exist.
                 Json config = body.value("config", Json::object());
                 if (existing->doc.contains("config") && existing->doc["config"].is_object()) {
                   for (const auto& [param, value] : existing->doc["config"].items()) {
                     if (!paramType(body.value("configDefs", Json()), param).empty())
                       config[param] = value;
                   }
                 }
                 for (const char* kept : {"_id", "_uptime", "_lastHeartbeat", "_configModifiedTS"})
                   if (existing->doc.contains(kept)) body[kept] = existing->doc[kept];
                 if (!config.empty()) body["config"] = config;
                 CHTLINK_TRY(replaceDoc(call.tx, Collection::Mediators, body));
               }
               return text(201, "Created");
             }));
  router.add("GET", "/mediators",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(call.tx, Collection::Mediators));
               Json out = Json::array();
               for (auto& d : docs) out.push_back(masked(std::move(d.doc)));
               return json(200, out);
             }));
  router.add("GET", "/mediators/{urn}",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto mediator, findMediator(call));
               return json(200, masked(std::move(mediator.doc)));
             }));
  router.add("DELETE", "/mediators/{urn}",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto mediator, findMediator(call));
               CHTLINK_TRY(deleteById(call.tx, Collection::Mediators, mediator.id));
               return text(200, "OK");
             }));
  router.add("POST", "/mediators/{urn}/heartbeat",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto mediator, findMediator(call));
               CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
               if (!body.is_object() || !body.contains("uptime") || !body["uptime"].is_number())
                 return invalidArgument("Bad Request: uptime (seconds, a number) is required");
               Json& doc = mediator.doc;
               // A config PUT since the last heartbeat is delivered once. A flag rather than
               // comparing _configModifiedTS with _lastHeartbeat: both have millisecond resolution
               // and a PUT may land in the same millisecond as a heartbeat.
               bool changed = doc.value("_configPending", false);
               bool wanted = body.value("config", false) == true;
               doc.erase("_configPending");
               doc["_lastHeartbeat"] = isoTime(call.deps.clock.now());
               doc["_uptime"] = body["uptime"];
               CHTLINK_TRY(replaceDoc(call.tx, Collection::Mediators, doc));
               if (wanted || changed) {
                 if (!doc.contains("config") || doc["config"].is_null()) return text(200, "OK");
                 return json(200, doc["config"]);
               }
               return text(200, "");
             }));
  router.add("PUT", "/mediators/{urn}/config",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto mediator, findMediator(call));
               CHTLINK_ASSIGN_OR_RETURN(Json config, bodyJson(call.request));
               Json& doc = mediator.doc;
               // A masked password sent back unchanged keeps the stored value.
               if (config.is_object() && doc.contains("config") && doc["config"].is_object()) {
                 for (auto& [param, value] : config.items())
                   if (value == kMask && doc["config"].contains(param))
                     value = doc["config"][param];
               }
               CHTLINK_TRY(validateConfig(doc.value("configDefs", Json()), config));
               doc["config"] = config;
               doc["_configModifiedTS"] = isoTime(call.deps.clock.now());
               // The first heartbeat never reports a change (OpenHIM): only pending once one was
               // seen.
               if (doc.contains("_lastHeartbeat")) doc["_configPending"] = true;
               CHTLINK_TRY(replaceDoc(call.tx, Collection::Mediators, doc));
               return text(200, "OK");
             }));
  // Installs default channels by name (all of them for an empty list or no body).
  router.add(
      "POST", "/mediators/{urn}/channels",
      handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(auto mediator, findMediator(call));
        CHTLINK_ASSIGN_OR_RETURN(Json names, bodyJson(call.request));
        if (!names.is_null() && !names.is_array())
          return invalidArgument("the body must be a JSON array of channel names");
        Json defaults = mediator.doc.value("defaultChannelConfig", Json::array());
        std::vector<Json> chosen;
        if (names.is_null() || names.empty()) {
          for (const auto& c : defaults) chosen.push_back(c);
        } else {
          for (const auto& name : names) {
            const Json* found = nullptr;
            for (const auto& c : defaults)
              if (c.is_object() && name.is_string() &&
                  c.value("name", "") == name.get<std::string>())
                found = &c;
            if (found == nullptr) {
              return invalidArgument(fmt::format(
                  "Could not find channel {} in the mediator's defaultChannelConfig", name.dump()));
            }
            chosen.push_back(*found);
          }
        }
        // A channel of that name that is already installed stays as it is (OpenHIM answers 500
        // on the duplicate name, which breaks set-up scripts that install at every start); one
        // that was (soft) deleted is installed afresh under its old id.
        for (Json channel : chosen) {
          CHTLINK_ASSIGN_OR_RETURN(auto existing, findByKey(call.tx, Collection::Channels,
                                                            channel.value("name", std::string())));
          if (existing && existing->doc.value("status", "enabled") != "deleted") continue;
          channel["_id"] = existing ? existing->id : newObjectId(call.deps.clock, call.deps.random);
          Status s = existing ? replaceDoc(call.tx, Collection::Channels, channel)
                              : insertDoc(call.tx, Collection::Channels, channel);
          if (!s.has_value())
            return internalError("Could not install the mediator's channels: " + s.error().message);
        }
        return text(201, "Created");
      }));
}

}  // namespace chtlink::him::api
