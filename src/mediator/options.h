// Mediator options: the [mediator] section of the configuration.
//
// The reference Node.js mediator reads PORT, FHIR_URL, FHIR_USERNAME, FHIR_PASSWORD, CHT_URL,
// CHT_USERNAME, CHT_PASSWORD, OPENHIM_API_URL, OPENHIM_USERNAME and OPENHIM_PASSWORD; config
// maps those onto these fields (below CHTLINK_MEDIATOR_* and --set), so the same .env works.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace chtlink::mediator {

// How one form field of a CHT report becomes an Observation (one row of the mapping table).
enum class ObservationValueType { String, Integer, Decimal, Boolean, Code, Quantity, DateTime };

struct ObservationMapping {
  std::string field;    // dotted path inside the report's `fields` ("vitals.weight")
  std::string system;   // code system of Observation.code
  std::string code;     // code of Observation.code
  std::string display;  // optional display of Observation.code
  ObservationValueType type = ObservationValueType::String;
  std::string unit;  // Quantity only (UCUM code, e.g. "kg")
};

struct MediatorOptions {
  bool enabled = true;
  std::string host = "127.0.0.1";
  uint16_t port = 6000;
  // FHIR base URL ("http://hapi-fhir:8080/fhir"). Empty: chtlink's own FHIR listener.
  std::string fhir_url;
  std::string fhir_username;
  std::string fhir_password;
  // CHT API base URL ("https://cht.example.org"). Empty: the LTFU workflow answers 503.
  std::string cht_url;
  std::string cht_username;
  std::string cht_password;
  // OpenHIM management API ("https://openhim-core:8080"). Empty: no registration.
  std::string openhim_api_url;
  std::string openhim_username;
  std::string openhim_password;
  bool openhim_trust_self_signed = true;  // as the reference mediator (trustSelfSigned)
  std::chrono::milliseconds heartbeat_interval{10'000};
  // Host and port OpenHIM should route the mediator channel to (the endpoint registered).
  std::string advertised_host = "127.0.0.1";
  // Each FHIR, CHT or OpenHIM call; a slower answer is an error (504 to the caller).
  std::chrono::milliseconds upstream_timeout{30'000};
  // An LTFU operation that has not finished this long after it started (the process died
  // between two steps) is finished or undone by its recovery job.
  std::chrono::milliseconds recovery_delay{60'000};
  // The form-field -> Observation table (setting mediator.observations, a JSON array).
  std::vector<ObservationMapping> observations = defaultObservations();

  static std::vector<ObservationMapping> defaultObservations() {
    return {{"vaccination_details.interop_follow_up",
             "https://communityhealthtoolkit.org/fhir/form-field", "interop_follow_up",
             "Follow-up visit done", ObservationValueType::Code, ""}};
  }
};

}  // namespace chtlink::mediator
