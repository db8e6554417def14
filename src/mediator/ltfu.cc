// The LTFU workflow (cht.md 4.1), made durable.
//
// The reference mediator checks the Patient, resolves the Organization's Endpoint, creates a
// Subscription and a CHT `interop_follow_up` record, and deletes the Subscription when CHT
// refuses. A crash between those steps leaves an orphan Subscription or a task nobody hears
// about. Here the accepted request is first written as an operation row together with a
// recovery job (same transaction), then the steps run, each recording the state reached:
//
//   accepted -> request_stored -> subscribed -> completed -> fulfilling -> fulfilled
//          \________________\______________\-> undoing -> undone
//
// Every FHIR step is idempotent (PUT with ids chosen at acceptance), so the recovery job,
// which runs `recovery_delay` later, simply continues from the recorded state: it finishes the
// operation, or finishes undoing it. The one step that is not idempotent is the CHT record
// (the records API takes no client id): a crash after CHT created it and before `completed`
// was recorded makes the recovery create a second record (at least once, never zero).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mediator/mediator_internal.h"

namespace chtlink::mediator {
namespace {

using store::Access;
using store::Transaction;

constexpr std::string_view kOperationSystem = "urn:chtlink:mediator:ltfu";

struct Operation {
  std::string id;
  std::string state;
  std::string patient_id;
  std::string callback_url;
  std::string subscription_id;
  std::string service_request_id;
  std::string record_id;
  std::string last_error;
  Json service_request;  // as stored in FHIR (status changes along the way)
};

Status insertOperation(Transaction& tx, const Operation& op, TimePoint now) {
  int64_t ms = toUnixMillis(now);
  CHTLINK_TRY(tx.execute(
      "INSERT INTO mediator_ltfu (id, state, patient_id, callback_url, subscription_id,"
      " service_request_id, service_request, record_id, last_error, created_at, updated_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?)",
      {op.id, op.state, op.patient_id, op.callback_url, op.subscription_id, op.service_request_id,
       dumpJson(op.service_request), ms, ms}));
  return ok();
}

Result<std::optional<Operation>> loadOperation(Transaction& tx, const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(auto rows,
                           tx.query("SELECT id, state, patient_id, callback_url, subscription_id,"
                                    " service_request_id, service_request, record_id, last_error"
                                    " FROM mediator_ltfu WHERE id = ?",
                                    {id}));
  if (rows.empty()) return std::optional<Operation>();
  Operation op;
  op.id = rows.text(0, 0);
  op.state = rows.text(0, 1);
  op.patient_id = rows.text(0, 2);
  op.callback_url = rows.text(0, 3);
  op.subscription_id = rows.text(0, 4);
  op.service_request_id = rows.text(0, 5);
  auto sr = parseJson(rows.text(0, 6));
  op.service_request = sr ? std::move(*sr) : Json::object();
  op.record_id = rows.text(0, 7);
  op.last_error = rows.text(0, 8);
  return std::optional<Operation>(std::move(op));
}

// One run of the state machine for one operation: the inline request or a recovery job.
// `finish` gets the answer for the caller and whether the operation reached a final state.
class Run : public std::enable_shared_from_this<Run> {
 public:
  using Finish = std::function<void(int status, Json body, bool settled)>;
  Run(StatePtr st, Operation op, std::shared_ptr<CallLog> log, Finish finish)
      : st_(std::move(st)), op_(std::move(op)), log_(std::move(log)), finish_(std::move(finish)) {}

  void step() {
    if (op_.state == "accepted") return putServiceRequest();
    if (op_.state == "request_stored") return putSubscription();
    if (op_.state == "subscribed") return createRecord();
    if (op_.state == "undoing") return undo(500, Json{{"message", op_.last_error}});
    // completed, fulfilling, fulfilled, undone: nothing left to do here.
    finish_(200, Json{{"state", op_.state}}, true);
  }

 private:
  void putServiceRequest() {
    op_.service_request["status"] = "active";
    fhir("FHIR store ServiceRequest", "PUT", "/ServiceRequest/" + op_.service_request_id,
         op_.service_request, [self = shared_from_this()](int status, Json body) {
           if (status >= 300) return self->fail(status, std::move(body));
           self->save("request_stored", [self] { self->putSubscription(); });
         });
  }

  void putSubscription() {
    Json subscription{
        {"resourceType", "Subscription"},
        {"id", op_.subscription_id},
        {"status", "requested"},
        {"reason", "Follow up request for patient"},
        {"criteria", "Encounter?identifier=" + op_.patient_id},
        {"channel", Json{{"type", "rest-hook"},
                         {"endpoint", op_.callback_url},
                         {"payload", "application/fhir+json"},
                         {"header", Json::array({"Content-Type: application/fhir+json"})}}}};
    fhir("FHIR create Subscription", "PUT", "/Subscription/" + op_.subscription_id,
         std::move(subscription), [self = shared_from_this()](int status, Json body) {
           if (status >= 300) return self->fail(status, std::move(body));
           self->subscription_status_ = status == 200 ? 201 : status;
           self->subscription_ = std::move(body);
           self->save("subscribed", [self] { self->createRecord(); });
         });
  }

  void createRecord() {
    const auto& up = st_->upstreams;
    if (up.cht_url.empty()) {
      return fail(500, Json{{"message",
                             "Unable to create the follow up task: mediator.cht_url "
                             "(CHT_URL) is not set"}});
    }
    Json record{{"_meta", Json{{"form", "interop_follow_up"}}}, {"patient_uuid", op_.patient_id}};
    auto request = jsonRequest("POST", up.cht_url, "/api/v2/records", up.cht_auth, record);
    std::string what = "CHT at " + up.cht_url;
    st_->caller.send(
        log_, "CHT create interop_follow_up record", std::move(request),
        [self = shared_from_this(), what](Result<net::ClientResponse> result) {
          std::string problem;
          Json answer;
          if (!result) {
            problem = transportFailure(result.error(), what).second;
          } else {
            answer = upstreamBody(*result);
            bool success = answer.is_object() && answer.value("success", false) == true;
            if (result->status >= 300 || !success) {
              problem =
                  fmt::format("CHT answered {}: {}", result->status, result->body.substr(0, 500));
            }
          }
          if (!problem.empty()) {
            return self->fail(500,
                              Json{{"message", "Unable to create the follow up task: " + problem},
                                   {"cht", answer}});
          }
          self->op_.record_id = answer.value("id", "");
          self->save("completed", [self] {
            Json body = self->subscription_.is_object() && !self->subscription_.empty()
                            ? self->subscription_
                            : Json{{"state", "completed"}};
            self->finish_(self->subscription_status_, std::move(body), true);
          });
        });
  }

  // A step failed: undo what was done, then answer with the failure.
  void fail(int status, Json body) {
    op_.last_error = body.is_object() && body.contains("message") && body["message"].is_string()
                         ? body["message"].get<std::string>()
                         : dumpJson(body).substr(0, 1000);
    if (op_.last_error.empty()) op_.last_error = fmt::format("upstream answered {}", status);
    st_->log->warn("mediator: LTFU operation {} for patient {} failed ({}); undoing it", op_.id,
                   op_.patient_id, op_.last_error);
    save("undoing", [self = shared_from_this(), status, body = std::move(body)]() mutable {
      self->undo(status, std::move(body));
    });
  }

  void undo(int status, Json body) {
    auto self = shared_from_this();
    fhir("FHIR delete Subscription", "DELETE", "/Subscription/" + op_.subscription_id, std::nullopt,
         [self, status, body = std::move(body)](int s, Json) mutable {
           if (s >= 300 && s != 404 && s != 410) return self->unsettled(status, std::move(body));
           self->op_.service_request["status"] = "revoked";
           self->fhir("FHIR revoke ServiceRequest", "PUT",
                      "/ServiceRequest/" + self->op_.service_request_id, self->op_.service_request,
                      [self, status, body = std::move(body)](int s2, Json) mutable {
                        if (s2 >= 300) return self->unsettled(status, std::move(body));
                        self->save("undone", [self, status, body = std::move(body)]() mutable {
                          self->finish_(status, std::move(body), true);
                        });
                      });
         });
  }

  // The undo itself failed (FHIR down): the recovery job tries again later.
  void unsettled(int status, Json body) { finish_(status, std::move(body), false); }

  void fhir(std::string name, std::string method, const std::string& path, std::optional<Json> body,
            std::function<void(int, Json)> next) {
    const auto& up = st_->upstreams;
    auto request = jsonRequest(std::move(method), up.fhir_url, path, up.fhir_auth, body);
    std::string what = "FHIR server at " + up.fhir_url;
    st_->caller.send(log_, std::move(name), std::move(request),
                     [what, next = std::move(next)](Result<net::ClientResponse> result) {
                       if (!result) {
                         auto [status, message] = transportFailure(result.error(), what);
                         return next(status, Json{{"message", message}});
                       }
                       next(result->status, upstreamBody(*result));
                     });
  }

  // Records the state reached, then continues. When the state cannot be recorded the run stops
  // and the recovery job takes over from the last recorded state.
  void save(std::string state, std::function<void()> next) {
    op_.state = std::move(state);
    auto self = shared_from_this();
    st_->db.post(
        Access::Write,
        [self](Transaction& tx) -> Status {
          CHTLINK_ASSIGN_OR_RETURN(
              auto n, tx.execute("UPDATE mediator_ltfu SET state = ?, record_id = ?,"
                                 " last_error = ?, service_request = ?, updated_at = ?"
                                 " WHERE id = ?",
                                 {self->op_.state, self->op_.record_id, self->op_.last_error,
                                  dumpJson(self->op_.service_request),
                                  toUnixMillis(self->st_->clock.now()), self->op_.id}));
          if (n != 1) return notFound("LTFU operation " + self->op_.id + " vanished");
          return ok();
        },
        [self, next = std::move(next)](Status s) {
          if (!s) {
            return self->finish_(503,
                                 Json{{"message",
                                       "cannot record the follow-up's progress ("
                                       "it will be finished or undone later): " +
                                           s.error().message}},
                                 false);
          }
          next();
        });
  }

  StatePtr st_;
  Operation op_;
  std::shared_ptr<CallLog> log_;
  Finish finish_;
  Json subscription_;
  int subscription_status_ = 201;
};

// Resolves the Organization's Endpoint address (steps 1-2 of the reference), then hands over.
struct Lookup : std::enable_shared_from_this<Lookup> {
  StatePtr st;
  std::shared_ptr<Exchange> ex;
  LtfuRequest request;
  std::string patient_fhir_id;
  std::string organization_fhir_id;

  void get(std::string name, const std::string& path, std::function<void(Json)> next) {
    const auto& up = st->upstreams;
    auto r = jsonRequest("GET", up.fhir_url, path, up.fhir_auth, std::nullopt);
    std::string what = "FHIR server at " + up.fhir_url;
    st->caller.send(ex->log(), std::move(name), std::move(r),
                    [self = shared_from_this(), what,
                     next = std::move(next)](Result<net::ClientResponse> result) {
                      if (!result) {
                        auto [status, message] = transportFailure(result.error(), what);
                        return self->ex->fail(status, message);
                      }
                      if (result->status >= 300)
                        return self->ex->answer(result->status, upstreamBody(*result));
                      next(upstreamBody(*result));
                    });
  }

  void start() {
    auto self = shared_from_this();
    get("FHIR find Patient", "/Patient/?identifier=" + request.patient_id, [self](Json bundle) {
      const Json* patient = firstEntry(bundle);
      if (patient == nullptr)
        return self->ex->fail(
            404, "Patient not found: no Patient has identifier " + self->request.patient_id);
      self->patient_fhir_id = patient->value("id", "");
      self->findOrganization();
    });
  }

  void findOrganization() {
    auto self = shared_from_this();
    get("FHIR find Organization", "/Organization/?identifier=" + request.organization_id,
        [self](Json bundle) {
          const Json* org = firstEntry(bundle);
          if (org == nullptr)
            return self->ex->fail(404, "Organization not found: no Organization has identifier " +
                                           self->request.organization_id);
          self->organization_fhir_id = org->value("id", "");
          auto endpoints = org->find("endpoint");
          if (endpoints == org->end() || !endpoints->is_array() || endpoints->empty() ||
              !(*endpoints)[0].is_object() || !(*endpoints)[0].contains("reference") ||
              !(*endpoints)[0]["reference"].is_string())
            return self->ex->fail(400, "Organization has no endpoint attached");
          std::string ref = (*endpoints)[0]["reference"];
          if (ref.rfind("Endpoint/", 0) == 0) ref = ref.substr(9);
          self->get("FHIR read Endpoint", "/Endpoint/" + ref, [self](Json endpoint) {
            auto address = endpoint.find("address");
            if (address == endpoint.end() || !address->is_string() || address->empty())
              return self->ex->fail(400, "the Organization's Endpoint has no address");
            self->accept(address->get<std::string>());
          });
        });
  }

  // Records the operation and its recovery job in one transaction, then runs it.
  void accept(std::string callback_url) {
    Operation op;
    op.id = newUuid(st->random);
    op.state = "accepted";
    op.patient_id = request.patient_id;
    op.callback_url = std::move(callback_url);
    op.subscription_id = newUuid(st->random);
    op.service_request_id = newUuid(st->random);
    op.service_request = std::move(request.resource);
    op.service_request["id"] = op.service_request_id;
    op.service_request["identifier"] =
        Json::array({Json{{"system", kOperationSystem}, {"value", op.id}}});
    op.service_request["subject"] = Json{{"reference", "Patient/" + patient_fhir_id}};
    op.service_request["requester"] = Json{{"reference", "Organization/" + organization_fhir_id}};
    ex->setProperty("operation", op.id);
    ex->setProperty("serviceRequest", "ServiceRequest/" + op.service_request_id);
    st->markInFlight(op.id);
    auto self = shared_from_this();
    auto shared_op = std::make_shared<Operation>(std::move(op));
    st->db.post(
        Access::Write,
        [self, shared_op](Transaction& tx) -> Status {
          TimePoint now = self->st->clock.now();
          CHTLINK_TRY(insertOperation(tx, *shared_op, now));
          queue::JobSpec job;
          job.kind = std::string(kLtfuJobKind);
          job.destination = "mediator.ltfu";
          job.payload = dumpJson(Json{{"operation", shared_op->id}});
          job.run_at = now + self->st->options.recovery_delay;
          CHTLINK_TRY(queue::enqueue(tx, job, self->st->queue_options, now));
          return ok();
        },
        [self, shared_op](Status s) {
          if (!s) {
            self->st->clearInFlight(shared_op->id);
            return self->ex->fail(503, "cannot record the follow-up request: " + s.error().message);
          }
          auto exchange = self->ex;
          auto state = self->st;
          std::string id = shared_op->id;
          auto run = std::make_shared<Run>(state, std::move(*shared_op), exchange->log(),
                                           [exchange, state, id](int status, Json body, bool) {
                                             state->clearInFlight(id);
                                             exchange->answer(status, body);
                                           });
          run->step();
        });
  }
};

Result<std::string> operationIdOf(const queue::Job& job) {
  auto payload = parseJson(job.payload);
  if (!payload || !payload->is_object() || !(*payload)["operation"].is_string())
    return invalidArgument("job payload has no operation id");
  return (*payload)["operation"].get<std::string>();
}

// Loads the job's operation on a database thread, then calls `next` (or ends the job).
void withOperation(const StatePtr& st, const queue::Job& job,
                   std::function<void(queue::Outcome)> done,
                   std::function<void(Operation, std::function<void(queue::Outcome)>)> next) {
  auto id = operationIdOf(job);
  if (!id) return done(queue::Outcome::fail(id.error().message));
  auto loaded = std::make_shared<std::optional<Operation>>();
  st->db.post(
      Access::Read,
      [loaded, id = *id](Transaction& tx) -> Status {
        CHTLINK_ASSIGN_OR_RETURN(*loaded, loadOperation(tx, id));
        return ok();
      },
      [loaded, id = *id, done = std::move(done), next = std::move(next)](Status s) {
        if (!s)
          return done(queue::Outcome::retry("cannot read LTFU operation: " + s.error().message));
        if (!*loaded) return done(queue::Outcome::fail("LTFU operation " + id + " does not exist"));
        next(std::move(**loaded), done);
      });
}

class LtfuJobHandler final : public queue::JobHandler {
 public:
  explicit LtfuJobHandler(StatePtr st) : st_(std::move(st)) {}
  void handle(const queue::Job& job, std::function<void(queue::Outcome)> done) override {
    StatePtr st = st_;
    withOperation(
        st, job, std::move(done), [st](Operation op, std::function<void(queue::Outcome)> finish) {
          if (!st->markInFlight(op.id))
            return finish(queue::Outcome::retry("the operation is still running"));
          if (op.state != "completed" && op.state != "undone" && op.state != "fulfilling" &&
              op.state != "fulfilled") {
            st->log->info("mediator: recovering LTFU operation {} from state {}", op.id, op.state);
          }
          std::string id = op.id;
          auto run = std::make_shared<Run>(
              st, std::move(op), nullptr, [st, id, finish](int status, Json body, bool settled) {
                st->clearInFlight(id);
                if (settled) return finish(queue::Outcome::delivered());
                finish(queue::Outcome::retry(fmt::format("{}: {}", status, dumpJson(body))));
              });
          run->step();
        });
  }

 private:
  StatePtr st_;
};

class LtfuCompleteJobHandler final : public queue::JobHandler {
 public:
  explicit LtfuCompleteJobHandler(StatePtr st) : st_(std::move(st)) {}
  void handle(const queue::Job& job, std::function<void(queue::Outcome)> done) override {
    StatePtr st = st_;
    withOperation(
        st, job, std::move(done), [st](Operation op, std::function<void(queue::Outcome)> finish) {
          if (op.state != "fulfilling") return finish(queue::Outcome::delivered());
          op.service_request["status"] = "completed";
          const auto& up = st->upstreams;
          auto request = jsonRequest("PUT", up.fhir_url, "/ServiceRequest/" + op.service_request_id,
                                     up.fhir_auth, op.service_request);
          auto shared_op = std::make_shared<Operation>(std::move(op));
          st->caller.send(
              nullptr, "FHIR complete ServiceRequest", std::move(request),
              [st, shared_op, finish](Result<net::ClientResponse> result) {
                if (!result) return finish(queue::Outcome::retry(result.error().message));
                if (result->status >= 300)
                  return finish(queue::Outcome::retry(fmt::format(
                      "FHIR answered {}: {}", result->status, result->body.substr(0, 500))));
                st->db.post(
                    Access::Write,
                    [st, shared_op](Transaction& tx) -> Status {
                      return tx.execute(
                                   "UPDATE mediator_ltfu SET state = 'fulfilled',"
                                   " service_request = ?, updated_at = ?"
                                   " WHERE id = ?",
                                   {dumpJson(shared_op->service_request),
                                    toUnixMillis(st->clock.now()), shared_op->id})
                                     .has_value()
                                 ? ok()
                                 : Status(internalError("cannot record fulfilment"));
                    },
                    [finish](Status s) {
                      finish(s ? queue::Outcome::delivered()
                               : queue::Outcome::retry(s.error().message));
                    });
              });
        });
  }

 private:
  StatePtr st_;
};

}  // namespace

void handleServiceRequest(const StatePtr& st, net::Request request, net::Reply reply) {
  auto ex = std::make_shared<Exchange>(std::move(reply), request, st->clock);
  auto body = parseBody(request.headers.get("Content-Type"), request.body);
  if (!body.ok) return ex->invalid(body.invalid.message);
  auto checked = checkServiceRequest(std::move(body.value));
  if (!checked.ok) return ex->invalid(checked.invalid.message);
  auto lookup = std::make_shared<Lookup>();
  lookup->st = st;
  lookup->ex = ex;
  lookup->request = std::move(checked.value);
  ex->setProperty("patient", lookup->request.patient_id);
  lookup->start();
}

void queueFollowUpCompletions(const StatePtr& st, const std::string& patient_id,
                              std::function<void(Status)> done) {
  st->db.post(
      Access::Write,
      [st, patient_id](Transaction& tx) -> Status {
        CHTLINK_ASSIGN_OR_RETURN(
            auto rows, tx.query("SELECT id FROM mediator_ltfu WHERE patient_id = ? AND state = "
                                "'completed'",
                                {patient_id}));
        TimePoint now = st->clock.now();
        for (size_t i = 0; i < rows.size(); ++i) {
          std::string id = rows.text(i, 0);
          CHTLINK_TRY(tx.execute(
              "UPDATE mediator_ltfu SET state = 'fulfilling', updated_at = ? WHERE id = ?",
              {toUnixMillis(now), id}));
          queue::JobSpec job;
          job.kind = std::string(kLtfuCompleteJobKind);
          job.destination = "mediator.fhir";
          job.payload = dumpJson(Json{{"operation", id}});
          CHTLINK_TRY(queue::enqueue(tx, job, st->queue_options, now));
        }
        return ok();
      },
      std::move(done));
}

std::shared_ptr<queue::JobHandler> makeLtfuJobHandler(const StatePtr& st) {
  return std::make_shared<LtfuJobHandler>(st);
}

std::shared_ptr<queue::JobHandler> makeLtfuCompleteJobHandler(const StatePtr& st) {
  return std::make_shared<LtfuCompleteJobHandler>(st);
}

}  // namespace chtlink::mediator
