// The job handler for kind "http": deliver one HTTP request described by the job payload.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/client.h"
#include "queue/queue.h"

namespace chtlink::queue {

inline constexpr std::string_view kHttpJobKind = "http";

// Payload of an "http" job.
struct HttpJob {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
// JSON: {"method": "POST", "url": "...", "headers": [["Name", "value"], ...], "body": "..."}.
// The body is carried as a JSON string, so it must be UTF-8 text (JSON, FHIR, form data).
std::string encodeHttpJob(const HttpJob& job);
// Parses a payload written by encodeHttpJob; "headers" may also be an object of strings.
// InvalidArgument says what is wrong with it.
Result<HttpJob> decodeHttpJob(std::string_view payload);

// 2xx delivers; 408, 429, 5xx and network errors retry; other 4xx dead-letter at once with
// the status and the start of the answer as the error. Every request carries
// `X-Chtlink-Job-Id: <id>` so receivers can deduplicate a redelivery.
std::shared_ptr<JobHandler> makeHttpDeliveryHandler(net::HttpClient& client);

}  // namespace chtlink::queue
