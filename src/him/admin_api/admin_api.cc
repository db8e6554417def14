#include "him/admin_api/admin_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "him/admin_api/api_internal.h"
#include "him/client_auth.h"
#include "him/crypto.h"

namespace chtlink::him {
namespace api {

net::Response text(int status, std::string_view body) {
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::string(body);
  return r;
}

net::Response json(int status, const Json& body) { return net::Response::json(status, body); }

Result<Json> bodyJson(const net::Request& request) {
  if (request.body.empty()) return Json();
  auto parsed = parseJson(request.body);
  if (!parsed.has_value())
    return invalidArgument("the request body is not valid JSON: " + parsed.error().message);
  return std::move(parsed).value();
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

namespace {

int httpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return 400;
    case ErrorCode::Unauthenticated:
      return 401;
    case ErrorCode::PermissionDenied:
      return 403;
    case ErrorCode::NotFound:
      return 404;
    case ErrorCode::AlreadyExists:
    case ErrorCode::Conflict:
      return 409;
    case ErrorCode::TooLarge:
      return 413;
    case ErrorCode::Unavailable:
      return 503;
    default:
      return 500;
  }
}

// OpenHIM's per-request order: any auth-* header means token auth only; else Basic; else 401.
// Failures say only "Unauthorized", as OpenHIM does, so the API does not reveal which
// emails exist; the reason goes to the log.
Result<Json> authenticate(Call& call) {
  const auto& h = call.request.headers;
  bool token =
      h.has("auth-username") || h.has("auth-ts") || h.has("auth-salt") || h.has("auth-token");
  std::string email;
  std::string why;
  std::optional<StoredDoc> user;
  if (token) {
    email = lower(h.get("auth-username"));
    CHTLINK_ASSIGN_OR_RETURN(user, findByKey(call.tx, Collection::Users, email));
    if (!user) {
      why = "unknown user";
    } else if (!checkUserToken(user->doc, h.get("auth-ts"), h.get("auth-salt"), h.get("auth-token"),
                               call.deps.clock.now(), call.deps.options.auth_window)) {
      why = "token does not match or auth-ts is outside the window";
      user.reset();
    }
  } else if (auto creds = parseBasicAuth(h.get("Authorization")); creds) {
    email = lower(creds->username);
    CHTLINK_ASSIGN_OR_RETURN(user, findByKey(call.tx, Collection::Users, email));
    if (!user) {
      why = "unknown user";
    } else if (!checkUserPassword(user->doc, creds->password)) {
      why = "wrong password";
      user.reset();
    }
  } else {
    why = "no credentials";
  }
  if (!user) {
    if (call.deps.log) {
      call.deps.log->info("admin API: {} {} refused for '{}': {}", call.request.method,
                          call.request.path, email, why);
    }
    return unauthenticated("Unauthorized");
  }
  if (user->doc.value("locked", false)) return unauthenticated("Unauthorized");
  return std::move(user->doc);
}

bool isAdmin(const Json& user) {
  auto it = user.find("groups");
  if (it == user.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(), [](const Json& g) {
    return g.is_string() && g.get<std::string>() == "admin";
  });
}

}  // namespace

void serve(const AdminApiDeps& deps, net::Request request, net::Reply reply, store::Access access,
           Auth auth, Work work) {
  struct Outcome {
    std::optional<net::Response> response;
    std::shared_ptr<const RoutingState> routing;
    std::vector<std::function<void()>> after_commit;
  };
  auto outcome = std::make_shared<Outcome>();
  auto req = std::make_shared<net::Request>(std::move(request));
  const AdminApiDeps* d = &deps;
  deps.db.post(
      access,
      [d, req, auth, access, work = std::move(work), outcome](store::Transaction& tx) -> Status {
        Json user;
        {
          Json none;
          Call probe{tx, *req, none, *d, {}};
          if (auth == Auth::Admin) {
            CHTLINK_ASSIGN_OR_RETURN(user, authenticate(probe));
            if (!isAdmin(user)) {
              return permissionDenied(fmt::format("User {} is not an admin, API access denied.",
                                                  user.value("email", "")));
            }
          }
        }
        Call call{tx, *req, user, *d, {}};
        CHTLINK_ASSIGN_OR_RETURN(outcome->response, work(call));
        outcome->after_commit = std::move(call.after_commit);
        if (access == store::Access::Write) {
          std::vector<std::string> skipped;
          CHTLINK_ASSIGN_OR_RETURN(outcome->routing, RoutingTable::load(tx, &skipped));
          for (const auto& s : skipped)
            if (d->log) d->log->warn("channel not routable: {}", s);
        }
        return ok();
      },
      [d, reply, outcome](Status status) {
        if (!status.has_value()) {
          reply(text(httpStatus(status.error().code), status.error().message));
          return;
        }
        if (outcome->routing) d->table.set(outcome->routing);
        for (auto& fn : outcome->after_commit) fn();
        reply(std::move(*outcome->response));
      });
}

net::Handler handler(const AdminApiDeps& deps, store::Access access, Auth auth, Work work) {
  const AdminApiDeps* d = &deps;
  return [d, access, auth, work = std::move(work)](net::Request request, net::Reply reply) {
    serve(*d, std::move(request), std::move(reply), access, auth, work);
  };
}

namespace {

void addCoreRoutes(net::Router& router, const AdminApiDeps& deps) {
  // GET /authenticate/{email}: the salt for token auth. Public; 404 for an unknown user.
  router.add(
      "GET", "/authenticate/{email}",
      handler(deps, store::Access::Read, Auth::Public, [](Call& call) -> Result<net::Response> {
        std::string email = lower(call.request.param("email"));
        CHTLINK_ASSIGN_OR_RETURN(auto user, findByKey(call.tx, Collection::Users, email));
        if (!user) return notFound(fmt::format("Could not find user by email {}", email));
        return json(200, {{"salt", user->doc.value("passwordSalt", "")},
                          {"ts", isoTime(call.deps.clock.now())}});
      }));
  router.add(
      "GET", "/heartbeat",
      handler(deps, store::Access::Read, Auth::Public, [](Call& call) -> Result<net::Response> {
        double uptime =
            std::chrono::duration<double>(call.deps.clock.steadyNow() - call.deps.started).count();
        Json body = {{"master", uptime}, {"now", toUnixMillis(call.deps.clock.now())}};
        CHTLINK_ASSIGN_OR_RETURN(auto mediators, listDocs(call.tx, Collection::Mediators));
        if (!mediators.empty()) {
          Json m = Json::object();
          auto now = call.deps.clock.now();
          for (const auto& stored : mediators) {
            auto last = parseClientTime(stored.doc.value("_lastHeartbeat", ""));
            bool fresh = last && now - *last <= std::chrono::seconds(60);
            m[stored.doc.value("urn", "")] =
                fresh && stored.doc.contains("_uptime") ? stored.doc["_uptime"] : Json();
          }
          body["mediators"] = std::move(m);
        }
        return json(200, body);
      }));
  router.add("GET", "/about",
             handler(deps, store::Access::Read, Auth::Admin, [](Call&) -> Result<net::Response> {
               return json(200, {{"currentCoreVersion", "7.1.0"},
                                 {"serverTimezone", "UTC"},
                                 {"implementation", "chtlink"}});
             }));
  router.add("GET", "/authentication/types",
             handler(deps, store::Access::Read, Auth::Admin, [](Call&) -> Result<net::Response> {
               return json(200, Json::array({"basic-auth"}));
             }));
}

}  // namespace
}  // namespace api

net::Router buildAdminRouter(const AdminApiDeps& deps) {
  net::Router router;
  api::addCoreRoutes(router, deps);
  api::addUserRoutes(router, deps);
  api::addClientRoutes(router, deps);
  api::addChannelRoutes(router, deps);
  api::addMediatorRoutes(router, deps);
  api::addTransactionRoutes(router, deps);
  api::addMetadataRoutes(router, deps);
  api::addRoleRoutes(router, deps);
  return router;
}

}  // namespace chtlink::him
