#include "fhir/subscription/notifier.h"

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace chtlink::fhir::subscription {

Notifier::Notifier(const search::Indexer& indexer, const Clock& clock, NotifierOptions options,
                   std::shared_ptr<spdlog::logger> log)
    : indexer_(indexer), clock_(clock), options_(std::move(options)), log_(std::move(log)) {
  if (!log_) {
    log_ =
        std::make_shared<spdlog::logger>("fhir", std::make_shared<spdlog::sinks::null_sink_mt>());
  }
}

void Notifier::configureQueue(const queue::QueueOptions& options, std::function<void()> wake) {
  std::unique_lock lock(mu_);
  options_.queue = options;
  wake_ = std::move(wake);
}

Status Notifier::prepare(const std::string& type, Json& resource) const {
  if (type != "Subscription") return ok();
  auto spec = acceptSubscription(indexer_, resource);
  if (!spec.has_value()) return spec.error();
  return ok();
}

void Notifier::putLocked(const std::string& id, std::shared_ptr<const Entry> entry) {
  removeLocked(id);
  type_of_[id] = entry->spec.criteria.type;
  by_type_[entry->spec.criteria.type].push_back(std::move(entry));
}

void Notifier::removeLocked(const std::string& id) {
  auto it = type_of_.find(id);
  if (it == type_of_.end()) return;
  auto list = by_type_.find(it->second);
  if (list != by_type_.end()) {
    std::erase_if(list->second, [&](const auto& e) { return e->id == id; });
    if (list->second.empty()) by_type_.erase(list);
  }
  type_of_.erase(it);
}

Status Notifier::reloadIfDue(store::Transaction& tx) {
  const auto now = clock_.steadyNow();
  {
    std::shared_lock lock(mu_);
    if (loaded_ && now - loaded_at_ < options_.reload_interval) return ok();
  }
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT id, json FROM fhir_resource WHERE type = 'Subscription' AND deleted = 0"));
  std::map<std::string, std::vector<std::shared_ptr<const Entry>>, std::less<>> by_type;
  std::map<std::string, std::string, std::less<>> type_of;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string id = rows.text(i, 0);
    auto json = parseJson(rows.text(i, 1));
    if (!json.has_value()) continue;
    auto spec = readSubscription(indexer_, *json);
    if (!spec.has_value()) {
      // Stored before these checks existed (or by a newer version): never delivered.
      log_->warn("Subscription/{} is ignored: {}", id, spec.error().message);
      continue;
    }
    if (!spec->live()) continue;
    auto entry = std::make_shared<const Entry>(Entry{id, std::move(spec).value()});
    type_of[id] = entry->spec.criteria.type;
    by_type[entry->spec.criteria.type].push_back(std::move(entry));
  }
  std::unique_lock lock(mu_);
  if (!loaded_) log_->info("rest-hook subscriptions: {} live", type_of.size());
  by_type_ = std::move(by_type);
  type_of_ = std::move(type_of);
  loaded_ = true;
  loaded_at_ = now;
  return ok();
}

Status Notifier::cancel(store::Transaction& tx, const std::string& id) {
  CHTLINK_TRY(tx.execute("DELETE FROM fhir_subscription_event WHERE subscription_id = ?", {id}));
  CHTLINK_TRY(tx.execute("DELETE FROM fhir_subscription_state WHERE subscription_id = ?", {id}));
  CHTLINK_TRY(queue::cancelPending(tx, kJobKind, "Subscription/" + id));
  return ok();
}

Status Notifier::notify(store::Transaction& tx, const Entry& entry, const StoredVersion& written) {
  const TimePoint now = clock_.now();
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("INSERT INTO fhir_subscription_event (subscription_id, resource_type, "
               "resource_id, version, created_at) VALUES (?, ?, ?, ?, ?) RETURNING seq",
               {entry.id, written.type, written.id, written.version, toUnixMillis(now)}));
  if (rows.empty()) return internalError("recording a subscription event returned no seq");
  Json payload = {{"subscription", entry.id}, {"seq", rows.integer(0, 0)}};
  queue::JobSpec spec;
  spec.kind = std::string(kJobKind);
  spec.destination = "Subscription/" + entry.id;
  spec.payload = dumpJson(payload);
  queue::QueueOptions queue_options;
  {
    std::shared_lock lock(mu_);
    queue_options = options_.queue;
  }
  CHTLINK_TRY(queue::enqueue(tx, spec, queue_options, now));
  return ok();
}

Status Notifier::afterWrite(store::Transaction& tx, const StoredVersion& written,
                            const search::IndexRows* indexed) {
  CHTLINK_TRY(reloadIfDue(tx));
  std::optional<Json> resource;
  if (written.type == "Subscription") {
    CHTLINK_ASSIGN_OR_RETURN(resource, parseJson(written.json));
    auto spec = readSubscription(indexer_, *resource);
    if (!spec.has_value()) return spec.error();
    const bool live = spec->live();
    {
      std::unique_lock lock(mu_);
      if (live) {
        putLocked(written.id, std::make_shared<const Entry>(Entry{written.id, std::move(*spec)}));
      } else {
        removeLocked(written.id);
      }
    }
    if (!live) CHTLINK_TRY(cancel(tx, written.id));  // off stops delivery
  }

  std::vector<std::shared_ptr<const Entry>> candidates;
  std::function<void()> wake;
  {
    std::shared_lock lock(mu_);
    auto it = by_type_.find(written.type);
    if (it == by_type_.end()) return ok();
    candidates = it->second;
    wake = wake_;
  }
  search::IndexRows computed;
  if (indexed == nullptr) {
    if (!resource) {
      CHTLINK_ASSIGN_OR_RETURN(resource, parseJson(written.json));
    }
    computed = indexer_.index(*resource, written.type);
  }
  const search::IndexRows& rows = indexed != nullptr ? *indexed : computed;
  const int64_t now_ms = toUnixMillis(clock_.now());
  bool enqueued = false;
  for (const auto& entry : candidates) {
    bool match = false;
    if (entry->spec.criteria.in_memory) {
      match = matchesInMemory(entry->spec.criteria, rows, written.id);
    } else {
      CHTLINK_ASSIGN_OR_RETURN(match,
                               matchesInDatabase(tx, entry->spec.criteria, written.pk, now_ms));
    }
    if (!match) continue;
    CHTLINK_TRY(notify(tx, *entry, written));
    enqueued = true;
  }
  // Before the commit: the workers' claim is a write too, so on SQLite it runs after this
  // transaction; elsewhere a claim that misses the job finds it at the next poll.
  if (enqueued && wake) wake();
  return ok();
}

Status Notifier::afterDelete(store::Transaction& tx, const StoredVersion& deleted) {
  if (deleted.type != "Subscription") return ok();
  {
    std::unique_lock lock(mu_);
    removeLocked(deleted.id);
  }
  return cancel(tx, deleted.id);
}

size_t Notifier::liveCount() const {
  std::shared_lock lock(mu_);
  return type_of_.size();
}

}  // namespace chtlink::fhir::subscription
