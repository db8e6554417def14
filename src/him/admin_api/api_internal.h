// Shared plumbing of the admin API handlers. Private to src/him/admin_api.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "him/admin_api/admin_api.h"
#include "him/repository.h"
#include "net/http.h"
#include "store/database.h"

namespace chtlink::him::api {

// One API call being served on a database thread.
struct Call {
  store::Transaction& tx;
  const net::Request& request;
  const Json& user;  // null JSON for public endpoints
  const AdminApiDeps& deps;
  // Run on the database thread after the transaction committed (reruns start here).
  std::vector<std::function<void()>> after_commit;
};

using Work = std::function<Result<net::Response>(Call&)>;

enum class Auth { Public, Admin };

// Authenticates (unless public), runs `work` in one transaction and answers. An Error from
// `work` rolls the transaction back and becomes a plain-text answer: InvalidArgument 400,
// Unauthenticated 401, PermissionDenied 403, NotFound 404, AlreadyExists/Conflict 409,
// Unavailable 503, anything else 500; the body is the error's message.
void serve(const AdminApiDeps& deps, net::Request request, net::Reply reply, store::Access access,
           Auth auth, Work work);

// A handler of the router: serve() with these settings.
net::Handler handler(const AdminApiDeps& deps, store::Access access, Auth auth, Work work);

net::Response text(int status, std::string_view body);
net::Response json(int status, const Json& body);
Result<Json> bodyJson(const net::Request& request);
std::string lower(std::string_view s);

// The handlers, one file per resource.
void addUserRoutes(net::Router& router, const AdminApiDeps& deps);
void addClientRoutes(net::Router& router, const AdminApiDeps& deps);
void addChannelRoutes(net::Router& router, const AdminApiDeps& deps);
void addMediatorRoutes(net::Router& router, const AdminApiDeps& deps);
void addTransactionRoutes(net::Router& router, const AdminApiDeps& deps);
void addMetadataRoutes(net::Router& router, const AdminApiDeps& deps);
void addRoleRoutes(net::Router& router, const AdminApiDeps& deps);

// Whether `name` is a role: a stored role document, or in the roles of a client other than
// the one with `_id` `skip_client`. A clientID may not be one (POST/PUT /clients answer 409).
Result<bool> isRoleName(store::Transaction& tx, const std::string& name,
                        const std::string& skip_client = "");

// Prepares a user document for storage: lower-cased email, a `password` field turned into
// hash material, provider token. InvalidArgument when email is missing.
Result<Json> prepareUser(Json doc, Random& random);
// Documents as the API returns them (password hash material and tokens removed).
Json publicUser(Json doc);
Json publicClient(Json doc);

}  // namespace chtlink::him::api
