// Exchange: one request to the mediator, the upstream calls it makes (FHIR, CHT) and its
// answer. Private to src/mediator.
//
// Calls go through the async HttpClient (nothing blocks an I/O thread). When the request came
// through an OpenHIM(-compatible) router (it carries X-OpenHIM-TransactionID), every call is
// recorded as an orchestration and the answer is OpenHIM's mediator response
// (application/json+openhim, openhim.md 6.4); otherwise the answer is the plain JSON the
// reference mediator sends.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "net/client.h"
#include "net/http.h"

namespace chtlink::mediator {

inline constexpr std::string_view kMediatorUrn = "urn:mediator:ltfu-mediator";

// "2024-05-01T10:11:12.345Z"
std::string isoTime(TimePoint t);

// Where upstream calls go: base URLs and credentials, fixed once serving starts (the FHIR
// base may be filled in after chtlink's own FHIR listener is bound).
struct Upstreams {
  std::string fhir_url;  // no trailing slash
  std::optional<net::BasicAuth> fhir_auth;
  std::string cht_url;  // no trailing slash
  std::optional<net::BasicAuth> cht_auth;
};

// Records calls as orchestrations. Thread-safe.
class CallLog {
 public:
  void add(Json orchestration);
  Json entries() const;

 private:
  mutable std::mutex mu_;
  std::vector<Json> entries_;
};

// Sends one upstream call and, when `log` is set, records it.
class Caller {
 public:
  Caller(net::HttpClient& http, const Clock& clock, std::chrono::milliseconds timeout)
      : http_(http), clock_(clock), timeout_(timeout) {}
  using Done = std::function<void(Result<net::ClientResponse>)>;
  void send(const std::shared_ptr<CallLog>& log, std::string name, net::ClientRequest request,
            Done done);

 private:
  net::HttpClient& http_;
  const Clock& clock_;
  std::chrono::milliseconds timeout_;
};

// A request to `base` + `path` with a JSON body (or none).
net::ClientRequest jsonRequest(std::string method, const std::string& base, std::string_view path,
                               const std::optional<net::BasicAuth>& auth,
                               const std::optional<Json>& body);

// The answer of one mediator request.
class Exchange {
 public:
  Exchange(net::Reply reply, const net::Request& request, const Clock& clock);
  // Null when the request did not come through OpenHIM (nothing is recorded then).
  const std::shared_ptr<CallLog>& log() const { return log_; }
  void setProperty(const std::string& key, const std::string& value);
  // Answers `status` with `body` (JSON), in the format the caller expects.
  void answer(int status, const Json& body);
  // {"valid": false, "message": ...} with 400.
  void invalid(const std::string& message);
  // {"message": ...} with `status`.
  void fail(int status, const std::string& message);

 private:
  net::Reply reply_;
  const Clock& clock_;
  std::shared_ptr<CallLog> log_;
  std::mutex mu_;
  Json properties_ = Json::object();
};

// The status and message for an upstream call that failed before any HTTP answer.
// `what` names the upstream ("FHIR server at http://...").
std::pair<int, std::string> transportFailure(const Error& error, const std::string& what);

}  // namespace chtlink::mediator
