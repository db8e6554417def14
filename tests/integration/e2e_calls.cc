#include "e2e_calls.h"

#include <gtest/gtest.h>

namespace chtlink::testing {

Result<net::ClientResponse> E2eCalls::call(const std::string& method, const std::string& url,
                                           const std::optional<Json>& body,
                                           const net::BasicAuth& auth) {
  net::ClientRequest request;
  request.method = method;
  request.url = url;
  request.auth = auth;
  request.timeout = std::chrono::seconds(20);
  if (body) {
    request.body = dumpJson(*body);
    request.headers.set("Content-Type", "application/json");
  }
  return client_->send(std::move(request));
}

int E2eCalls::status(const std::string& method, const std::string& url,
                     const std::optional<Json>& body, const net::BasicAuth& auth) {
  auto r = call(method, url, body, auth);
  return r.has_value() ? r->status : -1;
}

Json E2eCalls::json(const std::string& method, const std::string& url,
                    const std::optional<Json>& body, int expected_status,
                    const net::BasicAuth& auth) {
  auto r = call(method, url, body, auth);
  EXPECT_TRUE(r.has_value()) << method << " " << url;
  if (!r.has_value()) return Json();
  EXPECT_EQ(r->status, expected_status) << method << " " << url << ": " << r->body;
  auto parsed = parseJson(r->body);
  return parsed.has_value() ? *parsed : Json();
}

int64_t E2eCalls::total(const std::string& search_url) {
  auto r = call("GET", search_url, std::nullopt);
  if (!r.has_value() || r->status != 200) return -1;
  auto parsed = parseJson(r->body);
  if (!parsed.has_value() || !(*parsed)["total"].is_number_integer()) return -1;
  return (*parsed)["total"].get<int64_t>();
}

}  // namespace chtlink::testing
