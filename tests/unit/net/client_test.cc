// First include: checks that the header is self-contained.
#include "net/client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>

#include "net_test_support.h"
#include "wait_until.h"

namespace chtlink::net {
namespace {

using chtlink::testing::TempDir;
using chtlink::testing::waitUntil;
using ::testing::HasSubstr;
using testing::ServerHarness;
using namespace std::chrono_literals;

// A port on 127.0.0.1 with nobody listening: bound, then released.
uint16_t unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

Router clientRouter(std::vector<Reply>* parked = nullptr, std::mutex* mu = nullptr) {
  Router r;
  r.add("GET", "/hello", [](Request, Reply reply) {
    Response out;
    out.body = "hello";
    reply(std::move(out));
  });
  r.add("*", "/echo", [](Request req, Reply reply) {
    Json headers = Json::object();
    for (const auto& [name, value] : req.headers.all()) headers[name] = value;
    reply(Response::json(200, Json{{"method", req.method},
                                   {"target", req.target},
                                   {"body", req.body},
                                   {"headers", headers}}));
  });
  r.add("GET", "/big", [](Request, Reply reply) {
    Response out;
    out.body = std::string(10'000, 'b');
    reply(std::move(out));
  });
  if (parked) {
    r.add("GET", "/park", [parked, mu](Request, Reply reply) {
      std::lock_guard lock(*mu);
      parked->push_back(std::move(reply));
    });
  }
  return r;
}

ClientRequest getRequest(std::string url) {
  ClientRequest r;
  r.url = std::move(url);
  return r;
}

TEST(ClientTest, GetAndPostRoundTrip) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  auto hello = client->sendSync(getRequest(h.url("/hello")));
  ASSERT_TRUE(hello.has_value()) << hello.error().message;
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hello");
  EXPECT_FALSE(hello->headers.get("X-Request-Id").empty());

  ClientRequest post = getRequest(h.url("/echo?x=1"));
  post.method = "POST";
  post.body = R"({"a":1})";
  post.headers.set("Content-Type", "application/json");
  post.headers.set("X-Custom", "yes");
  auto echoed = client->sendSync(post);
  ASSERT_TRUE(echoed.has_value()) << echoed.error().message;
  auto body = parseJson(echoed->body);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ((*body)["method"], "POST");
  EXPECT_EQ((*body)["target"], "/echo?x=1");
  EXPECT_EQ((*body)["body"], R"({"a":1})");
  EXPECT_EQ((*body)["headers"]["X-Custom"], "yes");
  EXPECT_EQ((*body)["headers"]["Host"], fmt::format("127.0.0.1:{}", h.port()));
}

TEST(ClientTest, PoolReusesOneConnection) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  for (int i = 0; i < 5; ++i) {
    auto r = client->sendSync(getRequest(h.url("/hello")));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(h.server().acceptedConnections(), 1u);
}

TEST(ClientTest, ConnectionClosedByServerIsReplacedTransparently) {
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.idle_timeout = 100ms;
  ASSERT_TRUE(h.start(clientRouter(), o)) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  ASSERT_TRUE(client->sendSync(getRequest(h.url("/hello"))).has_value());
  ASSERT_TRUE(waitUntil([&] { return h.server().openConnections() == 0; }, 3s));
  auto again = client->sendSync(getRequest(h.url("/hello")));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(h.server().acceptedConnections(), 2u);
}

TEST(ClientTest, ConcurrentRequestsAllComplete) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  ClientOptions co;
  co.max_idle_per_host = 4;
  auto client = makeBeastHttpClient(h.loop(), co);
  constexpr int kRequests = 40;
  std::atomic<int> ok{0}, finished{0};
  for (int i = 0; i < kRequests; ++i) {
    client->send(getRequest(h.url("/hello")), [&](Result<ClientResponse> r) {
      if (r && r->status == 200 && r->body == "hello") ++ok;
      ++finished;
    });
  }
  ASSERT_TRUE(waitUntil([&] { return finished.load() == kRequests; }));
  EXPECT_EQ(ok.load(), kRequests);
}

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";

TEST(ClientTest, RequestLostOnAReusedConnectionIsSentAgainOnce) {
  // Connection 0 answers once, then reads the next request and closes without answering
  // (the server dropped the keep-alive connection just as the client reused it).
  testing::RawServer server([](int fd, int index) {
    if (testing::RawServer::readHead(fd).empty()) return;
    testing::RawServer::writeAll(fd, kOk);
    if (index == 0) testing::RawServer::readHead(fd);
  });
  EventLoop loop(1);
  loop.start();
  auto client = makeBeastHttpClient(loop, {});
  auto url = fmt::format("http://127.0.0.1:{}/x", server.port());
  ASSERT_TRUE(client->sendSync(getRequest(url)).has_value());
  auto second = client->sendSync(getRequest(url));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->body, "ok");
  EXPECT_EQ(server.accepted(), 2);
}

TEST(ClientTest, RequestLostOnAFreshConnectionIsNotRetried) {
  testing::RawServer server([](int fd, int) { testing::RawServer::readHead(fd); });
  EventLoop loop(1);
  loop.start();
  auto client = makeBeastHttpClient(loop, {});
  auto r = client->sendSync(getRequest(fmt::format("http://127.0.0.1:{}/x", server.port())));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr(fmt::format("127.0.0.1:{}", server.port())));
  EXPECT_EQ(server.accepted(), 1);
}

TEST(ClientTest, SilentTlsServerHitsTheConnectTimeout) {
  // Accepts TCP but never answers the TLS handshake.
  testing::RawServer server([](int fd, int) { testing::RawServer::readHead(fd); });
  EventLoop loop(1);
  loop.start();
  ClientOptions co;
  co.connect_timeout = 150ms;
  auto client = makeBeastHttpClient(loop, co);
  auto begin = std::chrono::steady_clock::now();
  auto r = client->sendSync(getRequest(fmt::format("https://127.0.0.1:{}/x", server.port())));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::DeadlineExceeded);
  EXPECT_EQ(r.error().reason, "connect_timeout");
  EXPECT_THAT(r.error().message, HasSubstr("connecting to 127.0.0.1"));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
}

TEST(ClientTest, ConnectionRefusedIsUnavailableNamingHostAndPort) {
  EventLoop loop(1);
  loop.start();
  auto client = makeBeastHttpClient(loop, {});
  uint16_t port = unusedPort();
  auto r = client->sendSync(getRequest(fmt::format("http://127.0.0.1:{}/x", port)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr(fmt::format("127.0.0.1:{}", port)));
}

TEST(ClientTest, UnresolvableHostIsUnavailable) {
  EventLoop loop(1);
  loop.start();
  auto client = makeBeastHttpClient(loop, {});
  // .invalid never resolves (RFC 6761); the resolver answers without the network.
  auto r = client->sendSync(getRequest("http://nothing-here.invalid:81/"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("nothing-here.invalid"));
}

TEST(ClientTest, SlowServerIsDeadlineExceeded) {
  std::vector<Reply> parked;
  std::mutex mu;
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(&parked, &mu), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  ClientRequest req = getRequest(h.url("/park"));
  req.timeout = 150ms;
  auto begin = std::chrono::steady_clock::now();
  auto r = client->sendSync(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::DeadlineExceeded);
  EXPECT_THAT(r.error().message, HasSubstr("timed out after 150 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1500ms);
  // The client's default applies when the request has none.
  ClientOptions co;
  co.request_timeout = 100ms;
  auto quick = makeBeastHttpClient(h.loop(), co);
  auto r2 = quick->sendSync(getRequest(h.url("/park")));
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().code, ErrorCode::DeadlineExceeded);
  std::lock_guard lock(mu);
  parked.clear();
}

TEST(ClientTest, BasicAuthHeaderArrives) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  ClientRequest req = getRequest(h.url("/echo"));
  req.auth = BasicAuth{"interop-client", "interop-password"};
  auto r = client->sendSync(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  auto body = parseJson(r->body);
  ASSERT_TRUE(body.has_value());
  // base64("interop-client:interop-password")
  EXPECT_EQ((*body)["headers"]["Authorization"],
            "Basic aW50ZXJvcC1jbGllbnQ6aW50ZXJvcC1wYXNzd29yZA==");
}

TEST(ClientTest, AnswerOverTheLimitIsTooLarge) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  ClientOptions co;
  co.max_response_bytes = 1000;
  auto client = makeBeastHttpClient(h.loop(), co);
  auto r = client->sendSync(getRequest(h.url("/big")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::TooLarge);
  EXPECT_THAT(r.error().message, HasSubstr("1000"));
}

TEST(ClientTest, ErrorStatusIsAValue) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  auto r = client->sendSync(getRequest(h.url("/nothing")));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.get("content-type"), "application/json");
}

TEST(ClientTest, HeadAnswerHasNoBody) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  ClientRequest req = getRequest(h.url("/big"));
  req.method = "HEAD";
  auto r = client->sendSync(req);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.get("Content-Length"), "10000");
  EXPECT_EQ(r->body, "");
  auto after = client->sendSync(getRequest(h.url("/hello")));  // same connection still in sync
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "hello");
}

TEST(ClientTest, BadUrlAndBadHeaderAreInvalidArgument) {
  EventLoop loop(1);
  loop.start();
  auto client = makeBeastHttpClient(loop, {});
  auto r = client->sendSync(getRequest("gopher://x/"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("gopher://x/"));

  ClientRequest req = getRequest("http://127.0.0.1:1/");
  req.headers.set("X-Evil", "a\r\nInjected: yes");
  auto r2 = client->sendSync(req);
  ASSERT_FALSE(r2.has_value());
  EXPECT_EQ(r2.error().code, ErrorCode::InvalidArgument);
}

TEST(ClientTest, CallbackRunsOnAnIoThread) {
  ServerHarness h;
  ASSERT_TRUE(h.start(clientRouter(), ServerHarness::fastOptions())) << h.error;
  auto client = makeBeastHttpClient(h.loop(), {});
  std::promise<std::thread::id> where;
  client->send(getRequest(h.url("/hello")),
               [&](Result<ClientResponse>) { where.set_value(std::this_thread::get_id()); });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
}

// TLS -------------------------------------------------------------------------------------

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = testing::makeSelfSignedCertificate(dir_, "IP:127.0.0.1,DNS:localhost");
    auto o = ServerHarness::fastOptions();
    o.tls = TlsFiles{cert_.certificate_file, cert_.private_key_file};
    ASSERT_TRUE(h_.start(clientRouter(), o)) << h_.error;
  }

  TempDir dir_;
  testing::CertFiles cert_;
  ServerHarness h_;
};

TEST_F(TlsTest, VerificationFailsWithoutTheCa) {
  auto client = makeBeastHttpClient(h_.loop(), {});
  auto r = client->sendSync(getRequest(h_.url("/hello")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("certificate verification failed"));
  EXPECT_THAT(r.error().message, HasSubstr(fmt::format("127.0.0.1:{}", h_.port())));
}

TEST_F(TlsTest, SucceedsWithTheCaFile) {
  ClientOptions co;
  co.ca_file = cert_.certificate_file;
  auto client = makeBeastHttpClient(h_.loop(), co);
  for (int i = 0; i < 3; ++i) {
    auto r = client->sendSync(getRequest(h_.url("/hello")));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello");
  }
  EXPECT_EQ(h_.server().acceptedConnections(), 1u);  // pooled over TLS too
}

TEST_F(TlsTest, SucceedsWithVerificationOff) {
  ClientOptions co;
  co.verify_tls = false;
  auto client = makeBeastHttpClient(h_.loop(), co);
  auto r = client->sendSync(getRequest(h_.url("/hello")));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->body, "hello");
}

TEST_F(TlsTest, HostNameMismatchFails) {
  auto other = testing::makeSelfSignedCertificate(dir_, "DNS:elsewhere.example", "other");
  ServerHarness h;
  auto o = ServerHarness::fastOptions();
  o.tls = TlsFiles{other.certificate_file, other.private_key_file};
  ASSERT_TRUE(h.start(clientRouter(), o)) << h.error;
  ClientOptions co;
  co.ca_file = other.certificate_file;
  auto client = makeBeastHttpClient(h.loop(), co);
  auto r = client->sendSync(getRequest(h.url("/hello")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("certificate"));
}

TEST_F(TlsTest, PlainHttpToTlsPortGetsNoAnswer) {
  testing::RawConnection c(h_.port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string leftover;
  EXPECT_TRUE(c.waitClosed(3s, &leftover));
  EXPECT_EQ(leftover.find("200 OK"), std::string::npos);
}

TEST_F(TlsTest, MissingCaFileIsNamed) {
  ClientOptions co;
  co.ca_file = dir_.file("nope.pem");
  auto client = makeBeastHttpClient(h_.loop(), co);
  auto r = client->sendSync(getRequest(h_.url("/hello")));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr(dir_.file("nope.pem")));
}

}  // namespace
}  // namespace chtlink::net
