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

PullFollower::~PullFollower() {
  if (prefetch_.valid()) prefetch_.wait();
}

void PullFollower::forgetCached() {
  if (prefetch_.valid()) (void)prefetch_.get();
  prefetch_since_.clear();
  if (!options_.app_settings) settings_.reset();
}

Result<PullFollower::Fetched> PullFollower::fetchPage(const std::string& since, bool longpoll) {
  ChangesQuery query;
  query.since = since;
  query.limit = options_.batch;
  query.include_docs = false;
  if (longpoll) query.longpoll = options_.longpoll;
  Fetched fetched;
  CHTLINK_ASSIGN_OR_RETURN(fetched.page, cht_.changes(query));
  // Sentinel's rules: no deleted docs, design docs or info docs; each id once per page.
  std::vector<std::string> ids;
  for (const auto& change : fetched.page.results) {
    if (change.id == "settings") fetched.settings_changed = true;
    if (change.deleted || sentinelSkips(change.id)) continue;
    if (!fetched.revs.count(change.id)) ids.push_back(change.id);
    fetched.revs[change.id] = change.rev;
  }
  if (!ids.empty()) {
    CHTLINK_ASSIGN_OR_RETURN(fetched.docs, cht_.hydrate(ids));
  }
  return fetched;
}

Result<PageResult> PullFollower::pollOnce(bool longpoll) {
  CHTLINK_ASSIGN_OR_RETURN(std::string since, checkpoint());
  // The page read ahead while the previous one was evaluated and written, if it is the one
  // that follows the checkpoint now.
  std::optional<Result<Fetched>> ahead;
  if (prefetch_.valid()) {
    ahead.emplace(prefetch_.get());
    // An empty page read ahead may predate a write: read it again now.
    if (prefetch_since_ != since || longpoll || !*ahead || (*ahead)->page.results.empty()) {
      ahead.reset();
    }
  }
  Result<Fetched> fetched = ahead ? std::move(*ahead) : fetchPage(since, longpoll);
  if (!fetched) return fetched.error();
  const ChangesPage& page = fetched->page;
  std::map<std::string, std::string>& revs = fetched->revs;
  const bool settings_changed = fetched->settings_changed;
  PageResult result;
  result.changes = page.results.size();
  result.last_seq = page.last_seq.empty() ? since : page.last_seq;
  // Read the next page while this one is evaluated and written (a backfill is I/O bound on
  // CHT as much as it is CPU bound here).
  if (result.changes > 0 && options_.read_ahead) {
    prefetch_since_ = result.last_seq;
    prefetch_ = std::async(std::launch::async,
                           [this, next = result.last_seq] { return fetchPage(next, false); });
  }
  if (!settings_ || (settings_changed && !options_.app_settings)) {
    std::optional<OrderedJson> from_cht;
    if (!options_.app_settings) {
      CHTLINK_ASSIGN_OR_RETURN(from_cht, cht_.getSettings());
    }
    auto parsed =
        outbound::parseOutboundSettings(options_.app_settings ? *options_.app_settings : *from_cht);
    if (!parsed) return parsed.error().withContext("pull mode: app_settings: ");
    settings_ = std::move(parsed).value();
  }
  const outbound::OutboundSettings& settings = *settings_;
  std::vector<Planned> planned;
  if (!fetched->docs.empty() && !settings.configs.empty()) {
    const auto& docs = fetched->docs;
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
    // Another process may have moved the checkpoint meanwhile: then this page is stale. The
    // lock orders page writes of processes following this checkpoint (normally one, the
    // leader; two only for the moment a lost leader takes to notice), so the check below
    // sees the other's committed page rather than racing it.
    CHTLINK_TRY(tx.lockUntilCommit("cht-pull-page:" + options_.checkpoint));
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
