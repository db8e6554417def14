// First include: checks that the header is self-contained.
#include "net/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include "net/client.h"
#include "net_test_support.h"
#include "wait_until.h"

namespace chtlink::net {
namespace {

using chtlink::testing::waitUntil;
using ::testing::HasSubstr;
using testing::RawConnection;
using testing::RawResponse;
using testing::ServerHarness;
using ::testing::StartsWith;
using namespace std::chrono_literals;

Handler text(std::string body) {
  return [body](Request, Reply reply) {
    Response r;
    r.headers.set("Content-Type", "text/plain");
    r.body = body;
    reply(std::move(r));
  };
}

// Parses a JSON error body; empty object when it is not JSON.
Json errorBody(const RawResponse& r) {
  auto j = parseJson(r.body);
  return j ? *j : Json::object();
}

std::string get(std::string_view path, std::string_view extra = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: x\r\n{}\r\n", path, extra);
}

// Slow handlers keep their Reply here; the test answers them from its own thread.
struct Parked {
  std::mutex mu;
  std::vector<Reply> replies;
  std::atomic<int> count{0};
  void park(Reply r) {
    std::lock_guard lock(mu);
    replies.push_back(std::move(r));
    ++count;
  }
  void answerAll(int status) {
    std::vector<Reply> all;
    {
      std::lock_guard lock(mu);
      all.swap(replies);
    }
    for (auto& r : all) r(Response::error(status, "late", "late answer"));
  }
};

Router testRouter(Parked* parked = nullptr) {
  Router r;
  r.add("GET", "/hello", text("hello"));
  r.add("POST", "/echo", [](Request req, Reply reply) {
    Response out;
    out.body = std::move(req.body);
    reply(std::move(out));
  });
  r.add("GET", "/items/{id}", [](Request req, Reply reply) {
    reply(Response::json(200, Json{{"id", req.param("id")}, {"query", req.query}}));
  });
  r.add("GET", "/throw", [](Request, Reply) { throw std::runtime_error("database exploded"); });
  r.add("GET", "/drop", [](Request, Reply) {});
  r.add("GET", "/info", [](Request req, Reply reply) {
    reply(Response::json(200, Json{{"id", req.request_id},
                                   {"remote", req.remote_address},
                                   {"path", req.path},
                                   {"target", req.target}}));
  });
  if (parked) {
    r.add("GET", "/park", [parked](Request, Reply reply) { parked->park(std::move(reply)); });
  }
  return r;
}

TEST(ServerTest, KeepAliveAnswersTwoRequestsOnOneSocket) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(get("/hello")));
  auto first = c.readResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "hello");
  ASSERT_TRUE(c.send(get("/items/7?x=1")));
  auto second = c.readResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(errorBody(*second), (Json{{"id", "7"}, {"query", "x=1"}}));
  EXPECT_EQ(h.server().acceptedConnections(), 1u);
  EXPECT_EQ(h.server().openConnections(), 1u);
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/items/1") + get("/items/2") + get("/hello")));
  auto a = c.readResponse();
  auto b = c.readResponse();
  auto d = c.readResponse();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(errorBody(*a)["id"], "1");
  EXPECT_EQ(errorBody(*b)["id"], "2");
  EXPECT_EQ(d->body, "hello");
}

TEST(ServerTest, PostBodyArrivesWhole) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  std::string body(100'000, 'x');
  ASSERT_TRUE(c.send(fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                                 body.size(), body)));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, body);
}

TEST(ServerTest, ChunkedBodyIsDecoded) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "abcde");
}

TEST(ServerTest, ExpectContinueGets100ThenTheAnswer) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto cont = c.readResponse();
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.send("ping"));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ping");
}

TEST(ServerTest, HeadGetsLengthButNoBody) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n" + get("/hello")));
  std::string raw;
  // The HEAD answer carries Content-Length 5 but no body: the next bytes are the GET answer.
  auto head = c.readResponse();  // reads 5 bytes of "body" from the next answer if wrong
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "5");
  EXPECT_THAT(head->body, StartsWith("HTTP/"));  // proves no body bytes followed
}

TEST(ServerTest, UnknownPathGets404AndWrongMethod405WithJson) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/missing")));
  auto nf = c.readResponse();
  ASSERT_TRUE(nf.has_value());
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(nf->header("content-type"), "application/json");
  EXPECT_EQ(errorBody(*nf)["error"], "not_found");

  ASSERT_TRUE(c.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto na = c.readResponse();
  ASSERT_TRUE(na.has_value());
  EXPECT_EQ(na->status, 405);
  EXPECT_EQ(na->header("allow"), "GET, HEAD");
  EXPECT_EQ(errorBody(*na)["error"], "method_not_allowed");
}

TEST(ServerTest, BigContentLengthGets413WithoutSendingTheBody) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.max_body_bytes = 1000;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(errorBody(*r)["error"], "body_too_large");
  EXPECT_THAT(errorBody(*r)["message"].get<std::string>(), HasSubstr("1000"));
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.waitClosed());
}

TEST(ServerTest, ChunkedBodyOverLimitGets413) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.max_body_bytes = 10;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "10\r\n0123456789abcdef\r\n0\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
}

TEST(ServerTest, HugeHeadersGet431WithJson) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.max_header_bytes = 1024;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/hello", "X-Big: " + std::string(4000, 'a') + "\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(errorBody(*r)["error"], "headers_too_large");
  EXPECT_TRUE(c.waitClosed());
}

TEST(ServerTest, GarbageGets400JsonAndClose) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  const char* garbage[] = {
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
      "GET /hello HTTP/9.9\r\n\r\n",
      "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "GET /hel lo HTTP/1.1\r\n\r\n",
  };
  for (const char* g : garbage) {
    RawConnection c(h.port());
    ASSERT_TRUE(c.send(g));
    auto r = c.readResponse();
    ASSERT_TRUE(r.has_value()) << g;
    EXPECT_EQ(r->status, 400) << g;
    EXPECT_EQ(errorBody(*r)["error"], "bad_request") << g;
    EXPECT_TRUE(c.waitClosed()) << g;
  }
  // The server still serves.
  RawConnection ok(h.port());
  ASSERT_TRUE(ok.send(get("/hello")));
  auto r = ok.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(ServerTest, HandlerThatThrowsGets500NamingTheError) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/throw")));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(errorBody(*r)["error"], "handler_failed");
  EXPECT_THAT(errorBody(*r)["message"].get<std::string>(), HasSubstr("database exploded"));
  // The connection survives.
  ASSERT_TRUE(c.send(get("/hello")));
  auto next = c.readResponse();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
}

TEST(ServerTest, HandlerThatDropsReplyGets500) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/drop")));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(errorBody(*r)["error"], "handler_no_answer");
}

TEST(ServerTest, SlowHandlerGets503AndLateAnswerIsIgnored) {
  Parked parked;
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.request_timeout = 150ms;
  ASSERT_TRUE(h.start(testRouter(&parked), o)) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/park")));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(errorBody(*r)["error"], "request_timeout");
  parked.answerAll(200);  // too late: dropped
  ASSERT_TRUE(c.send(get("/hello")));
  auto next = c.readResponse();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "hello");
}

TEST(ServerTest, ReplyFromAnotherThreadIsSent) {
  Parked parked;
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(&parked), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/park")));
  ASSERT_TRUE(waitUntil([&] { return parked.count.load() == 1; }));
  std::thread([&] { parked.answerAll(202); }).join();
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 202);
}

TEST(ServerTest, SlowClientGets408AndIsClosedWithinReadTimeout) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.read_timeout = 200ms;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection c(h.port());
  auto begin = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Half"));
  auto r = c.readResponse(3s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(errorBody(*r)["error"], "read_timeout");
  EXPECT_TRUE(c.waitClosed(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
}

TEST(ServerTest, IdleKeepAliveConnectionIsClosedQuietly) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.idle_timeout = 150ms;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/hello")));
  ASSERT_TRUE(c.readResponse().has_value());
  std::string leftover;
  EXPECT_TRUE(c.waitClosed(3s, &leftover));
  EXPECT_EQ(leftover, "");  // no 408 for a connection that was merely idle
  EXPECT_TRUE(waitUntil([&] { return h.server().openConnections() == 0; }));
}

TEST(ServerTest, RequestIdIsEchoedWhenValidAndGeneratedOtherwise) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());

  ASSERT_TRUE(c.send(get("/info", "X-Request-Id: abc-123\r\n")));
  auto given = c.readResponse();
  ASSERT_TRUE(given.has_value());
  EXPECT_EQ(given->header("x-request-id"), "abc-123");
  EXPECT_EQ(errorBody(*given)["id"], "abc-123");
  EXPECT_EQ(errorBody(*given)["remote"], "127.0.0.1");

  ASSERT_TRUE(c.send(get("/info")));
  auto generated = c.readResponse();
  ASSERT_TRUE(generated.has_value());
  std::string id = generated->header("x-request-id");
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(errorBody(*generated)["id"], id);

  ASSERT_TRUE(c.send(get("/info", "X-Request-Id: " + std::string(200, 'z') + "\r\n")));
  auto too_long = c.readResponse();
  ASSERT_TRUE(too_long.has_value());
  EXPECT_EQ(too_long->header("x-request-id").size(), 36u);
  EXPECT_NE(too_long->header("x-request-id"), id);

  ASSERT_TRUE(c.send(get("/missing", "X-Request-Id: on-404\r\n")));
  auto refused = c.readResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->header("x-request-id"), "on-404");
}

TEST(ServerTest, AbsoluteFormTargetIsRoutedByPath) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("http://example.org/info?a=1")));
  auto r = c.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(errorBody(*r)["path"], "/info");
  EXPECT_EQ(errorBody(*r)["target"], "http://example.org/info?a=1");
}

TEST(ServerTest, AccessLogAndObserverSeeEveryRequest) {
  ServerHarness h;
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, int, size_t>> seen;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions(), [&](const RequestRecord& r) {
    std::lock_guard lock(mu);
    seen.emplace_back(r.method, r.route, r.status, r.response_bytes);
  })) << h.error;
  RawConnection c(h.port());
  ASSERT_TRUE(c.send(get("/items/9", "X-Request-Id: log-me\r\n")));
  ASSERT_TRUE(c.readResponse().has_value());
  ASSERT_TRUE(c.send(get("/missing")));
  ASSERT_TRUE(c.readResponse().has_value());
  ASSERT_TRUE(waitUntil([&] {
    std::lock_guard lock(mu);
    return seen.size() == 2;
  }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(std::get<0>(seen[0]), "GET");
    EXPECT_EQ(std::get<1>(seen[0]), "/items/{id}");
    EXPECT_EQ(std::get<2>(seen[0]), 200);
    EXPECT_GT(std::get<3>(seen[0]), 0u);
    EXPECT_EQ(std::get<1>(seen[1]), "unmatched");
    EXPECT_EQ(std::get<2>(seen[1]), 404);
  }
  std::vector<std::string> access;
  for (const auto& line : h.logLines()) {
    if (line.find("\"GET /items/9\"") != std::string::npos) access.push_back(line);
  }
  ASSERT_EQ(access.size(), 1u);
  EXPECT_THAT(access[0], HasSubstr(" 200 "));
  EXPECT_THAT(access[0], HasSubstr("ms"));
  EXPECT_THAT(access[0], HasSubstr("log-me"));
  bool listening = false;
  for (const auto& line : h.logLines()) {
    if (line == fmt::format("test listening on http://127.0.0.1:{}", h.port())) listening = true;
  }
  EXPECT_TRUE(listening);
}

TEST(ServerTest, PortInUseNamesPortAndSetting) {
  ServerHarness first;
  ASSERT_TRUE(first.start(testRouter(), ServerHarness::fastOptions())) << first.error;
  auto o = ServerHarness::fastOptions();
  o.name = "router";
  o.port = first.port();
  o.port_setting = "him.router_port";
  EventLoop loop(1);
  Server server(loop, o, testRouter(), nullptr);
  auto r = server.listen();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_EQ(r.error().reason, "port_in_use");
  EXPECT_EQ(r.error().message,
            fmt::format("router cannot listen on 127.0.0.1:{}: address already in use (change it "
                        "with --set him.router_port=...)",
                        first.port()));
}

TEST(ServerTest, BadTlsFilesAreNamed) {
  chtlink::testing::TempDir dir;
  auto cert = testing::makeSelfSignedCertificate(dir, "IP:127.0.0.1");
  auto other = testing::makeSelfSignedCertificate(dir, "IP:127.0.0.1", "other");
  {
    std::ofstream junk(dir.file("junk.pem"));
    junk << "not a certificate\n";
  }
  struct Case {
    std::string cert, key, expect;
  };
  const Case cases[] = {
      {dir.file("missing.pem"), cert.private_key_file, dir.file("missing.pem")},
      {dir.file("junk.pem"), cert.private_key_file, dir.file("junk.pem")},
      {cert.certificate_file, dir.file("junk.pem"), dir.file("junk.pem")},
      {cert.certificate_file, other.private_key_file, other.private_key_file},
  };
  for (const auto& c : cases) {
    EventLoop loop(1);
    auto o = ServerHarness::fastOptions();
    o.tls = TlsFiles{c.cert, c.key};
    Server server(loop, o, testRouter(), nullptr);
    auto r = server.listen();
    ASSERT_FALSE(r.has_value()) << c.cert << " " << c.key;
    EXPECT_THAT(r.error().message, HasSubstr(c.expect));
    EXPECT_THAT(r.error().message, HasSubstr("test TLS"));
  }
}

TEST(ServerTest, ConnectionsBeyondTheLimitGet503) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.max_connections = 1;
  ASSERT_TRUE(h.start(testRouter(), o)) << h.error;
  RawConnection first(h.port());
  ASSERT_TRUE(first.send(get("/hello")));
  ASSERT_TRUE(first.readResponse().has_value());
  ASSERT_EQ(h.server().openConnections(), 1u);

  RawConnection second(h.port());
  auto r = second.readResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(errorBody(*r)["error"], "too_many_connections");
  EXPECT_TRUE(second.waitClosed());

  // The first connection is unaffected.
  ASSERT_TRUE(first.send(get("/hello")));
  auto again = first.readResponse();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
}

TEST(ServerTest, ShutdownLetsInFlightRequestFinishAndRefusesNewConnections) {
  Parked parked;
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(&parked), ServerHarness::fastOptions())) << h.error;
  RawConnection idle(h.port());
  ASSERT_TRUE(idle.send(get("/hello")));
  ASSERT_TRUE(idle.readResponse().has_value());

  RawConnection busy(h.port());
  ASSERT_TRUE(busy.send(get("/park")));
  ASSERT_TRUE(waitUntil([&] { return parked.count.load() == 1; }));

  std::atomic<bool> done{false};
  h.server().shutdown(5s, [&] { done = true; });

  EXPECT_TRUE(idle.waitClosed(2s));  // idle keep-alive connections close at once
  EXPECT_TRUE(waitUntil([&] { return !RawConnection(h.port()).connected(); }, 2s));
  EXPECT_FALSE(done.load());

  // The handler answers ~300 ms later from its own thread; the answer still goes out.
  std::thread worker([&] {
    std::this_thread::sleep_for(300ms);  // simulates slow work, not a wait for an event
    parked.answerAll(200);
  });
  auto r = busy.readResponse(3s);
  worker.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.waitClosed(2s));
  busy.close();
  EXPECT_TRUE(waitUntil([&] { return done.load(); }, 1s));
  EXPECT_EQ(h.server().openConnections(), 0u);
}

TEST(ServerTest, ShutdownForceClosesWhatOutlivesTheDrain) {
  Parked parked;
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(&parked), ServerHarness::fastOptions())) << h.error;
  RawConnection busy(h.port());
  ASSERT_TRUE(busy.send(get("/park")));
  ASSERT_TRUE(waitUntil([&] { return parked.count.load() == 1; }));
  std::atomic<bool> done{false};
  auto begin = std::chrono::steady_clock::now();
  h.server().shutdown(100ms, [&] { done = true; });
  EXPECT_TRUE(busy.waitClosed(2s));
  EXPECT_TRUE(waitUntil([&] { return done.load(); }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
  parked.answerAll(200);  // the connection is gone; nothing happens
}

// Draining that begins while a keep-alive answer is still being written: the answer goes out
// whole, then the connection closes at once instead of idling until the drain period ends.
TEST(ServerTest, ShutdownDuringAKeepAliveWriteClosesAfterIt) {
  std::atomic<bool> answered{false};
  Router r;
  // Bigger than the socket buffers: the write stays in progress until the client reads.
  r.add("GET", "/big", [&answered](Request, Reply reply) {
    Response out;
    out.body.assign(32 * 1024 * 1024, 'x');
    reply(std::move(out));
    answered = true;
  });
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.idle_timeout = 30s;  // only the drain may close the connection within the test's bounds
  o.write_timeout = 30s;
  ASSERT_TRUE(h.start(std::move(r), o)) << h.error;
  RawConnection conn(h.port());
  ASSERT_TRUE(conn.send(get("/big")));
  ASSERT_TRUE(waitUntil([&] { return answered.load(); }));
  std::atomic<bool> done{false};
  auto begin = std::chrono::steady_clock::now();
  h.server().shutdown(30s, [&] { done = true; });
  auto response = conn.readResponse(10s);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body.size(), 32u * 1024 * 1024);
  // Well under the 30 s drain period (the close lingers a little for unread client bytes).
  EXPECT_TRUE(conn.waitClosed(8s));
  EXPECT_TRUE(waitUntil([&] { return done.load(); }, 8s));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 15s);
}

TEST(ServerTest, ShutdownWithNoConnectionsCallsDoneAtOnce) {
  ServerHarness h;
  ASSERT_TRUE(h.start(testRouter(), ServerHarness::fastOptions())) << h.error;
  std::atomic<int> done{0};
  h.server().shutdown(5s, [&] { ++done; });
  EXPECT_TRUE(waitUntil([&] { return done.load() == 1; }, 2s));
  h.server().shutdown(5s, [&] { ++done; });  // a second call also completes
  EXPECT_TRUE(waitUntil([&] { return done.load() == 2; }, 2s));
}

}  // namespace
}  // namespace chtlink::net
