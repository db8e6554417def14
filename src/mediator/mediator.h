// Mediator: the CHT <-> FHIR mediator, a drop-in replacement for the reference Node.js
// mediator of medic/cht-interoperability (cht.md 4, fhir.md 1, openhim.md 6).
//
// Endpoints (on its own listener, and behind the router channel ^/mediator/.*$, with or
// without the reference route's pathTransform "s/\/mediator/"):
//   GET  /                  status with uptimes and the OpenHIM registration state
//   POST /patient           CHT person -> FHIR Patient, idempotent by the CHT identifier
//   POST /encounter         CHT report -> Encounter + one Observation per mapped form field;
//                           completes the patient's open LTFU ServiceRequests
//   POST /organization      Organization, idempotent by identifier
//   POST /endpoint          Endpoint (the requesting system's callback), idempotent by identifier
//   POST /practitioner      CHW/nurse -> Practitioner (reference FHIR_practitioner shape)
//   POST /place             CHT place -> Location + Organization, partOf the parent place's
//   POST /service-request   the LTFU workflow: Subscription + CHT interop_follow_up record,
//                           durable (a crash between steps leaves a job that finishes or undoes)
// Invalid input gets 400 {"valid": false, "message": "<field> ..."}; other failures
// {"message": ...} with the reference's status. A request that came through OpenHIM
// (X-OpenHIM-TransactionID) is answered in application/json+openhim with orchestrations.
//
// FHIR and CHT are reached over HTTP only (FHIR may be chtlink's own listener or any R4
// server such as HAPI), through the injected async HttpClient: no handler blocks an I/O thread.
//
// Thread-safety: construct, setFhirUrl(), router(), addJobHandlers() on one thread before
// serving; handlers then run on any thread. stop() before destroying the worker pool's
// database and the event loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/result.h"
#include "mediator/options.h"
#include "net/client.h"
#include "net/router.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

namespace spdlog {
class logger;
}

namespace chtlink::mediator {

// Job kinds of the mediator's durable work.
inline constexpr std::string_view kLtfuJobKind = "mediator.ltfu";
inline constexpr std::string_view kLtfuCompleteJobKind = "mediator.ltfu-complete";

class Mediator {
 public:
  // Every reference must outlive the mediator. `queue_options` is used to enqueue jobs.
  Mediator(store::Database& db, net::HttpClient& http, const Clock& clock, Random& random,
           MediatorOptions options, queue::QueueOptions queue_options,
           std::shared_ptr<spdlog::logger> log);
  ~Mediator();
  Mediator(const Mediator&) = delete;
  Mediator& operator=(const Mediator&) = delete;

  // Tables of the mediator (migrations module "mediator").
  static std::vector<store::Migration> migrations();

  // The FHIR base URL when options.fhir_url is empty (chtlink's own FHIR listener, known once
  // it is bound). Call before serving.
  void setFhirUrl(std::string url);
  const std::string& fhirUrl() const;
  // CHT and OpenHIM addresses known only once listeners are bound (the sandbox's own cht-sim
  // and admin API). Call before serving and before startRegistration().
  void setChtUrl(std::string url, std::string username, std::string password);
  void setOpenhimApi(std::string url, std::string username, std::string password);

  // The routes, for the mediator's own listener.
  net::Router router();
  // Registers the LTFU job handlers on `workers` (before workers.start()); the mediator wakes
  // `workers` after each enqueue.
  void addJobHandlers(queue::WorkerPool& workers);

  // Registers with OpenHIM (options.openhim_api_url), fetches the mediator config and starts
  // the heartbeat, on a thread of its own. `port` is the mediator listener's bound port (put
  // into the registered endpoint and default channel). `openhim_http` may differ from the
  // FHIR/CHT client (OpenHIM's API is often self-signed). Does nothing when no URL is set.
  void startRegistration(uint16_t port, net::HttpClient& openhim_http);
  // Stops the heartbeat thread. Idempotent.
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::mediator
