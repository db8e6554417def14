// First include: checks that the header is self-contained.
#include "net/http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "net/client.h"
#include "net/request_id.h"

namespace chtlink::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(HeadersTest, LookupIsCaseInsensitiveAndSetReplacesAll) {
  Headers h;
  h.add("Content-Type", "text/plain");
  h.add("X-Thing", "1");
  h.add("x-thing", "2");
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_TRUE(h.has("X-THING"));
  EXPECT_EQ(h.get("x-THING"), "1");  // first value
  EXPECT_EQ(h.get("missing"), "");
  h.set("X-Thing", "3");
  EXPECT_EQ(h.all().size(), 2u);
  EXPECT_EQ(h.get("x-thing"), "3");
  h.remove("CONTENT-TYPE");
  EXPECT_FALSE(h.has("Content-Type"));
}

TEST(RequestTest, ParamByName) {
  Request r;
  r.params = {{"type", "Patient"}, {"id", "7"}};
  EXPECT_EQ(r.param("id"), "7");
  EXPECT_EQ(r.param("nope"), "");
}

TEST(ResponseTest, ErrorHasJsonBodyAndContentType) {
  Response r = Response::error(413, "body_too_large", "too \"big\"");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  auto body = parseJson(r.body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(*body, Json({{"error", "body_too_large"}, {"message", "too \"big\""}}));
}

TEST(ResponseTest, StatusText) {
  EXPECT_EQ(statusText(200), "OK");
  EXPECT_EQ(statusText(404), "Not Found");
  EXPECT_EQ(statusText(431), "Request Header Fields Too Large");
  EXPECT_EQ(statusText(503), "Service Unavailable");
  EXPECT_EQ(statusText(299), "Unknown");
}

TEST(PercentTest, DecodesTable) {
  struct Case {
    const char* in;
    const char* path;   // percentDecode
    const char* query;  // decodeQueryComponent
  };
  const Case cases[] = {
      {"plain", "plain", "plain"},
      {"a%20b", "a b", "a b"},
      {"a+b", "a+b", "a b"},
      {"%2Fx%2f", "/x/", "/x/"},
      {"%E2%82%AC", "\xE2\x82\xAC", "\xE2\x82\xAC"},
      {"100%", "100%", "100%"},     // lone % kept
      {"%zz%4", "%zz%4", "%zz%4"},  // invalid escapes kept
      {"", "", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(percentDecode(c.in), c.path) << c.in;
    EXPECT_EQ(decodeQueryComponent(c.in), c.query) << c.in;
  }
}

TEST(QueryTest, ParsesPairsInOrder) {
  EXPECT_THAT(parseQuery("a=1&b=x+y&a=%3D&flag&&empty="),
              ElementsAre(Pair("a", "1"), Pair("b", "x y"), Pair("a", "="), Pair("flag", ""),
                          Pair("empty", "")));
  EXPECT_TRUE(parseQuery("").empty());
  EXPECT_THAT(parseQuery("name%5B0%5D=J%C3%BCrgen"), ElementsAre(Pair("name[0]", "J\xC3\xBCrgen")));
  EXPECT_THAT(parseQuery("a=b=c"), ElementsAre(Pair("a", "b=c")));
}

TEST(ReplyTest, FirstAnswerWinsAcrossCopiesAndThreads) {
  std::atomic<int> calls{0};
  std::atomic<int> status{0};
  {
    Reply reply([&](Response r) {
      ++calls;
      status = r.status;
    });
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([reply, i] { reply(Response::error(200 + i, "x", "y")); });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(status.load(), 200);
  EXPECT_LT(status.load(), 208);
}

TEST(ReplyTest, DroppingEveryCopyAnswers500) {
  std::vector<Response> got;
  {
    Reply reply([&](Response r) { got.push_back(std::move(r)); });
    Reply copy = reply;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 500);
  auto body = parseJson(got[0].body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ((*body)["error"], "handler_no_answer");
  EXPECT_THAT((*body)["message"].get<std::string>(), HasSubstr("without answering"));
}

TEST(RequestIdTest, ValidatesClientIds) {
  EXPECT_TRUE(isValidRequestId("abc-123"));
  EXPECT_TRUE(isValidRequestId(std::string(kMaxRequestIdLength, 'a')));
  EXPECT_FALSE(isValidRequestId(std::string(kMaxRequestIdLength + 1, 'a')));
  EXPECT_FALSE(isValidRequestId(""));
  EXPECT_FALSE(isValidRequestId("has space"));
  EXPECT_FALSE(isValidRequestId("tab\there"));
  EXPECT_FALSE(isValidRequestId("caf\xC3\xA9"));
}

TEST(RequestIdTest, FormatsLikeNewUuid) {
  RequestIdGenerator fast(42), reference(42);
  EXPECT_EQ(fast.next(), newUuid(reference));
}

TEST(RequestIdTest, GeneratesDistinctUuids) {
  RequestIdGenerator a(1), b(2);
  std::string x = a.next(), y = a.next(), z = b.next();
  EXPECT_EQ(x.size(), 36u);
  EXPECT_EQ(x[14], '4');
  EXPECT_NE(x, y);
  EXPECT_NE(x, z);
}

TEST(ParseUrlTest, Accepts) {
  struct Case {
    const char* url;
    const char* scheme;
    const char* host;
    uint16_t port;
    const char* target;
  };
  const Case cases[] = {
      {"http://example.org", "http", "example.org", 80, "/"},
      {"HTTPS://example.org/", "https", "example.org", 443, "/"},
      {"http://127.0.0.1:5001/fhir/Patient?name=x", "http", "127.0.0.1", 5001,
       "/fhir/Patient?name=x"},
      {"http://h:8080?q=1", "http", "h", 8080, "/?q=1"},
      {"http://[::1]:9000/a", "http", "::1", 9000, "/a"},
      {"https://cht.example.org/api/v1/people#frag", "https", "cht.example.org", 443,
       "/api/v1/people"},
  };
  for (const auto& c : cases) {
    auto u = parseUrl(c.url);
    ASSERT_TRUE(u.has_value()) << c.url << ": " << u.error().message;
    EXPECT_EQ(u->scheme, c.scheme) << c.url;
    EXPECT_EQ(u->host, c.host) << c.url;
    EXPECT_EQ(u->port, c.port) << c.url;
    EXPECT_EQ(u->target, c.target) << c.url;
  }
}

TEST(ParseUrlTest, RejectsNamingTheUrl) {
  const char* bad[] = {
      "ftp://example.org/", "example.org/x",   "http://",        "http://:80/",
      "http://h:0/",        "http://h:65536/", "http://h:12ab/", "http://user:pw@h/",
      "http://[::1/",       "http://h/a b",    "http://h\x01/",  "http://h/caf\xC3\xA9",
  };
  for (const char* url : bad) {
    auto u = parseUrl(url);
    ASSERT_FALSE(u.has_value()) << url;
    EXPECT_EQ(u.error().code, ErrorCode::InvalidArgument) << url;
    EXPECT_THAT(u.error().message, HasSubstr(url)) << url;
  }
}

}  // namespace
}  // namespace chtlink::net
