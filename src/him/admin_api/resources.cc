// Users, clients and channels: create, list, read, update, delete.
#include <fmt/format.h>

#include "him/admin_api/api_internal.h"
#include "him/channel.h"
#include "him/client_auth.h"
#include "him/crypto.h"

namespace chtlink::him::api {

using store::Access;

Result<Json> prepareUser(Json doc, Random& random) {
  if (!doc.is_object()) return invalidArgument("a user must be a JSON object");
  std::string email = lower(doc.value("email", ""));
  if (email.empty()) return invalidArgument("ValidationError: email: Path `email` is required.");
  doc["email"] = email;
  if (auto it = doc.find("password"); it != doc.end()) {
    if (!it->is_string() || it->get<std::string>().empty())
      return invalidArgument("password must be a non-empty string");
    Json hashed = hashUserPassword(it->get<std::string>(), newUuid(random));
    doc.erase("password");
    doc.update(hashed);
  }
  if (!doc.contains("provider")) doc["provider"] = "token";
  if (!doc.contains("groups")) doc["groups"] = Json::array();
  return doc;
}

Json publicUser(Json doc) {
  doc.erase("passwordHash");
  doc.erase("passwordSalt");
  doc.erase("passwordAlgorithm");
  return doc;
}

Json publicClient(Json doc) {
  if (doc.contains("customTokenID")) {
    doc.erase("customTokenID");
    doc["customTokenSet"] = true;
  }
  doc.erase("passwordHash");
  doc.erase("passwordSalt");
  return doc;
}

namespace {

Status validateClient(const Json& doc) {
  if (!doc.is_object()) return invalidArgument("a client must be a JSON object");
  if (doc.value("clientID", "").empty())
    return invalidArgument("ValidationError: clientID: Path `clientID` is required.");
  if (doc.value("name", "").empty())
    return invalidArgument("ValidationError: name: Path `name` is required.");
  if (auto it = doc.find("roles"); it != doc.end()) {
    if (!it->is_array()) return invalidArgument("roles must be an array of strings");
    for (const auto& r : *it) {
      if (!r.is_string()) return invalidArgument("roles must be an array of strings");
      if (r.get<std::string>() == doc.value("clientID", ""))
        return invalidArgument("ValidationError: roles: clientID cannot be a role");
    }
  }
  return ok();
}

// OpenHIM: a clientID must not be a role name (roles and client ids share channel.allow).
Status checkNotARole(Call& call, const Json& doc, const std::string& skip_client = "") {
  std::string client_id = doc.value("clientID", "");
  CHTLINK_ASSIGN_OR_RETURN(bool taken, isRoleName(call.tx, client_id, skip_client));
  if (taken) {
    return conflict(fmt::format(
        "A role name conflicts with clientID '{}'. A role name cannot be the same as a clientID.",
        client_id));
  }
  return ok();
}

Result<Json> requireObject(const net::Request& request) {
  CHTLINK_ASSIGN_OR_RETURN(Json body, bodyJson(request));
  if (!body.is_object()) return invalidArgument("the request body must be a JSON object");
  return body;
}

}  // namespace

void addUserRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/users",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(call.tx, Collection::Users));
               Json out = Json::array();
               for (auto& d : docs) out.push_back(publicUser(std::move(d.doc)));
               return json(200, out);
             }));
  router.add("POST", "/users",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Json body, requireObject(call.request));
               CHTLINK_ASSIGN_OR_RETURN(Json doc, prepareUser(std::move(body), call.deps.random));
               doc["_id"] = newObjectId(call.deps.clock, call.deps.random);
               if (auto s = insertDoc(call.tx, Collection::Users, doc); !s.has_value())
                 return invalidArgument("Could not add user via the API: " + s.error().message);
               return text(201, "User successfully created");
             }));
  router.add("GET", "/users/{email}",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string email = lower(call.request.param("email"));
               CHTLINK_ASSIGN_OR_RETURN(auto user, findByKey(call.tx, Collection::Users, email));
               if (!user)
                 return notFound(fmt::format("User with email {} could not be found.", email));
               return json(200, publicUser(std::move(user->doc)));
             }));
  router.add("PUT", "/users/{email}",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string email = lower(call.request.param("email"));
               CHTLINK_ASSIGN_OR_RETURN(Json body, requireObject(call.request));
               CHTLINK_ASSIGN_OR_RETURN(auto user, findByKey(call.tx, Collection::Users, email));
               if (!user)
                 return notFound(fmt::format("User with email {} could not be found.", email));
               Json merged = user->doc;
               body.erase("_id");
               merged.update(body);
               CHTLINK_ASSIGN_OR_RETURN(merged, prepareUser(std::move(merged), call.deps.random));
               CHTLINK_TRY(replaceDoc(call.tx, Collection::Users, merged));
               return text(200, fmt::format("Successfully updated user {}.", email));
             }));
  router.add("DELETE", "/users/{email}",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               std::string email = lower(call.request.param("email"));
               CHTLINK_ASSIGN_OR_RETURN(auto user, findByKey(call.tx, Collection::Users, email));
               if (!user)
                 return notFound(fmt::format("User with email {} could not be found.", email));
               CHTLINK_TRY(deleteById(call.tx, Collection::Users, user->id));
               return text(200, fmt::format("Successfully removed user with email {}", email));
             }));
}

void addClientRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/clients",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(call.tx, Collection::Clients));
               Json out = Json::array();
               for (auto& d : docs) out.push_back(publicClient(std::move(d.doc)));
               return json(200, out);
             }));
  router.add("POST", "/clients",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Json doc, requireObject(call.request));
               CHTLINK_TRY(validateClient(doc));
               CHTLINK_TRY(checkNotARole(call, doc));
               doc["_id"] = newObjectId(call.deps.clock, call.deps.random);
               if (auto s = insertDoc(call.tx, Collection::Clients, doc); !s.has_value())
                 return invalidArgument("Could not add client via the API: " + s.error().message);
               return text(201, "Client successfully created");
             }));
  auto find = [](Call& call) -> Result<StoredDoc> {
    std::string id(call.request.param("id"));
    std::optional<StoredDoc> found;
    if (call.request.query.find("byNamedClientID=true") != std::string::npos) {
      CHTLINK_ASSIGN_OR_RETURN(found, findByKey(call.tx, Collection::Clients, id));
    } else {
      CHTLINK_ASSIGN_OR_RETURN(found, findById(call.tx, Collection::Clients, id));
    }
    if (!found) return notFound(fmt::format("Client with id {} could not be found.", id));
    return std::move(*found);
  };
  router.add("GET", "/clients/{id}",
             handler(deps, Access::Read, Auth::Admin, [find](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto client, find(call));
               return json(200, publicClient(std::move(client.doc)));
             }));
  router.add("PUT", "/clients/{id}",
             handler(deps, Access::Write, Auth::Admin, [find](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Json body, requireObject(call.request));
               CHTLINK_ASSIGN_OR_RETURN(auto client, find(call));
               const std::string old_client_id = client.doc.value("clientID", "");
               body.erase("_id");
               client.doc.update(body);
               CHTLINK_TRY(validateClient(client.doc));
               if (client.doc.value("clientID", "") != old_client_id)
                 CHTLINK_TRY(checkNotARole(call, client.doc, client.id));
               CHTLINK_TRY(replaceDoc(call.tx, Collection::Clients, client.doc));
               return text(200, fmt::format("Successfully updated client {}.", client.id));
             }));
  router.add("DELETE", "/clients/{id}",
             handler(deps, Access::Write, Auth::Admin, [find](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto client, find(call));
               CHTLINK_TRY(deleteById(call.tx, Collection::Clients, client.id));
               return text(200, fmt::format("Successfully removed client with ID {}", client.id));
             }));
}

void addChannelRoutes(net::Router& router, const AdminApiDeps& deps) {
  router.add("GET", "/channels",
             handler(deps, Access::Read, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto docs, listDocs(call.tx, Collection::Channels));
               Json out = Json::array();
               for (auto& d : docs) out.push_back(std::move(d.doc));
               return json(200, out);
             }));
  router.add("POST", "/channels",
             handler(deps, Access::Write, Auth::Admin, [](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(Json doc, requireObject(call.request));
               CHTLINK_TRY(validateChannelDocument(doc));
               doc["_id"] = newObjectId(call.deps.clock, call.deps.random);
               if (auto s = insertDoc(call.tx, Collection::Channels, doc); !s.has_value())
                 return invalidArgument("Could not add channel via the API: " + s.error().message);
               return text(201, "Channel successfully created");
             }));
  auto find = [](Call& call) -> Result<StoredDoc> {
    std::string id(call.request.param("id"));
    CHTLINK_ASSIGN_OR_RETURN(auto found, findById(call.tx, Collection::Channels, id));
    if (!found) return notFound(fmt::format("We could not find a channel with Id:'{}'.", id));
    return std::move(*found);
  };
  router.add("GET", "/channels/{id}",
             handler(deps, Access::Read, Auth::Admin, [find](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto channel, find(call));
               return json(200, channel.doc);
             }));
  router.add(
      "PUT", "/channels/{id}",
      handler(deps, Access::Write, Auth::Admin, [find](Call& call) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(Json body, requireObject(call.request));
        CHTLINK_ASSIGN_OR_RETURN(auto channel, find(call));
        body.erase("_id");
        channel.doc.update(body);
        CHTLINK_TRY(validateChannelDocument(channel.doc));
        if (auto s = replaceDoc(call.tx, Collection::Channels, channel.doc); !s.has_value())
          return invalidArgument("Could not update channel via the API: " + s.error().message);
        return text(200, "The channel was successfully updated");
      }));
  // Polls a polling channel now (the call runs after this answer, like OpenHIM's).
  router.add(
      "POST", "/channels/{id}/trigger",
      handler(deps, Access::Read, Auth::Admin, [find](Call& call) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(auto channel, find(call));
        if (channel.doc.value("type", "http") != "polling")
          return invalidArgument(fmt::format("Channel {} is not a polling channel", channel.id));
        ChannelRouter* channel_router = &call.deps.router;
        call.after_commit.push_back(
            [channel_router, id = channel.id] { (void)channel_router->poll(id, TimePoint()); });
        return text(200, "OK");
      }));
  router.add("DELETE", "/channels/{id}",
             handler(deps, Access::Write, Auth::Admin, [find](Call& call) -> Result<net::Response> {
               CHTLINK_ASSIGN_OR_RETURN(auto channel, find(call));
               // As OpenHIM: a channel that transactions refer to is only marked deleted
               // (it stops routing; its transactions keep their channel and stay listable).
               CHTLINK_ASSIGN_OR_RETURN(bool referenced,
                                        channelHasTransactions(call.tx, channel.id));
               if (referenced) {
                 channel.doc["status"] = "deleted";
                 CHTLINK_TRY(replaceDoc(call.tx, Collection::Channels, channel.doc));
               } else {
                 CHTLINK_TRY(deleteById(call.tx, Collection::Channels, channel.id));
               }
               return text(200, "The channel was successfully deleted");
             }));
}

}  // namespace chtlink::him::api
