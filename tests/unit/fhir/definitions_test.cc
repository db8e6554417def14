#include "fhir/model/definitions.h"

#include <gtest/gtest.h>

#include <set>

#include "fhir/search/indexer.h"

namespace chtlink::fhir {
namespace {

TEST(DefinitionsTest, HoldsTheR4ResourceTypesAndSearchParameters) {
  auto defs = Definitions::load();
  EXPECT_EQ(defs->resourceTypes().size(), 146u);
  EXPECT_EQ(defs->searchParamCount(), 1400u);
  EXPECT_TRUE(defs->isResourceType("Patient"));
  EXPECT_TRUE(defs->isResourceType("Subscription"));
  EXPECT_FALSE(defs->isResourceType("Resource"));
  EXPECT_FALSE(defs->isResourceType("patient"));
}

TEST(DefinitionsTest, FindsTypeAndCommonParameters) {
  auto defs = Definitions::load();
  const SearchParamDef* identifier = defs->find("Patient", "identifier");
  ASSERT_NE(identifier, nullptr);
  EXPECT_EQ(identifier->type, ParamType::Token);
  EXPECT_EQ(identifier->expression, "Patient.identifier");
  const SearchParamDef* subject = defs->find("Encounter", "subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->type, ParamType::Reference);
  EXPECT_FALSE(subject->targets.empty());
  for (const char* common : {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"}) {
    EXPECT_NE(defs->find("Observation", common), nullptr) << common;
  }
  EXPECT_EQ(defs->find("Patient", "nonsense"), nullptr);
}

TEST(DefinitionsTest, IndexerCompilesAllButCompositeAndSpecialParameters) {
  auto defs = Definitions::load();
  search::Indexer indexer(defs);
  // Besides composite/special: four parameters without an expression in R4 and
  // Patient-deceased ("exists() and ... != false").
  std::set<std::string> other;
  for (const auto& [url, why] : indexer.skipped()) {
    if (why.find("composite") == std::string::npos && why.find("special") == std::string::npos)
      other.insert(url.substr(url.rfind('/') + 1));
  }
  EXPECT_EQ(other,
            (std::set<std::string>{"DomainResource-text", "Patient-deceased", "Resource-content",
                                   "Resource-query", "patient-extensions-Patient-age",
                                   "patient-extensions-Patient-birthOrderBoolean"}));
  EXPECT_TRUE(indexer.supports(*defs->find("Patient", "identifier")));
  EXPECT_FALSE(indexer.supports(*defs->find("Observation", "code-value-quantity")));  // composite
}

}  // namespace
}  // namespace chtlink::fhir
