// /metadata: export, import (upsert by each collection's key) and validate, as OpenHIM.
#include <fmt/format.h>

#include "him/admin_api/api_internal.h"
#include "him/channel.h"
#include "him/crypto.h"

namespace chtlink::him::api {
namespace {

using store::Access;

constexpr Collection kCollections[] = {Collection::Channels, Collection::Clients,
                                       Collection::Mediators, Collection::Users,
                                       Collection::ContactGroups};

std::optional<Collection> collectionOf(const std::string& name) {
  for (Collection c : kCollections)
    if (name == collectionName(c)) return c;
  return std::nullopt;
}

// The document as it will be stored, or why it cannot be (schema-level checks only, as
// OpenHIM's import does: no API-level channel rules, no client password hashing).
Result<Json> prepare(Collection c, Json doc, Random& random) {
  if (!doc.is_object()) return invalidArgument("each record must be a JSON object");
  doc.erase("_id");
  doc.erase("__v");
  switch (c) {
    case Collection::Users:
      return prepareUser(std::move(doc), random);
    case Collection::Channels: {
      if (doc.value("name", "").empty()) return invalidArgument("channel name is required");
      CHTLINK_TRY(parseChannel(doc));
      return doc;
    }
    case Collection::Clients:
      if (doc.value("clientID", "").empty() || doc.value("name", "").empty())
        return invalidArgument("client clientID and name are required");
      return doc;
    case Collection::Mediators:
      if (doc.value("urn", "").empty()) return invalidArgument("mediator urn is required");
      return doc;
    case Collection::ContactGroups:
      if (doc.value("group", "").empty()) return invalidArgument("contact group name is required");
      return doc;
    case Collection::Roles:  // not an OpenHIM metadata collection (kCollections)
      return invalidArgument("Invalid Collection in Import Object");
  }
  return doc;
}

Json item(const std::string& model, const Json& record, const std::string& status,
          const std::string& message, const std::string& uid) {
  return {
      {"model", model}, {"record", record}, {"status", status}, {"message", message}, {"uid", uid}};
}

// v8 exports carry Passports; the token passport's hash material is what chtlink's users
// hold, so it is copied onto the user with the same email.
Json importPassport(Call& call, const Json& record, bool apply) {
  std::string email = lower(record.value("email", ""));
  if (!record.is_object() || record.value("protocol", "") != "token")
    return item("Passports", record, apply ? "Updated" : "Valid",
                "only token passports are used by chtlink; ignored", email);
  auto user = findByKey(call.tx, Collection::Users, email);
  if (!user.has_value() || !*user)
    return item("Passports", record, "Error", "no user with email " + email, email);
  if (!apply) return item("Passports", record, "Valid", "", email);
  Json doc = (*user)->doc;
  for (const char* f : {"passwordAlgorithm", "passwordHash", "passwordSalt"})
    if (record.contains(f)) doc[f] = record[f];
  if (auto s = replaceDoc(call.tx, Collection::Users, doc); !s.has_value())
    return item("Passports", record, "Error", s.error().message, email);
  return item("Passports", record, "Updated", "", email);
}

Result<net::Response> importOrValidate(Call& call, bool apply) {
  CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(call.request));
  if (!body.is_object()) return invalidArgument("the metadata body must be a JSON object");
  // Users first, so Passports in the same body find them.
  std::vector<std::string> order;
  for (const auto& [key, _] : body.items())
    if (key != "Passports") order.push_back(key);
  if (body.contains("Passports")) order.emplace_back("Passports");
  Json result = Json::array();
  for (const auto& key : order) {
    const Json& records = body[key];
    if (!records.is_array()) {
      result.push_back(item(key, records, "Error", "Invalid Collection in Import Object", ""));
      continue;
    }
    for (const Json& record : records) {
      if (key == "Passports") {
        result.push_back(importPassport(call, record, apply));
        continue;
      }
      auto collection = collectionOf(key);
      if (!collection) {
        result.push_back(item(key, record, "Error", "Invalid Collection in Import Object", ""));
        continue;
      }
      auto prepared = prepare(*collection, record, call.deps.random);
      std::string uid = record.is_object() ? record.value(keyField(*collection), "") : "";
      if (!prepared.has_value()) {
        result.push_back(item(key, record, "Error", prepared.error().message, uid));
        continue;
      }
      Json doc = std::move(prepared).value();
      uid = doc.value(keyField(*collection), "");
      CHTLINK_ASSIGN_OR_RETURN(auto existing, findByKey(call.tx, *collection, uid));
      if (!apply) {
        result.push_back(item(key, record, existing ? "Conflict" : "Valid", "", uid));
        continue;
      }
      Status s = ok();
      if (existing) {
        doc["_id"] = existing->id;
        s = replaceDoc(call.tx, *collection, doc);
      } else {
        doc["_id"] = newObjectId(call.deps.clock, call.deps.random);
        s = insertDoc(call.tx, *collection, doc);
      }
      result.push_back(item(key, record,
                            !s.has_value() ? "Error"
                            : existing     ? "Updated"
                                           : "Inserted",
                            s.has_value() ? "" : s.error().message, uid));
    }
  }
  return json(201, result);
}

}  // namespace

void addMetadataRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/metadata",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               Json out = Json::object();
               for (Collection c : kCollections) {
                 CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(call.tx, c));
                 Json list = Json::array();
                 for (auto& d : docs) {
                   d.doc.erase("_id");
                   list.push_back(std::move(d.doc));
                 }
                 out[collectionName(c)] = std::move(list);
               }
               return json(200, Json::array({out}));
             }));
  router.add("POST", "/metadata", handler(deps, Access::Write, Auth::Admin, [](Call& call) {
               return importOrValidate(call, true);
             }));
  router.add("POST", "/metadata/validate", handler(deps, Access::Read, Auth::Admin, [](Call& call) {
               return importOrValidate(call, false);
             }));
}

}  // namespace chtlink::him::api
