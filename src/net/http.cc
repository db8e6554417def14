#include "net/http.h"

#include <atomic>

namespace chtlink::net {

namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

}  // namespace

// Headers ------------------------------------------------------------------------------------

std::string_view Headers::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (equalsIgnoreCase(n, name)) return v;
  }
  return {};
}

bool Headers::has(std::string_view name) const {
  for (const auto& field : fields_) {
    if (equalsIgnoreCase(field.first, name)) return true;
  }
  return false;
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& field) { return equalsIgnoreCase(field.first, name); });
}

// Request / Response -------------------------------------------------------------------------

std::string_view Request::param(std::string_view name) const {
  for (const auto& p : params) {
    if (p.name == name) return p.value;
  }
  return {};
}

Response Response::json(int status, const Json& body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = dumpJson(body);
  return r;
}

Response Response::error(int status, std::string_view reason, std::string_view message) {
  Json body = Json::object();
  body["error"] = std::string(reason);
  body["message"] = std::string(message);
  return json(status, body);
}

std::string_view statusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// Reply --------------------------------------------------------------------------------------

struct Reply::State {
  explicit State(Sink s) : sink(std::move(s)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  ~State() {
    if (answered.exchange(true) || !sink) return;
    // A destructor must not throw; building the answer can only fail on memory exhaustion,
    // and then the server's request timeout still answers the client.
    try {
      sink(Response::error(500, "handler_no_answer",
                           "the handler finished without answering the request"));
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
  }

  Sink sink;
  std::atomic<bool> answered{false};
};

Reply::Reply(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}

void Reply::operator()(Response response) const {
  if (state_->answered.exchange(true) || !state_->sink) return;
  state_->sink(std::move(response));
}

}  // namespace chtlink::net
