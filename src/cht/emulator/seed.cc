#include "cht/emulator/seed.h"

namespace chtlink::cht::emulator {
namespace {

// Written for cht-sim from cht.md 4.2/4.5 (behaviour, not a copy of the reference repository).
constexpr const char* kBaseSettings = R"json({
  "locale": "en",
  "transitions": { "generate_patient_id_on_people": true, "death_reporting": true,
                   "mark_for_outbound": true },
  "roles": {
    "chw": { "name": "usertype.chw", "offline": true },
    "chw_supervisor": { "name": "usertype.chw-supervisor", "offline": true },
    "program_officer": { "name": "usertype.program-officer" }
  },
  "permissions": {
    "can_edit": ["chw", "chw_supervisor", "program_officer"],
    "can_create_people": ["chw", "chw_supervisor", "program_officer"],
    "can_create_places": ["chw", "chw_supervisor", "program_officer"],
    "can_update_places": ["chw_supervisor", "program_officer"],
    "can_create_records": ["chw", "chw_supervisor", "program_officer"],
    "can_view_contacts": ["chw", "chw_supervisor", "program_officer"],
    "can_create_users": ["program_officer"],
    "can_update_users": ["program_officer"],
    "can_view_users": ["program_officer"],
    "can_delete_users": ["program_officer"],
    "can_configure": ["program_officer"]
  },
  "contact_types": [
    { "id": "district_hospital", "name_key": "contact.type.district_hospital" },
    { "id": "health_center", "name_key": "contact.type.health_center", "parents": ["district_hospital"] },
    { "id": "clinic", "name_key": "contact.type.clinic", "parents": ["health_center"] },
    { "id": "person", "name_key": "contact.type.person", "person": true,
      "parents": ["district_hospital", "health_center", "clinic"] }
  ],
  "forms": {
    "INTEROP_FOLLOW_UP": {
      "meta": { "code": "interop_follow_up", "icon": "icon-follow-up",
                "translation_key": "task.interoperability.follow_up.title" },
      "fields": { "patient_uuid": { "labels": { "short": { "translation_key": "patient_uuid" } },
                                    "position": 0, "type": "string", "length": [1, 13],
                                    "required": false } }
    }
  }
})json";

constexpr const char* kOutbound = R"json({
  "FHIR_patient": {
    "relevant_to": "doc.type === 'person' && doc.role == 'patient'",
    "destination": { "base_url": "@ROUTER@", "path": "/mediator/patient",
                     "auth": { "type": "basic", "username": "@USER@", "password_key": "openhim1" } },
    "mapping": {
      "resourceType": { "expr": "'Patient'" },
      "identifier": { "expr": "[{ system: 'cht', use: 'official', value: doc._id }]" },
      "name": { "expr": "[{ use: 'official', family: doc.name, given: [doc.short_name] }]" },
      "gender": { "path": "doc.sex" },
      "birthDate": { "path": "doc.date_of_birth" }
    }
  },
  "FHIR_practitioner": {
    "relevant_to": "doc.type === 'person' && (doc.role === 'chw' || doc.role === 'nurse')",
    "destination": { "base_url": "@ROUTER@", "path": "/fhir/Practitioner",
                     "auth": { "type": "basic", "username": "@USER@", "password_key": "openhim1" } },
    "mapping": {
      "resourceType": { "expr": "'Practitioner'" },
      "gender": { "path": "doc.sex" },
      "name": { "expr": "[{ system: 'cht', family: doc.name, given: [doc.short_name] }]" },
      "identifier.use": { "expr": "'usual'" },
      "identifier.value": { "expr": "'cht/' + doc._id" },
      "birthDate": { "path": "doc.date_of_birth" },
      "telecom": { "expr": "[{ system: 'phone', use: 'home', value: doc.phone, use: 'mobile' }]",
                   "optional": true },
      "active": { "expr": "true" }
    }
  },
  "FHIR_encounter": {
    "relevant_to": "doc.type === 'data_record' && doc.form === 'interop_follow_up'",
    "destination": { "base_url": "@ROUTER@", "path": "/mediator/encounter",
                     "auth": { "type": "basic", "username": "@USER@", "password_key": "openhim1" } },
    "mapping": {
      "resourceType": { "expr": "'Encounter'" },
      "identifier": { "expr": "[{ system: 'cht', use: 'official', value: doc.fields.inputs.contact._id }]" },
      "status": { "expr": "'finished'" },
      "class": { "expr": "'outpatient'" },
      "type": { "expr": "[{ text: 'Community health worker visit' }]" },
      "subject.reference": { "expr": "'Patient/?identifier=' + doc.fields.inputs.contact._id" },
      "participant": { "expr": "[{ type: [{ text: 'Community health worker' }] }]" }
    }
  }
})json";

void replaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

Result<outbound::OrderedJson> seedSettings(const ChtSimOptions& options) {
  CHTLINK_ASSIGN_OR_RETURN(auto settings, outbound::parseOrderedJson(kBaseSettings));
  if (options.seed_ltfu) {
    // Values go in through JSON so a URL or user with quotes cannot break the document.
    std::string outbound_text = kOutbound;
    std::string router = outbound::jsStringify(outbound::OrderedJson(options.router_url));
    std::string user = outbound::jsStringify(outbound::OrderedJson(options.openhim_user));
    replaceAll(outbound_text, "\"@ROUTER@\"", router);
    replaceAll(outbound_text, "\"@USER@\"", user);
    CHTLINK_ASSIGN_OR_RETURN(settings["outbound"], outbound::parseOrderedJson(outbound_text));
  }
  return settings;
}

}  // namespace chtlink::cht::emulator
