#include "mediator/mediator.h"

#include <spdlog/spdlog.h>

#include "mediator/mediator_internal.h"

namespace chtlink::mediator {
namespace {

std::string trimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::optional<net::BasicAuth> authOf(const std::string& user, const std::string& password) {
  if (user.empty() && password.empty()) return std::nullopt;
  return net::BasicAuth{user, password};
}

}  // namespace

Mediator::State::State(store::Database& d, net::HttpClient& h, const Clock& c, Random& r,
                       MediatorOptions o, queue::QueueOptions q, std::shared_ptr<spdlog::logger> l)
    : db(d),
      http(h),
      clock(c),
      random(r),
      options(std::move(o)),
      queue_options(q),
      log(std::move(l)),
      caller(h, c, options.upstream_timeout),
      started(c.steadyNow()) {
  upstreams.fhir_url = trimSlash(options.fhir_url);
  upstreams.fhir_auth = authOf(options.fhir_username, options.fhir_password);
  upstreams.cht_url = trimSlash(options.cht_url);
  upstreams.cht_auth = authOf(options.cht_username, options.cht_password);
}

double Mediator::State::uptimeSeconds() const {
  return std::chrono::duration<double>(clock.steadyNow() - started).count();
}

void Mediator::State::wakeWorkers() {
  std::lock_guard lock(mu);
  if (workers != nullptr) workers->notify();
}

bool Mediator::State::markInFlight(const std::string& id) {
  std::lock_guard lock(mu);
  return in_flight.insert(id).second;
}

void Mediator::State::clearInFlight(const std::string& id) {
  std::lock_guard lock(mu);
  in_flight.erase(id);
}

Mediator::Mediator(store::Database& db, net::HttpClient& http, const Clock& clock, Random& random,
                   MediatorOptions options, queue::QueueOptions queue_options,
                   std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<State>(db, http, clock, random, std::move(options), queue_options,
                                     std::move(log))) {}

Mediator::~Mediator() { stop(); }

std::vector<store::Migration> Mediator::migrations() {
  return {
      {"mediator", 1, "LTFU operations",
       // One row per accepted ServiceRequest; times are Unix milliseconds.
       "CREATE TABLE mediator_ltfu ("
       " id TEXT PRIMARY KEY,"
       " state TEXT NOT NULL,"
       " patient_id TEXT NOT NULL,"
       " callback_url TEXT NOT NULL,"
       " subscription_id TEXT NOT NULL,"
       " service_request_id TEXT NOT NULL,"
       " service_request TEXT NOT NULL,"
       " record_id TEXT NOT NULL,"
       " last_error TEXT NOT NULL,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL"
       ");"
       "CREATE INDEX mediator_ltfu_patient ON mediator_ltfu (patient_id, state)"},
  };
}

void Mediator::setFhirUrl(std::string url) {
  state_->upstreams.fhir_url = trimSlash(std::move(url));
}

const std::string& Mediator::fhirUrl() const { return state_->upstreams.fhir_url; }

void Mediator::setChtUrl(std::string url, std::string username, std::string password) {
  state_->options.cht_url = url;
  state_->upstreams.cht_url = trimSlash(std::move(url));
  state_->upstreams.cht_auth = authOf(username, password);
}

void Mediator::setOpenhimApi(std::string url, std::string username, std::string password) {
  state_->options.openhim_api_url = std::move(url);
  state_->options.openhim_username = std::move(username);
  state_->options.openhim_password = std::move(password);
}

net::Router Mediator::router() {
  net::Router router;
  StatePtr st = state_;
  auto status = [st](net::Request, net::Reply reply) {
    Json openhim;
    {
      std::lock_guard lock(st->mu);
      openhim = st->openhim;
    }
    reply(net::Response::json(200, Json{{"status", "success"},
                                        {"urn", std::string(kMediatorUrn)},
                                        {"uptime", Json{{"mediator_seconds", st->uptimeSeconds()}}},
                                        {"fhir_url", st->upstreams.fhir_url},
                                        {"cht_url", st->upstreams.cht_url},
                                        {"openhim", std::move(openhim)}}));
  };
  using Fn = void (*)(const StatePtr&, net::Request, net::Reply);
  const std::pair<const char*, Fn> endpoints[] = {
      {"patient", &handlePatient},
      {"encounter", &handleEncounter},
      {"organization", &handleOrganization},
      {"endpoint", &handleEndpoint},
      {"service-request", &handleServiceRequest},
      {"practitioner", &handlePractitioner},
      {"place", &handlePlace},
  };
  // The reference channel strips /mediator (pathTransform "s/\/mediator/"); a channel without
  // the transform forwards it, so both forms are served.
  for (const char* prefix : {"", "/mediator"}) {
    router.add("GET", std::string(prefix) + "/", status);
    for (const auto& [name, fn] : endpoints) {
      Fn handler = fn;
      std::string path = std::string(prefix) + "/" + name;
      router.add("POST", path, [st, handler](net::Request request, net::Reply reply) {
        handler(st, std::move(request), std::move(reply));
      });
      router.add("POST", path + "/", [st, handler](net::Request request, net::Reply reply) {
        handler(st, std::move(request), std::move(reply));
      });
    }
  }
  return router;
}

void Mediator::addJobHandlers(queue::WorkerPool& workers) {
  workers.addHandler(std::string(kLtfuJobKind), makeLtfuJobHandler(state_));
  workers.addHandler(std::string(kLtfuCompleteJobKind), makeLtfuCompleteJobHandler(state_));
  std::lock_guard lock(state_->mu);
  state_->workers = &workers;
}

void Mediator::startRegistration(uint16_t port, net::HttpClient& openhim_http) {
  if (state_->options.openhim_api_url.empty() || state_->registration.joinable()) return;
  StatePtr st = state_;
  st->registration =
      std::thread([st, port, &openhim_http] { runRegistration(st, port, openhim_http); });
}

void Mediator::stop() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    state_->workers = nullptr;
  }
  state_->stop_cv.notify_all();
  if (state_->registration.joinable()) state_->registration.join();
}

}  // namespace chtlink::mediator
