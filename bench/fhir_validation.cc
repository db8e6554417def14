// FHIR validation cost: validations/s of a typical Patient and Encounter against plain JSON
// parsing of the same text, measured in the same run. Prints one JSON line; the ratios are
// validation time / parse time (target <= 3).
// Usage: fhir_validation [seconds per measurement, default 2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/json.h"
#include "fhir/validation/validator.h"

namespace {

using Clock = std::chrono::steady_clock;

const char* kPatient = R"({"resourceType":"Patient","id":"3f1c9a52-8d7e-4b1a-9c3e-2a6b5d4e7f80",
 "meta":{"source":"cht","profile":["http://example.org/fhir/StructureDefinition/cht-patient"]},
 "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Doe</div>"},
 "identifier":[{"use":"official","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}],"text":"CHT Document ID"},"system":"http://cht.org/patient_id","value":"3f1c9a52-8d7e-4b1a-9c3e-2a6b5d4e7f80"},
   {"system":"http://openmrs.org/id","value":"10001YF"}],
 "active":true,
 "name":[{"use":"official","family":"Doe","given":["Jane","Ann"]}],
 "telecom":[{"system":"phone","value":"+254700000001","use":"mobile"}],
 "gender":"female","birthDate":"1990-05-01",
 "address":[{"use":"home","line":["12 Main Road"],"city":"Kisumu","district":"Kisumu East","country":"KE"}],
 "managingOrganization":{"reference":"Organization/org-1","display":"Kisumu Health Centre"},
 "extension":[{"url":"http://example.org/fhir/StructureDefinition/place","valueString":"household-12"}]})";

const char* kEncounter = R"({"resourceType":"Encounter","id":"enc-1",
 "meta":{"source":"cht"},
 "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Home visit</div>"},
 "identifier":[{"use":"official","system":"http://cht.org/encounter","value":"7b2d1f90-3c4a-4e5b-8a6c-9d0e1f2a3b4c"}],
 "status":"finished",
 "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"ambulatory"},
 "type":[{"coding":[{"system":"http://cht.org/forms","code":"interop_follow_up","display":"LTFU follow-up"}]}],
 "subject":{"reference":"Patient/3f1c9a52-8d7e-4b1a-9c3e-2a6b5d4e7f80"},
 "participant":[{"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PPRF"}]}],"individual":{"reference":"Practitioner/chw-1"}}],
 "period":{"start":"2024-03-05T10:15:00+03:00","end":"2024-03-05T10:45:00+03:00"},
 "reasonCode":[{"text":"missed appointment"}],
 "serviceProvider":{"reference":"Organization/org-1"}})";

struct Figures {
  double validations_per_s = 0;
  double parses_per_s = 0;
};

template <typename F>
double perSecond(double seconds, F&& f) {
  // Warm up, then run until the time is up, checking the clock every 64 rounds.
  for (int i = 0; i < 200; ++i) f();
  size_t n = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 64; ++i) f();
    n += 64;
    now = Clock::now();
  }
  return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
}

Figures measure(const chtlink::fhir::validation::Validator& validator, const std::string& text,
                double seconds) {
  Figures f;
  size_t sink = 0;
  f.parses_per_s = perSecond(seconds, [&] { sink += chtlink::parseJson(text)->size(); });
  const chtlink::Json json = chtlink::parseJson(text).value();
  auto check = validator.validate(json);
  if (check.hasErrors()) {
    std::fprintf(stderr, "fhir_validation: the sample resource has errors:\n");
    for (const auto& i : check.issues)
      std::fprintf(stderr, "  %s: %s\n", i.expression.c_str(), i.message.c_str());
    std::exit(1);
  }
  f.validations_per_s = perSecond(seconds, [&] { sink += validator.validate(json).issues.size(); });
  if (sink == 42) std::fprintf(stderr, " ");  // keeps the work observable
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (seconds <= 0) seconds = 2.0;
  auto load_start = Clock::now();
  auto validator = chtlink::fhir::validation::Validator::create();
  double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();
  Figures p = measure(*validator, kPatient, seconds);
  Figures e = measure(*validator, kEncounter, seconds);
  std::printf(
      "{\"model_load_ms\":%.1f,\"patient_validations_per_s\":%.0f,\"patient_parses_per_s\":%.0f,"
      "\"patient_ratio\":%.2f,\"encounter_validations_per_s\":%.0f,"
      "\"encounter_parses_per_s\":%.0f,\"encounter_ratio\":%.2f}\n",
      load_ms, p.validations_per_s, p.parses_per_s, p.parses_per_s / p.validations_per_s,
      e.validations_per_s, e.parses_per_s, e.parses_per_s / e.validations_per_s);
  return 0;
}
