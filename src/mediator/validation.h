// Acceptance rules of the mediator endpoints (cht.md 4.5, fhir.md 1), as pure functions.
//
// Each check returns the normalised resource ready for the FHIR server, or a message naming
// the field to fix, in the style of the reference mediator's joi messages
// ("\"identifier[0].value\" must be a valid GUID"). Normalisation is where fhir.md rule 7 is
// handled: the invalid shapes the reference CHT outbound config sends (Encounter `class` as a
// string, Organization `name` as an array, ...) are turned into valid R4 instead of being
// refused, because CHT would retry a refused push forever.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace chtlink::mediator {

// A refused body: the message answered as {"valid": false, "message": ...}.
struct Invalid {
  std::string message;
};

template <typename T>
struct Checked {
  bool ok = false;
  T value{};
  Invalid invalid;
};

// A JSON body, after the content-type check and the strict parse.
Checked<Json> parseBody(std::string_view content_type, std::string_view body);

// Dashed (8-4-4-4-12) or 32 hex digits, as joi's guid().
bool isGuid(std::string_view s);

Checked<Json> checkPatient(Json body);
// An Encounter push. `fields` (optional, not FHIR) carries the CHT report's `fields` object
// for the Observation mapping table; it is removed from the resource.
struct EncounterInput {
  Json resource;
  Json fields;  // null when absent
};
Checked<EncounterInput> checkEncounter(Json body);
Checked<Json> checkOrganization(Json body);
Checked<Json> checkEndpoint(Json body);

// A CHW or nurse (the reference FHIR_practitioner payload, rule 7: `identifier` as one object,
// `name[].system`) as a valid R4 Practitioner.
Checked<Json> checkPractitioner(Json body);

// A CHT place document (or {"doc": <place>} as an outbound mapping nests it): its id, name,
// type and the id of its parent place (empty at the top of the hierarchy).
struct PlaceInput {
  std::string id;
  std::string name;
  std::string type;
  std::string parent_id;
};
Checked<PlaceInput> checkPlace(Json body);

// The parts of a ServiceRequest the LTFU workflow uses.
struct LtfuRequest {
  std::string patient_id;       // the CHT _id from subject.reference "Patient/<id>"
  std::string organization_id;  // the identifier from requester.reference "Organization/<id>"
  Json resource;                // the ServiceRequest as it will be stored (status active)
};
Checked<LtfuRequest> checkServiceRequest(Json body);

// The patient's CHT id of an Encounter accepted by checkEncounter (its identifier value).
std::string encounterPatientId(const Json& encounter);

}  // namespace chtlink::mediator
