#include "fhir/subscription/delivery.h"

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <unordered_map>

#include "fhir/subscription/notifier.h"
#include "fhir/subscription/subscription_resource.h"

namespace chtlink::fhir::subscription {
namespace {

using queue::Outcome;

struct Event {
  int64_t seq = 0;
  std::string type;
  std::string id;
  int64_t version = 0;
  std::string body;      // with a payload: the version that matched
  bool missing = false;  // that version is no longer stored: nothing to send
};

// What one database read found for a subscription.
struct Plan {
  bool gone = false;  // deleted, off or unreadable: drop its events
  std::string status;
  RestHook channel;
  std::vector<Event> events;  // oldest first
  bool more = false;          // more events up to the job's own remain after these
};

// One job being delivered.
struct Run {
  std::string sub;
  int64_t seq = 0;
  std::function<void(Outcome)> done;
  Plan plan;
  size_t next = 0;
};

std::string truncated(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return std::string(s.substr(0, n)) + "...";
}

class DeliveryHandler final : public queue::JobHandler,
                              public std::enable_shared_from_this<DeliveryHandler> {
 public:
  DeliveryHandler(store::Database& db, ResourceStore& store, const search::Indexer& indexer,
                  net::HttpClient& client, const Clock& clock, DeliveryOptions options,
                  std::shared_ptr<spdlog::logger> log, std::shared_ptr<const void> keep_alive)
      : db_(db),
        store_(store),
        indexer_(indexer),
        client_(client),
        clock_(clock),
        options_(options),
        log_(std::move(log)),
        keep_alive_(std::move(keep_alive)) {
    if (!log_) {
      log_ =
          std::make_shared<spdlog::logger>("fhir", std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    if (options_.batch < 1) options_.batch = 1;
    if (options_.max_failures < 1) options_.max_failures = 1;
  }

  void handle(const queue::Job& job, std::function<void(Outcome)> done) override {
    auto payload = parseJson(job.payload);
    if (!payload.has_value() || !payload->is_object() ||
        !payload->value("subscription", Json()).is_string() ||
        !payload->value("seq", Json()).is_number_integer()) {
      done(Outcome::fail("not a rest-hook notification job: " + truncated(job.payload, 200)));
      return;
    }
    auto run = std::make_shared<Run>();
    run->sub = (*payload)["subscription"].get<std::string>();
    run->seq = (*payload)["seq"].get<int64_t>();
    run->done = std::move(done);
    {
      std::lock_guard lock(mu_);
      auto [it, fresh] = chains_.try_emplace(run->sub);
      if (!fresh) {  // another job of this subscription is delivering: wait for it
        it->second.push_back(run);
        return;
      }
    }
    load(run);
  }

 private:
  Result<Plan> readPlan(store::Transaction& tx, const Run& run) {
    Plan plan;
    CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, "Subscription", run.sub));
    if (!current || current->deleted) {
      plan.gone = true;
      return plan;
    }
    CHTLINK_ASSIGN_OR_RETURN(Json json, parseJson(current->json));
    auto spec = readSubscription(indexer_, json);
    if (!spec.has_value()) {
      log_->warn("Subscription/{} cannot be delivered: {}", run.sub, spec.error().message);
      plan.gone = true;
      return plan;
    }
    if (!spec->live()) {
      plan.gone = true;
      return plan;
    }
    plan.status = spec->status;
    plan.channel = std::move(spec->channel);
    CHTLINK_ASSIGN_OR_RETURN(
        store::Rows rows,
        tx.query("SELECT seq, resource_type, resource_id, version FROM fhir_subscription_event "
                 "WHERE subscription_id = ? AND seq <= ? ORDER BY seq LIMIT ?",
                 {run.sub, run.seq, int64_t{options_.batch} + 1}));
    for (size_t i = 0; i < rows.size(); ++i) {
      if (static_cast<int>(i) == options_.batch) {
        plan.more = true;
        break;
      }
      Event e{rows.integer(i, 0), rows.text(i, 1), rows.text(i, 2), rows.integer(i, 3), "", false};
      if (plan.channel.payload) {
        CHTLINK_ASSIGN_OR_RETURN(auto v, store_.readVersion(tx, e.type, e.id, e.version));
        if (!v || v->deleted) {
          e.missing = true;
        } else {
          e.body = std::move(v->json);
        }
      }
      plan.events.push_back(std::move(e));
    }
    return plan;
  }

  void load(const std::shared_ptr<Run>& run) {
    auto self = shared_from_this();
    auto plan = std::make_shared<Plan>();
    db_.post(
        store::Access::Read,
        [self, run, plan](store::Transaction& tx) -> Status {
          CHTLINK_ASSIGN_OR_RETURN(*plan, self->readPlan(tx, *run));
          return ok();
        },
        [self, run, plan](Status s) {
          if (!s.has_value()) {
            self->finish(run, Outcome::retry("reading the notifications of Subscription/" +
                                             run->sub + ": " + s.error().message));
            return;
          }
          run->plan = std::move(*plan);
          run->next = 0;
          if (run->plan.gone) {
            self->drop(run);
          } else if (run->plan.events.empty()) {
            self->finish(run, Outcome::delivered());
          } else {
            self->send(run);
          }
        });
  }

  // Off, deleted or unreadable: its events up to this job's are dropped.
  void drop(const std::shared_ptr<Run>& run) {
    auto self = shared_from_this();
    db_.post(
        store::Access::Write,
        [run](store::Transaction& tx) -> Status {
          CHTLINK_TRY(tx.execute(
              "DELETE FROM fhir_subscription_event WHERE subscription_id = ? AND seq <= ?",
              {run->sub, run->seq}));
          return ok();
        },
        [self, run](Status s) {
          self->finish(run, s.has_value() ? Outcome::delivered()
                                          : Outcome::retry("dropping the notifications of "
                                                           "Subscription/" +
                                                           run->sub + ": " + s.error().message));
        });
  }

  void send(const std::shared_ptr<Run>& run) {
    if (run->next == run->plan.events.size()) {
      if (run->plan.more) {
        load(run);
      } else {
        finish(run, Outcome::delivered());
      }
      return;
    }
    const Event& e = run->plan.events[run->next];
    if (e.missing) {
      log_->warn("Subscription/{}: {}/{} version {} is no longer stored; notification {} dropped",
                 run->sub, e.type, e.id, e.version, e.seq);
      succeeded(run);
      return;
    }
    const RestHook& channel = run->plan.channel;
    net::ClientRequest request;
    if (channel.payload) {
      std::string base = channel.endpoint;
      while (!base.empty() && base.back() == '/') base.pop_back();
      request.method = "PUT";
      request.url = base + "/" + e.type + "/" + e.id;
      request.body = e.body;
    } else {
      request.method = "POST";
      request.url = channel.endpoint;
    }
    for (const auto& [name, value] : channel.headers) request.headers.add(name, value);
    if (channel.payload) request.headers.set("Content-Type", *channel.payload + ";charset=utf-8");
    request.headers.set("X-Chtlink-Notification-Id", std::to_string(e.seq));
    auto self = shared_from_this();
    std::string what = request.method + " " + request.url;
    client_.send(std::move(request), [self, run, what](Result<net::ClientResponse> r) {
      if (r.has_value() && r->status >= 200 && r->status < 300) {
        self->succeeded(run);
        return;
      }
      std::string why = r.has_value() ? fmt::format("{} answered HTTP {}: {}", what, r->status,
                                                    truncated(r->body, 200))
                                      : fmt::format("{} failed: {}", what, r.error().message);
      self->failed(run, std::move(why));
    });
  }

  // Writes the Subscription's status and error (error text, or none when active), unless it
  // is gone or off meanwhile.
  Status setStatus(store::Transaction& tx, const std::string& sub, std::string_view status,
                   const std::string& error_text) {
    CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, "Subscription", sub));
    if (!current || current->deleted) return ok();
    CHTLINK_ASSIGN_OR_RETURN(Json json, parseJson(current->json));
    if (json.value("status", "") == kStatusOff) return ok();
    json["status"] = std::string(status);
    if (error_text.empty()) {
      json.erase("error");
    } else {
      json["error"] = error_text;
    }
    CHTLINK_TRY(store_.write(tx, "Subscription", sub, std::move(json), current, "PUT",
                             /*keep_unchanged=*/true));
    return ok();
  }

  void succeeded(const std::shared_ptr<Run>& run) {
    auto self = shared_from_this();
    const int64_t seq = run->plan.events[run->next].seq;
    const bool was_error = run->plan.status == kStatusError;
    db_.post(
        store::Access::Write,
        [self, run, seq, was_error](store::Transaction& tx) -> Status {
          CHTLINK_TRY(tx.execute("DELETE FROM fhir_subscription_event WHERE seq = ?", {seq}));
          CHTLINK_ASSIGN_OR_RETURN(
              int64_t reset,
              tx.execute("DELETE FROM fhir_subscription_state WHERE subscription_id = ?",
                         {run->sub}));
          if (was_error || reset > 0) CHTLINK_TRY(self->setStatus(tx, run->sub, kStatusActive, ""));
          return ok();
        },
        [self, run, was_error](Status s) {
          if (!s.has_value()) {
            // Delivered but not recorded: it is sent again (at least once).
            self->finish(run, Outcome::retry("recording a delivery for Subscription/" + run->sub +
                                             ": " + s.error().message));
            return;
          }
          if (was_error) {
            self->log_->info("Subscription/{} delivers again; status active", run->sub);
          }
          run->plan.status = std::string(kStatusActive);
          ++run->next;
          self->send(run);
        });
  }

  void failed(const std::shared_ptr<Run>& run, std::string why) {
    auto self = shared_from_this();
    auto failures = std::make_shared<int64_t>(0);
    db_.post(
        store::Access::Write,
        [self, run, why, failures](store::Transaction& tx) -> Status {
          const int64_t now = toUnixMillis(self->clock_.now());
          CHTLINK_ASSIGN_OR_RETURN(
              store::Rows rows,
              tx.query("INSERT INTO fhir_subscription_state (subscription_id, failures, "
                       "last_error, updated_at) VALUES (?, 1, ?, ?) "
                       "ON CONFLICT (subscription_id) DO UPDATE SET "
                       "failures = fhir_subscription_state.failures + 1, "
                       "last_error = excluded.last_error, updated_at = excluded.updated_at "
                       "RETURNING failures",
                       {run->sub, why, now}));
          *failures = rows.empty() ? 0 : rows.integer(0, 0);
          if (*failures >= self->options_.max_failures && run->plan.status != kStatusError) {
            CHTLINK_TRY(self->setStatus(
                tx, run->sub, kStatusError,
                fmt::format("{} consecutive deliveries failed; the last: {}", *failures, why)));
          }
          return ok();
        },
        [self, run, why, failures](Status s) {
          if (!s.has_value()) {
            self->log_->error("recording a failed delivery of Subscription/{}: {}", run->sub,
                              s.error().message);
          } else if (*failures == self->options_.max_failures) {
            self->log_->warn("Subscription/{}: status error after {} failed deliveries: {}",
                             run->sub, *failures, why);
          }
          self->finish(run, Outcome::retry(why));
        });
  }

  void finish(const std::shared_ptr<Run>& run, Outcome outcome) {
    run->done(std::move(outcome));
    std::shared_ptr<Run> next;
    {
      std::lock_guard lock(mu_);
      auto it = chains_.find(run->sub);
      if (it == chains_.end()) return;
      if (it->second.empty()) {
        chains_.erase(it);
      } else {
        next = std::move(it->second.front());
        it->second.pop_front();
      }
    }
    if (next) load(next);
  }

  store::Database& db_;
  ResourceStore& store_;
  const search::Indexer& indexer_;
  net::HttpClient& client_;
  const Clock& clock_;
  DeliveryOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<const void> keep_alive_;

  std::mutex mu_;
  // Subscriptions with a job delivering, and the jobs waiting behind it.
  std::unordered_map<std::string, std::deque<std::shared_ptr<Run>>> chains_;
};

}  // namespace

std::shared_ptr<queue::JobHandler> makeDeliveryHandler(store::Database& db, ResourceStore& store,
                                                       const search::Indexer& indexer,
                                                       net::HttpClient& client, const Clock& clock,
                                                       DeliveryOptions options,
                                                       std::shared_ptr<spdlog::logger> log,
                                                       std::shared_ptr<const void> keep_alive) {
  return std::make_shared<DeliveryHandler>(db, store, indexer, client, clock, options,
                                           std::move(log), std::move(keep_alive));
}

}  // namespace chtlink::fhir::subscription
