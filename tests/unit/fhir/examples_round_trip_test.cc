// Round trip of the official examples (hl7.fhir.r4.examples 4.0.1): every resource is
// created, read back equal apart from meta/id, updated, found by _id and by one other of its
// indexed parameters, and deleted. The files are split into kShards tests (file i goes to
// shard i % kShards) so each ctest test stays short and they can run in parallel.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fhir/search/date_range.h"
#include "fhir/search/indexer.h"
#include "fhir_harness.h"

// Every file runs in every build type (a sample would be taken here if a sanitizer build
// ever became too slow).
constexpr size_t kEvery = 1;

namespace chtlink::fhir {
namespace {

constexpr size_t kShards = 24;

using testing::FhirHarness;

std::string escapeValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '$' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '|' || c == '/' ||
        c == ':') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// One "param=value" query that must match `resource`, from its own index rows; empty if none.
std::string indexedQuery(const search::IndexRows& rows) {
  for (const auto& t : rows.tokens) {
    if (t.code.empty() || t.code.find('|') != std::string::npos ||
        t.system.find('|') != std::string::npos)
      continue;
    return t.param + "=" +
           encode(escapeValue(t.has_system ? t.system + "|" + t.code : "|" + t.code));
  }
  for (const auto& s : rows.strings) return s.param + ":exact=" + encode(escapeValue(s.exact));
  for (const auto& r : rows.references) {
    if (!r.target_type.empty())
      return r.param + "=" + encode(escapeValue(r.target_type + "/" + r.target_id));
    return r.param + "=" + encode(escapeValue(r.url));
  }
  for (const auto& u : rows.uris) return u.param + "=" + encode(escapeValue(u.value));
  // ge with the first millisecond of the value's interval always matches it (fhir.md 4.4).
  for (const auto& d : rows.dates)
    if (d.low > search::kMinMillis) return d.param + "=ge" + encode(search::formatInstant(d.low));
  return "";
}

Json withoutIdAndMeta(Json r) {
  r.erase("id");
  r.erase("meta");
  return r;
}

class ExamplesRoundTripTest : public ::testing::TestWithParam<size_t> {};

TEST_P(ExamplesRoundTripTest, EveryOfficialExampleSurvivesCrudAndSearch) {
  const size_t shard = GetParam();
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(CHTLINK_FHIR_EXAMPLES_DIR)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".json" && name != "package.json" && name[0] != '.')
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 5000u);

  FhirOptions options;
  options.max_body_bytes = 64 * 1024 * 1024;  // a few package Bundles are 20 MB
  // The examples refer to each other (and to resources not in the package) in any order.
  options.referential_integrity_on_write = false;
  options.referential_integrity_on_delete = false;
  FhirHarness h(options);
  auto defs = Definitions::load();
  search::Indexer indexer(defs);
  size_t tried = 0, passed = 0, searched_other = 0;
  std::map<std::string, std::string> exclusions;  // file -> reason
  for (size_t i = shard; i < files.size(); i += kShards * kEvery) {
    const auto name = files[i].filename().string();
    std::ifstream in(files[i]);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parseJson(text.str());
    if (!parsed.has_value() || !parsed->is_object() || !parsed->contains("resourceType")) {
      exclusions[name] = "not a FHIR resource";
      continue;
    }
    ++tried;
    const Json original = std::move(parsed).value();
    const std::string type = original["resourceType"];
    SCOPED_TRACE(name);
    auto created = h.call("POST", "/fhir/" + type, text.str());
    ASSERT_EQ(created.status, 201) << created.body.substr(0, 400);
    // Ids and versions come from the headers, so the big bodies are parsed only where compared.
    std::string location(created.headers.get("Location"));
    const std::string id = location.substr(
        location.find("/" + type + "/") + type.size() + 2,
        location.find("/_history") - location.find("/" + type + "/") - type.size() - 2);

    auto read = h.call("GET", "/fhir/" + type + "/" + id);
    ASSERT_EQ(read.status, 200);
    Json stored = h.json(read);
    Json expected = withoutIdAndMeta(original);
    // A Subscription is activated when stored (fhir.md 6.3): requested reads back active.
    if (type == "Subscription" && expected.value("status", "") == "requested")
      expected["status"] = "active";
    ASSERT_EQ(withoutIdAndMeta(stored), expected);
    if (original.contains("meta") && original["meta"].contains("source")) {
      EXPECT_EQ(stored["meta"]["source"], original["meta"]["source"]);
    }

    Json changed = stored;
    changed["language"] = stored.value("language", "") == "nl" ? "en" : "nl";
    auto updated = h.call("PUT", "/fhir/" + type + "/" + id, dumpJson(changed));
    ASSERT_EQ(updated.status, 200) << updated.body.substr(0, 400);
    ASSERT_EQ(updated.headers.get("ETag"), "W/\"2\"");

    auto by_id = h.json(h.call("GET", "/fhir/" + type + "?_id=" + id));
    ASSERT_EQ(by_id["total"], 1);
    std::string q = indexedQuery(indexer.index(changed, type));
    if (!q.empty()) {
      auto by_param = h.call("GET", "/fhir/" + type + "?" + q + "&_id=" + id + "&_summary=count");
      ASSERT_EQ(by_param.status, 200) << q << ": " << by_param.body.substr(0, 400);
      ASSERT_EQ(h.json(by_param)["total"], 1) << q;
      ++searched_other;
    } else {
      exclusions[name] = "no token/string/reference/uri value indexed: only found by _id";
    }

    ASSERT_EQ(h.call("DELETE", "/fhir/" + type + "/" + id).status, 200);
    ASSERT_EQ(h.call("GET", "/fhir/" + type + "/" + id).status, 410);
    ++passed;
  }
  std::cout << "[ examples ] shard " << shard << "/" << kShards << " of " << files.size()
            << " files: " << tried << " tried (every " << kEvery << " of the shard), " << passed
            << " passed all steps, " << searched_other
            << " also found by another indexed parameter\n";
  for (const auto& [file, why] : exclusions)
    std::cout << "[ excluded ] " << file << ": " << why << "\n";
  EXPECT_EQ(passed, tried);
  EXPECT_GT(tried, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, ExamplesRoundTripTest, ::testing::Range<size_t>(0, kShards));

}  // namespace
}  // namespace chtlink::fhir
