// IndexRows: the search-index entries of one resource version, one vector per table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chtlink::fhir::search {

struct StringEntry {
  std::string param;
  std::string normalized;  // lower case, accents stripped (default and :contains matching)
  std::string exact;       // as written (:exact)
};

struct TokenEntry {
  std::string param;
  bool has_system = false;  // false: the value had no system (matches "|code")
  std::string system;
  std::string code;
  std::string text;  // normalized display / CodeableConcept.text, for :text
};

struct ReferenceEntry {
  std::string param;
  std::string target_type;  // empty when not a literal T/id reference
  std::string target_id;
  std::string url;  // the reference as written (absolute URLs, canonicals, urn:uuid)
};

struct DateEntry {
  std::string param;
  int64_t low;   // inclusive, epoch ms
  int64_t high;  // exclusive
};

// Numbers and quantities (a Range indexes as [low.value, high.value]).
struct NumberEntry {
  std::string param;
  double low;
  double high;
  std::string system;
  std::string code;
  std::string unit;
};

struct UriEntry {
  std::string param;
  std::string value;
};

struct IndexRows {
  std::vector<StringEntry> strings;
  std::vector<TokenEntry> tokens;
  std::vector<ReferenceEntry> references;
  std::vector<DateEntry> dates;
  std::vector<NumberEntry> numbers;
  std::vector<UriEntry> uris;
};

}  // namespace chtlink::fhir::search
