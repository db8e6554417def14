#include "cht/feed/pull_follower.h"

#include <spdlog/spdlog.h>

#include <future>
#include <map>

#include "cht/outbound/mapper.h"
#include "queue/http_delivery.h"

namespace chtlink::cht::feed {
namespace {

using outbound::OrderedJson;

bool sentinelSkips(const std::string& id) {
  return id.rfind("_design/", 0) == 0 || (id.size() > 5 && id.ends_with("-info"));
}

// Host and port of a URL: the queue limits concurrency per destination.
std::string destinationOf(const std::string& url) {
  auto parsed = net::parseUrl(url);
  if (!parsed) return url;
  return parsed->host + ":" + std::to_string(parsed->port);
}

struct Planned {
  std::string doc_id;
  std::string config;
  std::optional<outbound::Payload> payload;
  std::optional<std::string> url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<Error> error;
};

}  // namespace

PullFollower::PullFollower(store::Database& database, ChtClient& cht, script::Engine& engine,
                           outbound::CredentialStore& credentials, const Clock& clock,
                           queue::QueueOptions queue_options, PullOptions options,
                           std::shared_ptr<spdlog::logger> logger)
    : database_(database),
      cht_(cht),
      engine_(engine),
      credentials_(credentials),
      clock_(clock),
      queue_options_(queue_options),
      options_(std::move(options)),
      logger_(std::move(logger)) {}

std::span<const store::Migration> PullFollower::migrations() {
  // Never deleted: no static objects with non-trivial destructors.
  static const auto* const kMigrations = new std::vector<store::Migration>{
      {"chtpull", 1, "pull-mode checkpoints, sent hashes and errors",
       "CREATE TABLE chtpull_checkpoints (name TEXT PRIMARY KEY, seq TEXT NOT NULL,"
       " updated_at BIGINT NOT NULL);"
       "CREATE TABLE chtpull_sent (doc_id TEXT NOT NULL, config TEXT NOT NULL,"
       " hash TEXT NOT NULL, job_id BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
       " PRIMARY KEY (doc_id, config));"
       "CREATE TABLE chtpull_errors (doc_id TEXT NOT NULL, config TEXT NOT NULL,"
       " rev TEXT NOT NULL, message TEXT NOT NULL, created_at BIGINT NOT NULL,"
       " PRIMARY KEY (doc_id, config))"},
  };
  return *kMigrations;
}

Result<std::string> PullFollower::checkpoint() {
  return database_.runFor<std::string>(
      store::Access::Read, [&](store::Transaction& tx) -> Result<std::string> {
        CHTLINK_ASSIGN_OR_RETURN(
            auto rows,
            tx.query("SELECT seq FROM chtpull_checkpoints WHERE name = ?", {options_.checkpoint}));
        return rows.empty() ? std::string("0") : rows.text(0, 0);
      });
}

Status PullFollower::setCheckpoint(const std::string& seq) {
  return database_.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute(
        "INSERT INTO chtpull_checkpoints (name, seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
        {options_.checkpoint, seq, toUnixMillis(clock_.now())}));
    return ok();
  });
}

Result<PageResult> PullFollower::pollOnce(bool longpoll) {
  CHTLINK_ASSIGN_OR_RETURN(std::string since, checkpoint());
  CHTLINK_ASSIGN_OR_RETURN(auto app_settings, cht_.getSettings());
  CHTLINK_ASSIGN_OR_RETURN(auto settings, outbound::parseOutboundSettings(app_settings));
  ChangesQuery query;
  query.since = since;
  query.limit = options_.batch;
  query.include_docs = false;
  if (longpoll) query.longpoll = options_.longpoll;
  CHTLINK_ASSIGN_OR_RETURN(auto page, cht_.changes(query));
  PageResult result;
  result.changes = page.results.size();
  result.last_seq = page.last_seq.empty() ? since : page.last_seq;

  // Sentinel's rules: no deleted docs, design docs or info docs; each id once per page.
  std::vector<std::string> ids;
  std::map<std::string, std::string> revs;
  for (const auto& change : page.results) {
    if (change.deleted || sentinelSkips(change.id)) continue;
    if (!revs.count(change.id)) ids.push_back(change.id);
    revs[change.id] = change.rev;
  }
  std::vector<Planned> planned;
  if (!ids.empty() && !settings.configs.empty()) {
    CHTLINK_ASSIGN_OR_RETURN(auto docs, cht_.hydrate(ids));
    // Every document of the page at once, so all the engine's threads work.
    std::vector<std::future<outbound::DocumentOutcome>> outcomes;
    for (const auto& hydrated : docs) {
      if (!hydrated.doc) continue;  // deleted since the change was read
      auto promise = std::make_shared<std::promise<outbound::DocumentOutcome>>();
      outcomes.push_back(promise->get_future());
      const OrderedJson* doc = &*hydrated.doc;
      engine_.post(outbound::jsStringify(*doc),
                   [promise, doc, &settings](script::Session& session) {
                     promise->set_value(outbound::evaluateDocument(session, settings, *doc));
                   });
    }
    for (auto& future : outcomes) {
      auto outcome = future.get();
      const std::string doc_id = outcome.doc_id;
      for (auto& push : outcome.pushes) {
        Planned plan{doc_id, push.config, std::move(push.payload), {}, {}, push.error};
        if (plan.payload) {
          const auto* config = settings.find(plan.config);
          auto request = outbound::buildPushRequest(*config, *plan.payload, credentials_);
          if (!request) {
            plan.error = request.error();
          } else if (request->login) {
            plan.error =
                failedPrecondition("outbound config '" + plan.config +
                                       "': muso-sih auth is not supported in pull mode yet",
                                   "outbound_unsupported");
          } else {
            plan.url = request->url;
            plan.headers = request->headers;
          }
        }
        planned.push_back(std::move(plan));
      }
    }
  }

  const int64_t now = toUnixMillis(clock_.now());
  Status written = database_.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    // Another process may have moved the checkpoint meanwhile: then this page is stale.
    CHTLINK_ASSIGN_OR_RETURN(
        auto current,
        tx.query("SELECT seq FROM chtpull_checkpoints WHERE name = ?", {options_.checkpoint}));
    if ((current.empty() ? std::string("0") : current.text(0, 0)) != since) {
      return conflict("pull checkpoint moved during the page; it will be read again",
                      "checkpoint_moved");
    }
    for (const auto& plan : planned) {
      if (plan.error) {
        ++result.errors;
        CHTLINK_TRY(tx.execute(
            "INSERT INTO chtpull_errors (doc_id, config, rev, message, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_id, config) DO UPDATE SET "
            "rev = excluded.rev, message = excluded.message, created_at = excluded.created_at",
            {plan.doc_id, plan.config, revs[plan.doc_id], plan.error->message, now}));
        continue;
      }
      CHTLINK_ASSIGN_OR_RETURN(
          auto sent, tx.query("SELECT hash FROM chtpull_sent WHERE doc_id = ? AND config = ?",
                              {plan.doc_id, plan.config}));
      if (!sent.empty() && sent.text(0, 0) == plan.payload->hash) {
        ++result.skipped;
        continue;
      }
      queue::HttpJob job;
      job.method = "POST";
      job.url = *plan.url;
      job.headers = plan.headers;
      job.body = plan.payload->body;
      queue::JobSpec spec;
      spec.kind = std::string(queue::kHttpJobKind);
      spec.destination = destinationOf(job.url);
      spec.payload = queue::encodeHttpJob(job);
      spec.max_attempts = options_.max_attempts;
      CHTLINK_ASSIGN_OR_RETURN(int64_t job_id,
                               queue::enqueue(tx, spec, queue_options_, clock_.now()));
      CHTLINK_TRY(tx.execute(
          "INSERT INTO chtpull_sent (doc_id, config, hash, job_id, updated_at) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_id, config) DO UPDATE SET "
          "hash = excluded.hash, job_id = excluded.job_id, updated_at = excluded.updated_at",
          {plan.doc_id, plan.config, plan.payload->hash, job_id, now}));
      CHTLINK_TRY(tx.execute("DELETE FROM chtpull_errors WHERE doc_id = ? AND config = ?",
                             {plan.doc_id, plan.config}));
      ++result.enqueued;
    }
    CHTLINK_TRY(tx.execute(
        "INSERT INTO chtpull_checkpoints (name, seq, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
        {options_.checkpoint, result.last_seq, now}));
    return ok();
  });
  if (!written) return written.error();
  for (const auto& plan : planned) {
    if (plan.error && logger_) {
      logger_->warn("pull: {} (document {}, config {})", plan.error->message, plan.doc_id,
                    plan.config);
    }
  }
  return result;
}

}  // namespace chtlink::cht::feed
