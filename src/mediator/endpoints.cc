// POST /patient, /encounter, /organization, /endpoint: validate, normalise, write to FHIR
// idempotently (conditional update or conditional create keyed on an identifier).
#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include "mediator/mediator_internal.h"
#include "mediator/observations.h"

namespace chtlink::mediator {
namespace {

// Identifies one push's content, so a repeated push (CHT retries) finds what the first made.
constexpr std::string_view kPushSystem = "urn:chtlink:mediator:push";

std::string queryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// "system|value" (or "value" without a system) of a resource's first identifier.
std::string identifierToken(const Json& resource) {
  const Json& id = resource["identifier"][0];
  std::string value = id.value("value", "");
  if (id.contains("system") && id["system"].is_string())
    return id["system"].get<std::string>() + "|" + value;
  return value;
}

using Answer = std::function<void(int status, Json body)>;

// Sends one FHIR call and hands its status and JSON body to `next`; a transport failure is
// answered on `ex` directly.
void fhirCall(const StatePtr& st, const std::shared_ptr<Exchange>& ex, std::string name,
              std::string method, const std::string& path, std::optional<Json> body,
              std::vector<std::pair<std::string, std::string>> headers, Answer next) {
  auto request =
      jsonRequest(std::move(method), st->upstreams.fhir_url, path, st->upstreams.fhir_auth, body);
  for (const auto& [k, v] : headers) request.headers.set(k, v);
  std::string what = "FHIR server at " + st->upstreams.fhir_url;
  st->caller.send(ex->log(), std::move(name), std::move(request),
                  [ex, what, next = std::move(next)](Result<net::ClientResponse> result) {
                    if (!result) {
                      auto [status, message] = transportFailure(result.error(), what);
                      ex->fail(status, message);
                      return;
                    }
                    next(result->status, upstreamBody(*result));
                  });
}

// PUT [base]/T?identifier=<token>: creates (201) or updates (200) the one resource with that
// identifier. The FHIR server's status and body go back to the caller.
void upsertByIdentifier(const StatePtr& st, net::Request request, net::Reply reply,
                        std::string_view type, Checked<Json> (*check)(Json)) {
  auto ex = std::make_shared<Exchange>(std::move(reply), request, st->clock);
  auto body = parseBody(request.headers.get("Content-Type"), request.body);
  if (!body.ok) return ex->invalid(body.invalid.message);
  auto resource = check(std::move(body.value));
  if (!resource.ok) return ex->invalid(resource.invalid.message);
  std::string token = identifierToken(resource.value);
  ex->setProperty("identifier", token);
  fhirCall(st, ex, fmt::format("FHIR upsert {}", type), "PUT",
           fmt::format("/{}?identifier={}", type, queryEscape(token)), std::move(resource.value),
           {}, [ex](int status, Json answer) { ex->answer(status, answer); });
}

}  // namespace

const Json* firstEntry(const Json& bundle) {
  auto entries = bundle.find("entry");
  if (entries == bundle.end() || !entries->is_array() || entries->empty()) return nullptr;
  auto resource = (*entries)[0].find("resource");
  if (resource == (*entries)[0].end() || !resource->is_object()) return nullptr;
  return &*resource;
}

Json upstreamBody(const net::ClientResponse& response) {
  if (response.body.empty()) return Json::object();
  auto parsed = parseJson(response.body);
  if (parsed) return std::move(*parsed);
  return Json{{"message", response.body.substr(0, 2000)}};
}

void handlePatient(const StatePtr& st, net::Request request, net::Reply reply) {
  upsertByIdentifier(st, std::move(request), std::move(reply), "Patient", &checkPatient);
}

void handleOrganization(const StatePtr& st, net::Request request, net::Reply reply) {
  upsertByIdentifier(st, std::move(request), std::move(reply), "Organization", &checkOrganization);
}

void handleEndpoint(const StatePtr& st, net::Request request, net::Reply reply) {
  upsertByIdentifier(st, std::move(request), std::move(reply), "Endpoint", &checkEndpoint);
}

void handlePractitioner(const StatePtr& st, net::Request request, net::Reply reply) {
  upsertByIdentifier(st, std::move(request), std::move(reply), "Practitioner", &checkPractitioner);
}

// A CHT place -> a Location and an Organization (both keyed on the CHT id), each `partOf` the
// parent place's. The parent must be in FHIR already: CHT pushes places top-down and retries a
// refused push, so a child that arrives first is stored on a later retry.
void handlePlace(const StatePtr& st, net::Request request, net::Reply reply) {
  auto ex = std::make_shared<Exchange>(std::move(reply), request, st->clock);
  auto body = parseBody(request.headers.get("Content-Type"), request.body);
  if (!body.ok) return ex->invalid(body.invalid.message);
  auto checked = checkPlace(std::move(body.value));
  if (!checked.ok) return ex->invalid(checked.invalid.message);
  auto place = std::make_shared<PlaceInput>(std::move(checked.value));
  ex->setProperty("place", place->id);
  auto make = [place](const char* type, const std::string& parent_id) {
    Json r{{"resourceType", type},
           {"identifier", Json::array({Json{{"system", "cht"}, {"value", place->id}}})},
           {"name", place->name},
           {"type", Json::array({Json{{"text", place->type}}})}};
    if (std::string_view(type) == "Location") {
      r["status"] = "active";
    } else {
      r["active"] = true;
    }
    if (!parent_id.empty()) r["partOf"] = Json{{"reference", std::string(type) + "/" + parent_id}};
    return r;
  };
  auto write = [st, ex, place, make](std::string parent_location, std::string parent_org) {
    std::string token = queryEscape("cht|" + place->id);
    fhirCall(st, ex, "FHIR upsert Location", "PUT", "/Location?identifier=" + token,
             make("Location", parent_location), {},
             [st, ex, token, make, parent_org](int status, Json location) {
               if (status >= 300) return ex->answer(status, location);
               fhirCall(st, ex, "FHIR upsert Organization", "PUT",
                        "/Organization?identifier=" + token, make("Organization", parent_org), {},
                        [ex, status, location](int org_status, Json org) {
                          if (org_status >= 300) return ex->answer(org_status, org);
                          ex->answer(status,
                                     Json{{"resourceType", "Bundle"},
                                          {"type", "collection"},
                                          {"entry", Json::array({Json{{"resource", location}},
                                                                 Json{{"resource", org}}})}});
                        });
             });
  };
  if (place->parent_id.empty()) return write("", "");
  std::string parent = queryEscape("cht|" + place->parent_id);
  auto missing = [ex, place] {
    ex->fail(404, fmt::format("parent place {} of {} is not in FHIR yet; push the parent first",
                              place->parent_id, place->id));
  };
  fhirCall(st, ex, "FHIR find parent Location", "GET", "/Location?identifier=" + parent,
           std::nullopt, {}, [st, ex, parent, write, missing](int status, Json bundle) {
             if (status >= 300) return ex->answer(status, bundle);
             const Json* location = firstEntry(bundle);
             if (location == nullptr) return missing();
             std::string location_id = location->value("id", "");
             fhirCall(st, ex, "FHIR find parent Organization", "GET",
                      "/Organization?identifier=" + parent, std::nullopt, {},
                      [ex, write, missing, location_id](int s2, Json orgs) {
                        if (s2 >= 300) return ex->answer(s2, orgs);
                        const Json* org = firstEntry(orgs);
                        if (org == nullptr) return missing();
                        write(location_id, org->value("id", ""));
                      });
           });
}

namespace {

// Stores the Observations one after the other (each a conditional create keyed on the push),
// then queues the completion of the patient's follow-ups and answers with the Encounter.
struct EncounterWrite : std::enable_shared_from_this<EncounterWrite> {
  StatePtr st;
  std::shared_ptr<Exchange> ex;
  std::string patient_cht_id;
  std::string push_key;
  int encounter_status = 201;
  Json encounter;
  std::vector<Json> observations;
  size_t next = 0;

  void storeObservations() {
    if (next == observations.size()) return finish();
    Json obs = std::move(observations[next]);
    std::string key = fmt::format("{}:{}", push_key, next);
    ++next;
    obs["identifier"] = Json::array({Json{{"system", kPushSystem}, {"value", key}}});
    obs["subject"] = encounter["subject"];
    obs["encounter"] = Json{{"reference", "Encounter/" + encounter.value("id", "")}};
    if (encounter.contains("period") && encounter["period"].contains("start"))
      obs["effectiveDateTime"] = encounter["period"]["start"];
    obs["issued"] = isoTime(st->clock.now());
    auto self = shared_from_this();
    fhirCall(st, ex, "FHIR create Observation", "POST", "/Observation", std::move(obs),
             {{"If-None-Exist",
               fmt::format("identifier={}", queryEscape(std::string(kPushSystem) + "|" + key))}},
             [self](int status, Json answer) {
               if (status >= 300) return self->ex->answer(status, answer);
               self->storeObservations();
             });
  }

  void finish() {
    auto self = shared_from_this();
    queueFollowUpCompletions(st, patient_cht_id, [self](Status s) {
      if (!s) {
        // The Encounter is stored; CHT retries the push, which finds it and queues again.
        self->ex->fail(503,
                       "the Encounter is stored but completing the patient's follow-up "
                       "could not be recorded: " +
                           s.error().message);
        return;
      }
      self->st->wakeWorkers();
      self->ex->answer(self->encounter_status, self->encounter);
    });
  }
};

}  // namespace

void handleEncounter(const StatePtr& st, net::Request request, net::Reply reply) {
  auto ex = std::make_shared<Exchange>(std::move(reply), request, st->clock);
  auto body = parseBody(request.headers.get("Content-Type"), request.body);
  if (!body.ok) return ex->invalid(body.invalid.message);
  auto checked = checkEncounter(std::move(body.value));
  if (!checked.ok) return ex->invalid(checked.invalid.message);
  auto write = std::make_shared<EncounterWrite>();
  write->st = st;
  write->ex = ex;
  write->patient_cht_id = encounterPatientId(checked.value.resource);
  write->push_key =
      sha256Hex(dumpJson(checked.value.resource) + "\n" + dumpJson(checked.value.fields));
  ex->setProperty("patient", write->patient_cht_id);
  auto mapped = mapObservations(st->options.observations, checked.value.fields);
  for (const auto& skipped : mapped.skipped)
    st->log->warn("mediator: encounter for patient {}: form field skipped: {}",
                  write->patient_cht_id, skipped);
  write->observations = std::move(mapped.observations);
  Json encounter = std::move(checked.value.resource);
  encounter["identifier"].push_back(Json{{"system", kPushSystem}, {"value", write->push_key}});

  // subject "Patient/?identifier=<id>" (the reference outbound config) is resolved here, so
  // any FHIR server works; an unknown patient is refused and CHT retries later.
  std::string subject = encounter["subject"]["reference"];
  std::string query;
  if (auto q = subject.find('?'); q != std::string::npos && subject.rfind("Patient", 0) == 0)
    query = subject.substr(q + 1);
  auto store = [write](Json enc) {
    auto key = write->push_key;
    fhirCall(write->st, write->ex, "FHIR create Encounter", "POST", "/Encounter", std::move(enc),
             {{"If-None-Exist",
               fmt::format("identifier={}", queryEscape(std::string(kPushSystem) + "|" + key))}},
             [write](int status, Json answer) {
               if (status >= 300) return write->ex->answer(status, answer);
               write->encounter_status = status;
               write->encounter = std::move(answer);
               write->storeObservations();
             });
  };
  if (query.empty()) return store(std::move(encounter));
  fhirCall(st, ex, "FHIR find Patient", "GET", "/Patient?" + query, std::nullopt, {},
           [ex, encounter = std::move(encounter), query, store](int status, Json answer) mutable {
             if (status >= 300) return ex->answer(status, answer);
             const Json* patient = firstEntry(answer);
             if (patient == nullptr) {
               return ex->fail(404, fmt::format("Patient not found: no Patient matches {}; push "
                                                "the patient before its encounters",
                                                query));
             }
             encounter["subject"]["reference"] = "Patient/" + patient->value("id", "");
             store(std::move(encounter));
           });
}

}  // namespace chtlink::mediator
