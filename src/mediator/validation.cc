#include "mediator/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace chtlink::mediator {
namespace {

template <typename T>
Checked<T> refuse(std::string message) {
  Checked<T> c;
  c.invalid.message = std::move(message);
  return c;
}

template <typename T>
Checked<T> accept(T value) {
  Checked<T> c;
  c.ok = true;
  c.value = std::move(value);
  return c;
}

std::string fieldName(std::string_view path) { return fmt::format("\"{}\"", path); }
std::string required(std::string_view path) { return fieldName(path) + " is required"; }

// One problem, or none. The first problem found is reported, as the reference does
// (abortEarly), so the caller fixes one field at a time in the order of the schema.
using Problem = std::optional<std::string>;

Problem needString(const Json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return required(path);
  if (!it->is_string()) return fieldName(path) + " must be a string";
  if (it->get_ref<const std::string&>().empty())
    return fieldName(path) + " is not allowed to be empty";
  return std::nullopt;
}

Problem needArray(const Json& obj, const std::string& key, const std::string& path, size_t min,
                  size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return required(path);
  if (!it->is_array()) return fieldName(path) + " must be an array";
  if (min == max && it->size() != min)
    return fmt::format("{} must contain {} items", fieldName(path), min);
  if (it->size() < min)
    return fmt::format("{} must contain at least {} items", fieldName(path), min);
  if (it->size() > max)
    return fmt::format("{} must contain less than or equal to {} items", fieldName(path), max);
  return std::nullopt;
}

Problem needObject(const Json& obj, const std::string& key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return required(path);
  if (!it->is_object()) return fieldName(path) + " must be of type object";
  return std::nullopt;
}

Problem checkResourceType(Json& body, std::string_view type) {
  auto it = body.find("resourceType");
  if (it != body.end() && (!it->is_string() || *it != type))
    return fmt::format("\"resourceType\" must be [{}]", type);
  body["resourceType"] = type;
  return std::nullopt;
}

// The CHT identifiers of Patient and Encounter: system "cht", value the CHT _id (a GUID).
Problem checkChtIdentifiers(const Json& body, size_t min, size_t max) {
  if (auto p = needArray(body, "identifier", "identifier", min, max)) return p;
  const Json& ids = body["identifier"];
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string at = fmt::format("identifier[{}]", i);
    if (!ids[i].is_object()) return fieldName(at) + " must be of type object";
    if (auto p = needString(ids[i], "system", at + ".system")) return p;
    if (ids[i]["system"] != "cht") return fieldName(at + ".system") + " must be [cht]";
    if (auto p = needString(ids[i], "value", at + ".value")) return p;
    if (!isGuid(ids[i]["value"].get_ref<const std::string&>()))
      return fieldName(at + ".value") + " must be a valid GUID";
  }
  return std::nullopt;
}

// At least one identifier, each an object with a string value, of any system (Organization,
// Endpoint, Practitioner).
Problem checkIdentifierValues(const Json& body) {
  if (auto p = needArray(body, "identifier", "identifier", 1, SIZE_MAX)) return p;
  const Json& ids = body["identifier"];
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string at = fmt::format("identifier[{}]", i);
    if (!ids[i].is_object()) return fieldName(at) + " must be of type object";
    if (auto p = needString(ids[i], "value", at + ".value")) return p;
  }
  return std::nullopt;
}

bool oneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) with plausible month and day.
bool isFhirDate(std::string_view s) {
  auto digits = [&](size_t from, size_t n) {
    if (s.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
  };
  if (!digits(0, 4)) return false;
  if (s.size() == 4) return true;
  if (s.size() != 7 && s.size() != 10) return false;
  if (s[4] != '-' || !digits(5, 2)) return false;
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  if (month < 1 || month > 12) return false;
  if (s.size() == 7) return true;
  if (s[7] != '-' || !digits(8, 2)) return false;
  int day = (s[8] - '0') * 10 + (s[9] - '0');
  return day >= 1 && day <= 31;
}

bool isHttpUrl(std::string_view s) {
  auto starts = [&](std::string_view p) {
    return s.substr(0, p.size()) == p && s.size() > p.size();
  };
  return starts("http://") || starts("https://");
}

// Encounter.class is a Coding in R4; CHT sends a word. Known words get their v3 ActCode.
Json classCoding(const std::string& word) {
  static constexpr std::array<std::array<std::string_view, 3>, 7> kCodes = {{
      {"outpatient", "AMB", "ambulatory"},
      {"ambulatory", "AMB", "ambulatory"},
      {"inpatient", "IMP", "inpatient encounter"},
      {"emergency", "EMER", "emergency"},
      {"home", "HH", "home health"},
      {"home health", "HH", "home health"},
      {"virtual", "VR", "virtual"},
  }};
  std::string lower = word;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& row : kCodes) {
    std::string code(row[1]);
    std::transform(code.begin(), code.end(), code.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == row[0] || lower == code)
      return Json{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
                  {"code", std::string(row[1])},
                  {"display", std::string(row[2])}};
  }
  return Json{{"display", word}};
}

}  // namespace

bool isGuid(std::string_view s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  if (s.size() == 32) return std::all_of(s.begin(), s.end(), hex);
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !hex(s[i])) return false;
  }
  return true;
}

Checked<Json> parseBody(std::string_view content_type, std::string_view body) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower != "application/json" && lower != "application/fhir+json") {
    return refuse<Json>(
        fmt::format("Content-Type must be application/json or application/fhir+json (got {})",
                    media.empty() ? "none" : std::string(media)));
  }
  auto parsed = parseJson(body);
  if (!parsed) return refuse<Json>("the body is not valid JSON: " + parsed.error().message);
  if (!parsed->is_object()) return refuse<Json>("\"value\" must be of type object");
  return accept(std::move(*parsed));
}

Checked<Json> checkPatient(Json body) {
  if (auto p = checkResourceType(body, "Patient")) return refuse<Json>(*p);
  if (auto it = body.find("id"); it != body.end()) {
    if (!it->is_string() || !isGuid(it->get_ref<const std::string&>()))
      return refuse<Json>("\"id\" must be a valid GUID");
  }
  if (auto p = checkChtIdentifiers(body, 1, SIZE_MAX)) return refuse<Json>(*p);
  if (auto p = needArray(body, "name", "name", 1, SIZE_MAX)) return refuse<Json>(*p);
  Json& names = body["name"];
  for (size_t i = 0; i < names.size(); ++i) {
    std::string at = fmt::format("name[{}]", i);
    if (!names[i].is_object()) return refuse<Json>(fieldName(at) + " must be of type object");
    if (auto p = needString(names[i], "family", at + ".family")) return refuse<Json>(*p);
    if (auto p = needArray(names[i], "given", at + ".given", 1, 1)) return refuse<Json>(*p);
    if (names[i]["given"][0].is_null()) {
      // rule 7: the reference FHIR_patient mapping sends `given: [null]` for a person without
      // short_name (the Postman LTFU collection's patient); the full name is in `family`.
      names[i].erase("given");
    } else if (!names[i]["given"][0].is_string()) {
      return refuse<Json>(fieldName(at + ".given[0]") + " must be a string");
    }
    // rule 7: HumanName has no `system` (the practitioner mapping's slip); HAPI drops it.
    names[i].erase("system");
  }
  if (auto p = needString(body, "gender", "gender")) return refuse<Json>(*p);
  const std::string& gender = body["gender"].get_ref<const std::string&>();
  if (!oneOf(gender, {"male", "female", "other", "unknown"}))
    return refuse<Json>(
        fmt::format("\"Patient.gender\" Code \"{}\" not found in value set", gender));
  if (auto p = needString(body, "birthDate", "birthDate")) return refuse<Json>(*p);
  const std::string& birth = body["birthDate"].get_ref<const std::string&>();
  if (!isFhirDate(birth))
    return refuse<Json>(fmt::format(
        "\"Patient.birthDate\" \"{}\" is not a valid date (expected YYYY-MM-DD)", birth));
  body.erase("id");  // the FHIR server assigns it; the CHT id is the identifier
  return accept(std::move(body));
}

Checked<EncounterInput> checkEncounter(Json body) {
  using R = EncounterInput;
  if (auto p = checkResourceType(body, "Encounter")) return refuse<R>(*p);
  if (auto it = body.find("id"); it != body.end()) {
    if (!it->is_string() || !isGuid(it->get_ref<const std::string&>()))
      return refuse<R>("\"id\" must be a valid GUID");
  }
  if (auto p = checkChtIdentifiers(body, 1, 1)) return refuse<R>(*p);
  if (auto p = needString(body, "status", "status")) return refuse<R>(*p);
  const std::string& status = body["status"].get_ref<const std::string&>();
  if (!oneOf(status, {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                      "cancelled", "entered-in-error", "unknown"}))
    return refuse<R>(
        fmt::format("\"Encounter.status\" Code \"{}\" not found in value set", status));
  auto cls = body.find("class");
  if (cls == body.end() || cls->is_null()) return refuse<R>(required("class"));
  if (cls->is_string()) {
    *cls = classCoding(cls->get<std::string>());  // rule 7
  } else if (!cls->is_object()) {
    return refuse<R>("\"class\" must be a Coding object or a string");
  }
  if (auto p = needArray(body, "type", "type", 1, 1)) return refuse<R>(*p);
  if (body["type"][0].is_string()) body["type"][0] = Json{{"text", body["type"][0]}};  // rule 7
  if (!body["type"][0].is_object()) return refuse<R>("\"type[0]\" must be of type object");
  if (auto p = needObject(body, "subject", "subject")) return refuse<R>(*p);
  if (auto p = needString(body["subject"], "reference", "subject.reference")) return refuse<R>(*p);
  if (auto p = needArray(body, "participant", "participant", 1, 1)) return refuse<R>(*p);
  if (!body["participant"][0].is_object())
    return refuse<R>("\"participant[0]\" must be of type object");
  EncounterInput input;
  if (auto f = body.find("fields"); f != body.end()) {
    if (!f->is_object() && !f->is_null()) return refuse<R>("\"fields\" must be of type object");
    input.fields = std::move(*f);
    body.erase("fields");
  }
  body.erase("id");
  input.resource = std::move(body);
  return accept(std::move(input));
}

Checked<Json> checkOrganization(Json body) {
  if (auto p = checkResourceType(body, "Organization")) return refuse<Json>(*p);
  if (auto p = checkIdentifierValues(body)) return refuse<Json>(*p);
  auto name = body.find("name");
  if (name == body.end() || name->is_null()) return refuse<Json>(required("name"));
  if (name->is_array()) {  // rule 7: the reference schema wants an array of one name
    if (name->size() != 1) return refuse<Json>("\"name\" must contain 1 items");
    Json first = (*name)[0];
    *name = std::move(first);
  }
  if (!name->is_string() || name->get_ref<const std::string&>().empty())
    return refuse<Json>("\"name\" must be a string");
  if (auto p = needArray(body, "endpoint", "endpoint", 1, 1)) return refuse<Json>(*p);
  Json& ref = body["endpoint"][0];
  if (!ref.is_object()) return refuse<Json>("\"endpoint[0]\" must be of type object");
  if (auto p = needString(ref, "reference", "endpoint[0].reference")) return refuse<Json>(*p);
  const std::string& target = ref["reference"].get_ref<const std::string&>();
  if (target.rfind("Endpoint/", 0) != 0 || target.size() == 9)
    return refuse<Json>("\"endpoint[0].reference\" must look like Endpoint/<id>");
  ref.erase("type");  // the reference schema's `type: "Endpoint"` is implied by the reference
  body.erase("id");
  return accept(std::move(body));
}

Checked<Json> checkEndpoint(Json body) {
  if (auto p = checkResourceType(body, "Endpoint")) return refuse<Json>(*p);
  if (auto p = checkIdentifierValues(body)) return refuse<Json>(*p);
  auto ct = body.find("connectionType");
  if (ct == body.end() || ct->is_null()) return refuse<Json>(required("connectionType"));
  // rule 7: the reference schema sends an array of one CodeableConcept; R4 wants one Coding.
  if (ct->is_array()) {
    if (ct->size() != 1) return refuse<Json>("\"connectionType\" must contain 1 items");
    Json first = (*ct)[0];
    if (first.is_object() && first.contains("coding")) {
      if (!first["coding"].is_array() || first["coding"].size() != 1)
        return refuse<Json>("\"connectionType[0].coding\" must contain 1 items");
      first = first["coding"][0];
    }
    *ct = std::move(first);
  }
  if (!ct->is_object()) return refuse<Json>("\"connectionType\" must be of type object");
  if (auto p = needString(*ct, "system", "connectionType.system")) return refuse<Json>(*p);
  if (auto p = needString(*ct, "code", "connectionType.code")) return refuse<Json>(*p);
  if (auto p = needString(body, "address", "address")) return refuse<Json>(*p);
  if (!isHttpUrl(body["address"].get_ref<const std::string&>()))
    return refuse<Json>(
        "\"address\" must be a valid uri with a scheme matching the http|https pattern");
  auto status = body.find("status");
  if (status == body.end() || status->is_null()) {
    body["status"] = "active";
  } else if (!status->is_string() ||
             !oneOf(status->get_ref<const std::string&>(),
                    {"active", "suspended", "error", "off", "entered-in-error", "test"})) {
    return refuse<Json>(
        "\"Endpoint.status\" must be one of active, suspended, error, off, "
        "entered-in-error, test");
  }
  // payloadType is 1..* in R4; requesting systems rarely send it.
  if (!body.contains("payloadType") || !body["payloadType"].is_array() ||
      body["payloadType"].empty())
    body["payloadType"] = Json::array({Json{{"text", "application/fhir+json"}}});
  body.erase("id");
  return accept(std::move(body));
}

Checked<Json> checkPractitioner(Json body) {
  if (auto p = checkResourceType(body, "Practitioner")) return refuse<Json>(*p);
  auto ids = body.find("identifier");
  if (ids == body.end() || ids->is_null()) return refuse<Json>(required("identifier"));
  if (ids->is_object()) *ids = Json::array({*ids});  // rule 7
  if (auto p = checkIdentifierValues(body)) return refuse<Json>(*p);
  if (auto p = needArray(body, "name", "name", 1, SIZE_MAX)) return refuse<Json>(*p);
  for (size_t i = 0; i < body["name"].size(); ++i) {
    std::string at = fmt::format("name[{}]", i);
    Json& name = body["name"][i];
    if (!name.is_object()) return refuse<Json>(fieldName(at) + " must be of type object");
    if (auto p = needString(name, "family", at + ".family")) return refuse<Json>(*p);
    if (name.contains("given") && !name["given"].is_array())
      return refuse<Json>(fieldName(at + ".given") + " must be an array");
    name.erase("system");  // rule 7
  }
  if (auto g = body.find("gender"); g != body.end()) {
    if (!g->is_string() ||
        !oneOf(g->get_ref<const std::string&>(), {"male", "female", "other", "unknown"}))
      return refuse<Json>(
          fmt::format("\"Practitioner.gender\" Code {} not found in value set", g->dump()));
  }
  if (auto b = body.find("birthDate"); b != body.end()) {
    if (!b->is_string() || !isFhirDate(b->get_ref<const std::string&>()))
      return refuse<Json>(
          fmt::format("\"Practitioner.birthDate\" {} is not a valid date (expected "
                      "YYYY-MM-DD)",
                      b->dump()));
  }
  if (auto t = body.find("telecom"); t != body.end() && !t->is_array())
    return refuse<Json>("\"telecom\" must be an array");
  body.erase("id");
  return accept(std::move(body));
}

Checked<PlaceInput> checkPlace(Json body) {
  using R = PlaceInput;
  if (body.contains("doc")) {
    if (!body["doc"].is_object()) return refuse<R>("\"doc\" must be of type object");
    Json doc = std::move(body["doc"]);
    body = std::move(doc);
  }
  if (auto p = needString(body, "_id", "_id")) return refuse<R>(*p);
  if (auto p = needString(body, "name", "name")) return refuse<R>(*p);
  PlaceInput place;
  place.id = body["_id"];
  place.name = body["name"];
  for (const char* key : {"contact_type", "type"}) {
    auto t = body.find(key);
    if (t != body.end() && t->is_string() && *t != "contact") {
      place.type = t->get<std::string>();
      break;
    }
  }
  if (place.type.empty()) return refuse<R>("\"type\" is required (the CHT place type)");
  auto parent = body.find("parent");
  if (parent != body.end() && !parent->is_null()) {
    if (!parent->is_object()) return refuse<R>("\"parent\" must be of type object");
    if (auto p = needString(*parent, "_id", "parent._id")) return refuse<R>(*p);
    place.parent_id = (*parent)["_id"];
  }
  for (const std::string* id : {&place.id, &place.parent_id}) {
    for (char c : *id) {
      if (std::isspace(static_cast<unsigned char>(c)) || c == '?' || c == '&' || c == '#' ||
          c == '/' || c == '|')
        return refuse<R>("place ids must not contain spaces, '/', '?', '&', '#' or '|'");
    }
  }
  return accept(std::move(place));
}

Checked<LtfuRequest> checkServiceRequest(Json body) {
  using R = LtfuRequest;
  if (auto p = checkResourceType(body, "ServiceRequest")) return refuse<R>(*p);
  if (auto p = needString(body, "intent", "intent")) return refuse<R>(*p);
  const std::string& intent = body["intent"].get_ref<const std::string&>();
  if (!oneOf(intent, {"proposal", "plan", "directive", "order", "original-order", "reflex-order",
                      "filler-order", "instance-order", "option"}))
    return refuse<R>(
        fmt::format("\"ServiceRequest.intent\" Code \"{}\" not found in value set", intent));
  if (auto p = needObject(body, "subject", "subject")) return refuse<R>(*p);
  if (auto p = needString(body["subject"], "reference", "subject.reference")) return refuse<R>(*p);
  std::string subject = body["subject"]["reference"];
  if (subject.rfind("Patient/", 0) != 0 || subject.size() == 8)
    return refuse<R>("\"subject.reference\" must look like Patient/<CHT patient id>");
  if (auto p = needObject(body, "requester", "requester")) return refuse<R>(*p);
  if (auto p = needString(body["requester"], "reference", "requester.reference"))
    return refuse<R>(*p);
  std::string requester = body["requester"]["reference"];
  if (requester.rfind("Organization/", 0) != 0 || requester.size() == 13)
    return refuse<R>(
        "\"requester.reference\" must look like Organization/<organization identifier>");
  LtfuRequest r;
  r.patient_id = subject.substr(8);
  r.organization_id = requester.substr(13);
  for (char c : r.patient_id + r.organization_id) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '?' || c == '&' || c == '#' || c == '/')
      return refuse<R>(
          "\"subject.reference\" and \"requester.reference\" ids must not contain "
          "spaces, '/', '?', '&' or '#'");
  }
  body.erase("id");
  body["status"] = "active";
  r.resource = std::move(body);
  return accept(std::move(r));
}

std::string encounterPatientId(const Json& encounter) {
  return encounter["identifier"][0]["value"].get<std::string>();
}

}  // namespace chtlink::mediator
