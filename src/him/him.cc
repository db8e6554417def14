#include "him/him.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "him/admin_api/admin_api.h"
#include "him/channel_router.h"
#include "him/client_auth.h"
#include "him/crypto.h"
#include "him/polling.h"
#include "him/repository.h"
#include "him/routing_table.h"
#include "him/self_signed.h"
#include "him/transaction_log.h"

namespace chtlink::him {
namespace {

constexpr const char* kDefaultAdmin = "root@openhim.org";
constexpr const char* kDefaultPassword = "openhim-password";

}  // namespace

struct Him::State {
  State(store::Database& db_in, net::HttpClient& client, const Clock& clock_in, Random& random_in,
        HimOptions options_in, std::shared_ptr<spdlog::logger> log_in)
      : db(db_in),
        clock(clock_in),
        random(random_in),
        options(std::move(options_in)),
        log(std::move(log_in)),
        transactions(db, log),
        router(table, client, transactions, clock, random, options, log),
        polling(table, router, clock, log),
        api_deps{db, table, router, clock, random, options, log, clock.steadyNow()} {}

  store::Database& db;
  const Clock& clock;
  Random& random;
  const HimOptions options;
  std::shared_ptr<spdlog::logger> log;
  RoutingTable table;
  TransactionLog transactions;
  ChannelRouter router;
  PollingScheduler polling;
  AdminApiDeps api_deps;
};

Him::Him(store::Database& db, net::HttpClient& client, const Clock& clock, Random& random,
         HimOptions options, std::shared_ptr<spdlog::logger> log)
    : state_(
          std::make_unique<State>(db, client, clock, random, std::move(options), std::move(log))) {}

Him::~Him() { stop(); }

const HimOptions& Him::options() const { return state_->options; }

Status Him::start() {
  State& s = *state_;
  bool default_password = false;
  int64_t interrupted = 0;
  std::shared_ptr<const RoutingState> routing;
  std::vector<std::string> skipped;
  Status loaded = s.db.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(auto users, listDocs(tx, Collection::Users));
    if (users.empty()) {
      Json root = {{"_id", newObjectId(s.clock, s.random)},
                   {"firstname", "Super"},
                   {"surname", "User"},
                   {"email", kDefaultAdmin},
                   {"provider", "token"},
                   {"groups", Json::array({"admin"})}};
      root.update(hashUserPassword(kDefaultPassword, newUuid(s.random)));
      CHTLINK_TRY(insertDoc(tx, Collection::Users, root));
    }
    CHTLINK_ASSIGN_OR_RETURN(auto root, findByKey(tx, Collection::Users, kDefaultAdmin));
    default_password = root && checkUserPassword(root->doc, kDefaultPassword);
    CHTLINK_ASSIGN_OR_RETURN(interrupted, failInterruptedTransactions(tx, isoTime(s.clock.now())));
    CHTLINK_ASSIGN_OR_RETURN(routing, RoutingTable::load(tx, &skipped));
    return ok();
  });
  if (!loaded.has_value()) return loaded.error().withContext("him: loading from the store: ");
  if (default_password) {
    if (!s.options.sandbox) {
      return failedPrecondition(
          fmt::format(
              "admin API user {0} still has OpenHIM's public default password '{1}'; chtlink "
              "refuses to start outside the sandbox until it is changed. Start once in sandbox "
              "mode (--set sandbox.mode=on, admin API on 127.0.0.1) and change it with: curl "
              "-k -u {0}:{1} -X PUT https://127.0.0.1:{2}/users/{0} -H 'Content-Type: "
              "application/json' -d '{{\"password\": \"<new password>\"}}'",
              kDefaultAdmin, kDefaultPassword, s.options.api_port),
          "default_admin_password");
    }
    if (s.log) {
      s.log->warn(
          "sandbox: admin API user {} has OpenHIM's public default password '{}'; change it "
          "(PUT /users/{}) before exposing port {}; outside the sandbox chtlink refuses to "
          "start with it",
          kDefaultAdmin, kDefaultPassword, kDefaultAdmin, s.options.api_port);
    }
  }
  if (interrupted > 0 && s.log)
    s.log->warn("him: {} transactions interrupted by the last stop were marked Failed",
                interrupted);
  for (const auto& why : skipped)
    if (s.log) s.log->warn("him: channel not routable: {}", why);
  s.table.set(std::move(routing));
  s.polling.start();
  return ok();
}

net::Handler Him::routerHandler() {
  ChannelRouter* router = &state_->router;
  return [router](net::Request request, net::Reply reply) {
    router->handle(std::move(request), std::move(reply));
  };
}

net::Router Him::adminRouter() { return buildAdminRouter(state_->api_deps); }

Result<net::ServerOptions> Him::adminServerOptions(net::ServerOptions base) const {
  const HimOptions& o = state_->options;
  base.name = "api";
  base.host = o.api_host;
  base.port = o.api_port;
  base.port_setting = "him.api_port";
  base.tls.reset();
  if (!o.api_tls) return base;
  if (!o.api_tls_certificate_file.empty() || !o.api_tls_private_key_file.empty()) {
    if (o.api_tls_certificate_file.empty() || o.api_tls_private_key_file.empty()) {
      return invalidArgument(
          "him.api_tls_certificate_file and him.api_tls_private_key_file must be set together");
    }
    base.tls = net::TlsFiles{o.api_tls_certificate_file, o.api_tls_private_key_file};
    return base;
  }
  CHTLINK_ASSIGN_OR_RETURN(auto files, ensureSelfSignedCertificate(o.data_dir, "localhost"));
  if (files.created && state_->log) {
    state_->log->info("admin API: created a self-signed certificate {}", files.certificate_file);
  }
  base.tls = net::TlsFiles{files.certificate_file, files.private_key_file};
  return base;
}

void Him::stop() {
  state_->polling.stop();
  state_->transactions.flush();
}

}  // namespace chtlink::him
