// Shared state of the mediator's handlers, jobs and registration. Private to src/mediator.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "mediator/exchange.h"
#include "mediator/mediator.h"
#include "mediator/validation.h"

namespace chtlink::mediator {

struct Mediator::State {
  State(store::Database& d, net::HttpClient& h, const Clock& c, Random& r, MediatorOptions o,
        queue::QueueOptions q, std::shared_ptr<spdlog::logger> l);

  store::Database& db;
  net::HttpClient& http;
  const Clock& clock;
  Random& random;
  // Mutable only before serving (the setters of Mediator for late-bound addresses).
  MediatorOptions options;
  const queue::QueueOptions queue_options;
  std::shared_ptr<spdlog::logger> log;
  Caller caller;
  const std::chrono::steady_clock::time_point started;
  Upstreams upstreams;  // fixed before serving (setFhirUrl)

  std::mutex mu;
  queue::WorkerPool* workers = nullptr;     // guarded by mu
  std::set<std::string> in_flight;          // LTFU operations running here; guarded by mu
  Json openhim = Json{{"enabled", false}};  // registration state; guarded by mu

  // Registration thread.
  std::thread registration;
  std::condition_variable stop_cv;
  bool stopping = false;  // guarded by mu

  double uptimeSeconds() const;
  void wakeWorkers();
  bool markInFlight(const std::string& id);  // false when already running here
  void clearInFlight(const std::string& id);
};

using StatePtr = std::shared_ptr<Mediator::State>;

// Endpoint handlers (endpoints.cc).
void handlePatient(const StatePtr& st, net::Request request, net::Reply reply);
void handleEncounter(const StatePtr& st, net::Request request, net::Reply reply);
void handleOrganization(const StatePtr& st, net::Request request, net::Reply reply);
void handleEndpoint(const StatePtr& st, net::Request request, net::Reply reply);
void handlePractitioner(const StatePtr& st, net::Request request, net::Reply reply);
void handlePlace(const StatePtr& st, net::Request request, net::Reply reply);
// LTFU (ltfu.cc).
void handleServiceRequest(const StatePtr& st, net::Request request, net::Reply reply);
// Marks the patient's completed LTFU operations for ServiceRequest completion and enqueues the
// jobs that do it, in one transaction. `done` runs on a database thread.
void queueFollowUpCompletions(const StatePtr& st, const std::string& patient_id,
                              std::function<void(Status)> done);
std::shared_ptr<queue::JobHandler> makeLtfuJobHandler(const StatePtr& st);
std::shared_ptr<queue::JobHandler> makeLtfuCompleteJobHandler(const StatePtr& st);
// OpenHIM registration (registration.cc).
void runRegistration(const StatePtr& st, uint16_t port, net::HttpClient& http);

// A FHIR searchset's first resource, or null.
const Json* firstEntry(const Json& bundle);
// The FHIR answer body parsed, or an object with the raw text as message.
Json upstreamBody(const net::ClientResponse& response);

}  // namespace chtlink::mediator
