// Roles: GET/POST /roles and GET/PUT/DELETE /roles/{name}.
//
// Which shape: OpenHIM ≤7.1 has no role documents; its /roles is a view of the names in
// channel.allow (those that are not a clientID) and client.roles, answered as
// [{name, channels: [{_id, name}], clients: [{_id, clientID}]}]. v8 stores {name,
// permissions} documents instead. chtlink presents itself as 7.1 (GET /about, admin-group
// authorisation), the version the reference deployment runs (jembi/openhim-core:7, whose
// console lists roles in the ≤7.1 shape); neither openhim-mediator-utils 0.2.x nor 0.4.x
// nor the cht configurator calls /roles. So every answer keeps the ≤7.1 shape, and a role
// stored through this API (v8 style, with `permissions`) adds its `_id` and `permissions` to
// its entry. With no stored role the answer is exactly OpenHIM 7.1's.
//
// Writes follow 7.1 for `channels`/`clients` (link the role into channel.allow and
// client.roles; PUT replaces the links; DELETE unlinks) and v8 for `permissions`; every
// created role is stored, so it exists even before it is linked anywhere.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "him/admin_api/api_internal.h"
#include "him/crypto.h"

namespace chtlink::him::api {
namespace {

using store::Access;

struct RoleView {
  Json channels = Json::array();
  Json clients = Json::array();
  std::optional<Json> stored;
};

// Roles in first-seen order (channels, then clients, then stored documents), as 7.1 lists them.
struct Roles {
  std::vector<std::string> order;
  std::map<std::string, RoleView> by_name;
  std::set<std::string> client_ids;

  RoleView& at(const std::string& name) {
    auto [it, added] = by_name.try_emplace(name);
    if (added) order.push_back(name);
    return it->second;
  }
  const RoleView* find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &it->second;
  }
};

std::vector<std::string> strings(const Json& doc, const char* field) {
  std::vector<std::string> out;
  auto it = doc.find(field);
  if (it == doc.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

Result<Roles> loadRoles(store::Transaction& tx) {
  Roles roles;
  CHTLINK_ASSIGN_OR_RETURN(auto channels, listDocs(tx, Collection::Channels));
  CHTLINK_ASSIGN_OR_RETURN(auto clients, listDocs(tx, Collection::Clients));
  CHTLINK_ASSIGN_OR_RETURN(auto stored, listDocs(tx, Collection::Roles));
  for (const auto& c : clients) roles.client_ids.insert(c.doc.value("clientID", ""));
  for (const auto& ch : channels) {
    for (const auto& allowed : strings(ch.doc, "allow")) {
      if (roles.client_ids.count(allowed) != 0) continue;  // a client's own permission
      roles.at(allowed).channels.push_back({{"_id", ch.id}, {"name", ch.doc.value("name", "")}});
    }
  }
  for (const auto& c : clients) {
    for (const auto& role : strings(c.doc, "roles"))
      roles.at(role).clients.push_back({{"_id", c.id}, {"clientID", c.doc.value("clientID", "")}});
  }
  for (auto& r : stored) roles.at(r.doc.value("name", "")).stored = std::move(r.doc);
  return roles;
}

Json roleJson(const std::string& name, const RoleView& view) {
  Json out = view.stored ? *view.stored : Json::object();
  out["name"] = name;
  out["channels"] = view.channels;
  out["clients"] = view.clients;
  return out;
}

Status checkNewName(const Roles& roles, const std::string& name) {
  if (roles.find(name) != nullptr)
    return invalidArgument(fmt::format("Role with name '{}' already exists.", name));
  if (roles.client_ids.count(name) != 0) {
    return conflict(fmt::format(
        "A clientID conflicts with role name '{}'. A role name cannot be the same as a clientID.",
        name));
  }
  return ok();
}

Result<std::string> roleName(const Json& body) {
  auto it = body.find("name");
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty())
    return invalidArgument("Must specify a role name");
  return it->get<std::string>();
}

Status checkPermissions(const Json& body) {
  if (auto it = body.find("permissions"); it != body.end() && !it->is_object())
    return invalidArgument("permissions must be a JSON object");
  return ok();
}

// The ids of the documents `selectors` name: [{_id} or {name}] for channels, [{_id} or
// {clientID}] for clients, as 7.1 accepts them. A selector naming nothing is an error
// (7.1 ignores it silently, which hides typos).
Result<std::set<std::string>> selectIds(store::Transaction& tx, Collection c, const Json& selectors,
                                        const char* key, const char* what) {
  if (!selectors.is_array()) return invalidArgument(fmt::format("{}s must be an array", what));
  std::set<std::string> ids;
  for (const auto& s : selectors) {
    std::optional<StoredDoc> found;
    std::string label;
    if (s.is_object() && s.contains("_id") && s["_id"].is_string()) {
      label = s["_id"].get<std::string>();
      CHTLINK_ASSIGN_OR_RETURN(found, findById(tx, c, label));
    } else if (s.is_object() && s.contains(key) && s[key].is_string()) {
      label = s[key].get<std::string>();
      CHTLINK_ASSIGN_OR_RETURN(found, findByKey(tx, c, label));
    } else {
      return invalidArgument(fmt::format("_id and/or {} must be specified for a {}", key, what));
    }
    if (!found) return invalidArgument(fmt::format("no {} '{}' to link the role to", what, label));
    ids.insert(found->id);
  }
  return ids;
}

// Rewrites the string list `field` of every document of `c` that `edit` changes.
Status editLists(store::Transaction& tx, Collection c, const char* field,
                 const std::function<bool(const StoredDoc&, std::vector<std::string>&)>& edit) {
  CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(tx, c));
  for (auto& d : docs) {
    std::vector<std::string> list = strings(d.doc, field);
    if (!edit(d, list)) continue;
    d.doc[field] = list;
    CHTLINK_TRY(replaceDoc(tx, c, d.doc));
  }
  return ok();
}

bool removeName(std::vector<std::string>& list, const std::string& name) {
  auto n = std::erase(list, name);
  return n > 0;
}

bool addName(std::vector<std::string>& list, const std::string& name) {
  if (std::find(list.begin(), list.end(), name) != list.end()) return false;
  list.push_back(name);
  return true;
}

// Links `name` to exactly the channels and clients `body` selects (for each of the two
// fields present); allow entries that are clientIDs are never touched.
Status relink(store::Transaction& tx, const Roles& roles, const std::string& name,
              const Json& body) {
  if (auto it = body.find("channels"); it != body.end()) {
    CHTLINK_ASSIGN_OR_RETURN(auto ids, selectIds(tx, Collection::Channels, *it, "name", "channel"));
    bool is_client = roles.client_ids.count(name) != 0;
    CHTLINK_TRY(editLists(tx, Collection::Channels, "allow",
                          [&](const StoredDoc& d, std::vector<std::string>& allow) {
                            if (ids.count(d.id) != 0) return addName(allow, name);
                            return !is_client && removeName(allow, name);
                          }));
  }
  if (auto it = body.find("clients"); it != body.end()) {
    CHTLINK_ASSIGN_OR_RETURN(auto ids,
                             selectIds(tx, Collection::Clients, *it, "clientID", "client"));
    CHTLINK_TRY(editLists(tx, Collection::Clients, "roles",
                          [&](const StoredDoc& d, std::vector<std::string>& list) {
                            if (ids.count(d.id) != 0 && d.doc.value("clientID", "") != name)
                              return addName(list, name);
                            return removeName(list, name);
                          }));
  }
  return ok();
}

Status rename(store::Transaction& tx, const Roles& roles, const std::string& from,
              const std::string& to) {
  auto swap = [&](std::vector<std::string>& list) {
    if (!removeName(list, from)) return false;
    addName(list, to);
    return true;
  };
  if (roles.client_ids.count(from) == 0) {
    CHTLINK_TRY(editLists(tx, Collection::Channels, "allow",
                          [&](const StoredDoc&, std::vector<std::string>& l) { return swap(l); }));
  }
  return editLists(tx, Collection::Clients, "roles",
                   [&](const StoredDoc&, std::vector<std::string>& l) { return swap(l); });
}

Result<RoleView> requireRole(const Roles& roles, const std::string& name) {
  const RoleView* view = roles.find(name);
  if (view == nullptr)
    return notFound(fmt::format("Role with name '{}' could not be found.", name));
  return *view;
}

}  // namespace

Result<bool> isRoleName(store::Transaction& tx, const std::string& name,
                        const std::string& skip_client) {
  CHTLINK_ASSIGN_OR_RETURN(auto stored, findByKey(tx, Collection::Roles, name));
  if (stored) return true;
  CHTLINK_ASSIGN_OR_RETURN(auto clients, listDocs(tx, Collection::Clients));
  for (const auto& c : clients) {
    if (c.id == skip_client) continue;
    auto roles = strings(c.doc, "roles");
    if (std::find(roles.begin(), roles.end(), name) != roles.end()) return true;
  }
  return false;
}

void addRoleRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/roles",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Roles roles, loadRoles(call.tx));
               Json out = Json::array();
               for (const auto& name : roles.order)
                 out.push_back(roleJson(name, roles.by_name.at(name)));
               return json(200, out);
             }));
  router.add("GET", "/roles/{name}",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string name(call.request.param("name"));
               CHTLINK_ASSIGN_OR_RETURN(Roles roles, loadRoles(call.tx));
               CHTLINK_ASSIGN_OR_RETURN(RoleView view, requireRole(roles, name));
               return json(200, roleJson(name, view));
             }));
  router.add(
      "POST", "/roles",
      handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
        if (!body.is_object()) return invalidArgument("Must specify a role name");
        CHTLINK_ASSIGN_OR_RETURN(std::string name, roleName(body));
        auto empty = [&](const char* f) {
          return body.contains(f) && body[f].is_array() && body[f].empty();
        };
        if (empty("channels") && empty("clients"))
          return invalidArgument("Must specify at least one channel or client to link the role to");
        CHTLINK_TRY(checkPermissions(body));
        CHTLINK_ASSIGN_OR_RETURN(Roles roles, loadRoles(call.tx));
        CHTLINK_TRY(checkNewName(roles, name));
        CHTLINK_TRY(relink(call.tx, roles, name, body));
        Json doc = {{"_id", newObjectId(call.deps.clock, call.deps.random)},
                    {"name", name},
                    {"permissions", body.value("permissions", Json::object())}};
        CHTLINK_TRY(insertDoc(call.tx, Collection::Roles, doc));
        return text(201, "Role successfully created");
      }));
  router.add("PUT", "/roles/{name}",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string name(call.request.param("name"));
               CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
               if (!body.is_object())
                 return invalidArgument("the request body must be a JSON object");
               CHTLINK_ASSIGN_OR_RETURN(Roles roles, loadRoles(call.tx));
               CHTLINK_ASSIGN_OR_RETURN(RoleView view, requireRole(roles, name));
               std::string new_name = name;
               if (body.contains("name")) {
                 CHTLINK_ASSIGN_OR_RETURN(new_name, roleName(body));
                 if (new_name != name) CHTLINK_TRY(checkNewName(roles, new_name));
               }
               CHTLINK_TRY(checkPermissions(body));
               CHTLINK_TRY(relink(call.tx, roles, name, body));
               if (new_name != name) CHTLINK_TRY(rename(call.tx, roles, name, new_name));
               Json doc = view.stored
                              ? *view.stored
                              : Json{{"_id", newObjectId(call.deps.clock, call.deps.random)},
                                     {"permissions", Json::object()}};
               doc["name"] = new_name;
               if (body.contains("permissions")) doc["permissions"] = body["permissions"];
               if (view.stored) {
                 CHTLINK_TRY(replaceDoc(call.tx, Collection::Roles, doc));
               } else {
                 CHTLINK_TRY(insertDoc(call.tx, Collection::Roles, doc));
               }
               return text(200, "Successfully updated role");
             }));
  router.add("DELETE", "/roles/{name}",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string name(call.request.param("name"));
               CHTLINK_ASSIGN_OR_RETURN(Roles roles, loadRoles(call.tx));
               CHTLINK_ASSIGN_OR_RETURN(RoleView view, requireRole(roles, name));
               // Unlinks everywhere, as 7.1 does; an allow entry that is a clientID stays.
               CHTLINK_TRY(relink(call.tx, roles, name,
                                  {{"channels", Json::array()}, {"clients", Json::array()}}));
               if (view.stored) {
                 CHTLINK_TRY(deleteById(call.tx, Collection::Roles, view.stored->value("_id", "")));
               }
               return text(200, "Successfully deleted role");
             }));
}

}  // namespace chtlink::him::api
