// First include: checks that the header is self-contained.
#include "net/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chtlink::net {
namespace {

using ::testing::HasSubstr;

Handler named(std::string* hit, std::string name) {
  return [hit, name](Request, Reply) { *hit = name; };
}

// Calls the matched handler and returns its name, or the refusal status as text.
struct Outcome {
  std::string handler;
  std::string pattern;
  std::vector<PathParam> params;
  int status = 0;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/", named(&hit_, "root"));
    router_.add("GET", "/jobs", named(&hit_, "jobs"));
    router_.add("GET", "/jobs/dead", named(&hit_, "jobs-dead"));
    router_.add("GET", "/jobs/{id}", named(&hit_, "job"));
    router_.add("DELETE", "/jobs/{id}", named(&hit_, "job-delete"));
    router_.add("POST", "/jobs/{id}/retry", named(&hit_, "job-retry"));
    router_.add("GET", "/fhir/{type}/{id}", named(&hit_, "read"));
    router_.add("GET", "/fhir/{type}/{id}/_history/{vid}", named(&hit_, "vread"));
    router_.add("GET", "/fhir/metadata", named(&hit_, "metadata"));
    router_.add("*", "/mediator/{rest...}", named(&hit_, "mediator"));
    router_.add("GET", "/files/{rest...}", named(&hit_, "files"));
    router_.add("PUT", "/slash/", named(&hit_, "slash"));
  }

  Outcome run(std::string_view method, std::string_view path) {
    Outcome out;
    hit_.clear();
    auto m = router_.match(method, path);
    if (m.handler) {
      (*m.handler)(Request{}, Reply([](Response) {}));
      out.handler = hit_;
      out.pattern = std::string(m.pattern);
      out.params = m.params;
    } else {
      out.status = m.refusal ? m.refusal->status : -1;
    }
    return out;
  }

  Router router_;
  std::string hit_;
};

TEST_F(RouterTest, MatchesTable) {
  struct Case {
    const char* method;
    const char* path;
    const char* handler;  // empty: refused
    int status;
  };
  const Case cases[] = {
      {"GET", "/", "root", 0},
      {"GET", "/jobs", "jobs", 0},
      {"GET", "/jobs/dead", "jobs-dead", 0},  // literal beats parameter
      {"GET", "/jobs/42", "job", 0},
      {"DELETE", "/jobs/dead", "job-delete", 0},     // the literal has no DELETE; the param has
      {"POST", "/jobs/dead/retry", "job-retry", 0},  // backtracks past the literal
      {"GET", "/fhir/metadata", "metadata", 0},
      {"GET", "/fhir/Patient/1", "read", 0},
      {"GET", "/fhir/Patient/1/_history/2", "vread", 0},
      {"PATCH", "/mediator/patient", "mediator", 0},  // "*" accepts any method
      {"GET", "/mediator/a/b/c", "mediator", 0},
      {"GET", "/mediator/", "mediator", 0},  // catch-all may be empty
      {"GET", "/mediator", "", 404},         // but needs the slash
      {"HEAD", "/jobs", "jobs", 0},          // HEAD falls back to GET
      {"PUT", "/slash/", "slash", 0},
      {"PUT", "/slash", "", 404},  // trailing slash is significant
      {"GET", "/jobs/", "", 404},  // a parameter never matches an empty segment
      {"GET", "/jobs//retry", "", 404},
      {"GET", "/nope", "", 404},
      {"POST", "/jobs", "", 405},
      {"POST", "/jobs/1", "", 405},
      {"GET", "/fhir/Patient", "", 404},
      {"GET", "*", "", 404},
      {"GET", "", "", 404},
  };
  for (const auto& c : cases) {
    Outcome out = run(c.method, c.path);
    EXPECT_EQ(out.handler, c.handler) << c.method << " " << c.path;
    EXPECT_EQ(out.status, c.status) << c.method << " " << c.path;
  }
}

TEST_F(RouterTest, CapturesParametersAndPattern) {
  Outcome out = run("GET", "/fhir/Patient/abc/_history/3");
  EXPECT_EQ(out.pattern, "/fhir/{type}/{id}/_history/{vid}");
  ASSERT_EQ(out.params.size(), 3u);
  EXPECT_EQ(out.params[0].name, "type");
  EXPECT_EQ(out.params[0].value, "Patient");
  EXPECT_EQ(out.params[1].value, "abc");
  EXPECT_EQ(out.params[2].name, "vid");
  EXPECT_EQ(out.params[2].value, "3");
}

TEST_F(RouterTest, DecodesParametersButNotCatchAll) {
  Outcome read = run("GET", "/fhir/Patient/a%2Fb%20c");
  ASSERT_EQ(read.handler, "read");
  EXPECT_EQ(read.params[1].value, "a/b c");  // %2F stays inside the segment

  Outcome files = run("GET", "/files/x%20y/z");
  ASSERT_EQ(files.handler, "files");
  ASSERT_EQ(files.params.size(), 1u);
  EXPECT_EQ(files.params[0].name, "rest");
  EXPECT_EQ(files.params[0].value, "x%20y/z");  // a path: handed on as received
}

TEST_F(RouterTest, PercentEncodedLiteralSegmentMatchesLiteral) {
  EXPECT_EQ(run("GET", "/jobs/de%61d").handler, "jobs-dead");
  EXPECT_EQ(run("GET", "/fhir/%6Detadata").handler, "metadata");
}

TEST_F(RouterTest, Refuses405WithAllowHeaderAndJsonBody) {
  auto m = router_.match("PUT", "/jobs/7");
  ASSERT_EQ(m.handler, nullptr);
  ASSERT_TRUE(m.refusal.has_value());
  EXPECT_EQ(m.refusal->status, 405);
  EXPECT_EQ(m.refusal->headers.get("Allow"), "GET, HEAD, DELETE");
  EXPECT_EQ(m.refusal->headers.get("content-type"), "application/json");
  auto body = parseJson(m.refusal->body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ((*body)["error"], "method_not_allowed");
  EXPECT_THAT((*body)["message"].get<std::string>(), HasSubstr("PUT"));
}

TEST_F(RouterTest, Refuses404WithJsonBody) {
  auto m = router_.match("GET", "/nowhere");
  ASSERT_TRUE(m.refusal.has_value());
  EXPECT_EQ(m.refusal->status, 404);
  EXPECT_EQ(m.pattern, "");
  auto body = parseJson(m.refusal->body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ((*body)["error"], "not_found");
  EXPECT_THAT((*body)["message"].get<std::string>(), HasSubstr("/nowhere"));
}

TEST(RouterAddTest, RejectsMalformedPatterns) {
  Router r;
  auto h = [](Request, Reply) {};
  EXPECT_THROW(r.add("GET", "nope", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/{", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/{}", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/{x-y}", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/{rest...}/b", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/{x}/{x}", h), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/a/b{x}", h), std::invalid_argument);
  EXPECT_THROW(r.add("", "/a", h), std::invalid_argument);
  r.add("GET", "/a/{id}", h);
  EXPECT_THROW(r.add("GET", "/a/{id}", h), std::invalid_argument);     // twice
  EXPECT_THROW(r.add("POST", "/a/{name}", h), std::invalid_argument);  // same shape
  EXPECT_NO_THROW(r.add("POST", "/a/{id}", h));
}

TEST(RouterAddTest, MovedRouterKeepsRoutes) {
  Router a;
  a.add("GET", "/x/{id}", [](Request, Reply) {});
  Router b = std::move(a);
  auto m = b.match("GET", "/x/1");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/x/{id}");
}

}  // namespace
}  // namespace chtlink::net
