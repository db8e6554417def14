// HTTP message value types shared by the server, the router and the client.
//
// Beast's types stay inside src/net's .cc files; the rest of chtlink sees only these.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"

namespace chtlink::net {

// Ordered header list; lookups are case-insensitive as HTTP requires.
class Headers {
 public:
  // First value of `name`, or empty view when absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  // Replaces every value of `name` with one value.
  void set(std::string_view name, std::string_view value);
  void add(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// A path parameter captured by the router ("/fhir/{type}/{id}" -> type, id).
struct PathParam {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;  // upper case, as received ("GET")
  std::string target;  // as received: path and query ("/fhir/Patient?name=x")
  std::string path;    // target up to '?', not percent-decoded
  std::string query;   // after '?', without it; empty when absent
  Headers headers;
  std::string body;
  std::string request_id;  // X-Request-Id as received, or generated
  std::string remote_address;
  std::vector<PathParam> params;  // filled by the router

  // Value of path parameter `name`, or empty view.
  std::string_view param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  // `body` serialised, Content-Type application/json.
  static Response json(int status, const Json& body);
  // The JSON error body every chtlink endpoint outside /fhir and /mediator uses:
  // {"error": reason, "message": message}.
  static Response error(int status, std::string_view reason, std::string_view message);
};

// Standard reason phrase ("Not Found") for a status code.
std::string_view statusText(int status);

// Percent-decodes `s` ('+' is left alone; see decodeQueryComponent).
std::string percentDecode(std::string_view s);
// Decodes one application/x-www-form-urlencoded component ('+' means space).
std::string decodeQueryComponent(std::string_view s);
// Splits "a=1&b=2" into decoded (name, value) pairs, in order.
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);

// Answers a request exactly once, from any thread. Copies share one answer: the first call
// wins and later calls are ignored. When every copy is destroyed without an answer, the
// client gets a 500 with a JSON body saying the handler did not answer, never a hung socket.
class Reply {
 public:
  using Sink = std::function<void(Response)>;
  explicit Reply(Sink sink);
  void operator()(Response response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A handler gets the request (moved in) and answers through `reply`, now or later from
// another thread (database work runs on the store's pool and replies from there).
// A handler that throws gets a 500 with a JSON body naming the error.
using Handler = std::function<void(Request request, Reply reply)>;

}  // namespace chtlink::net
