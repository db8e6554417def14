// The HTTP request of an outbound push (cht.md 3.3) and its three auth types.
//
// POST <url-join(base_url, path)> with the payload as body and
// content-type/accept application/json; basic auth sends `authorization: Basic ...`, header
// auth sends the stored value verbatim as `authorization`, muso-sih first logs in (a form POST
// to base_url + auth.path answering {"statut":200,"data":{"username_token":T}}) and adds
// ?token=T. Success is a 2xx answer; the answer body is ignored.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cht/outbound/config.h"
#include "cht/outbound/mapper.h"
#include "net/client.h"

namespace chtlink::cht::outbound {

inline constexpr std::chrono::milliseconds kPushTimeout{10'000};

// Where outbound credentials come from (CHT: medic-vault, PUT /api/v1/credentials/{key}).
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // The secret stored under `key`, nullopt if none; an error only if the store failed.
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
};

struct MusoLogin {
  std::string url;
  std::string form_body;  // login=<username>&password=<password>, form-encoded
};

struct PushRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<MusoLogin> login;  // muso-sih: sent first, its token appended to `url`
};

// The request for `payload` under `config`. Errors (FailedPrecondition) for a missing
// credential use CHT's text: "Credentials for '<key>' have not been configured...".
Result<PushRequest> buildPushRequest(const PushConfig& config, const Payload& payload,
                                     CredentialStore& credentials);

// Sends `request` (muso-sih login first). Blocks: call it off the I/O threads. A non-2xx
// answer is Unavailable with the status and the start of the answer in the message.
Status sendPush(net::HttpClient& client, const PushRequest& request,
                std::chrono::milliseconds timeout = kPushTimeout);

// "Basic " + base64(user:password).
std::string basicAuthorization(std::string_view username, std::string_view password);

// application/x-www-form-urlencoded escaping of one value.
std::string formEncode(std::string_view value);

}  // namespace chtlink::cht::outbound
