#include "cht/outbound/request.h"

#include <openssl/evp.h>

#include <cctype>

#include "base/json.h"

namespace chtlink::cht::outbound {
namespace {

Result<std::string> credential(CredentialStore& credentials, const std::string& key) {
  CHTLINK_ASSIGN_OR_RETURN(auto secret, credentials.get(key));
  if (!secret || secret->empty()) {
    return failedPrecondition(
        "Credentials for '" + key + "' have not been configured. See the Outbound documentation.",
        "outbound_credentials");
  }
  return *secret;
}

std::string excerpt(const std::string& body) {
  return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}

}  // namespace

std::string basicAuthorization(std::string_view username, std::string_view password) {
  std::string plain = std::string(username) + ":" + std::string(password);
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(written));
  return "Basic " + encoded;
}

std::string formEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

Result<PushRequest> buildPushRequest(const PushConfig& config, const Payload& payload,
                                     CredentialStore& credentials) {
  if (config.problem) return *config.problem;
  PushRequest request;
  request.url = joinUrl(config.base_url, config.path);
  request.body = payload.body;
  request.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
  const auto& auth = config.auth;
  switch (auth.type) {
    case AuthType::None:
      break;
    case AuthType::Basic: {
      CHTLINK_ASSIGN_OR_RETURN(std::string password, credential(credentials, auth.password_key));
      request.headers.emplace_back("authorization", basicAuthorization(auth.username, password));
      break;
    }
    case AuthType::Header: {
      CHTLINK_ASSIGN_OR_RETURN(std::string value, credential(credentials, auth.value_key));
      request.headers.emplace_back("authorization", value);
      break;
    }
    case AuthType::MusoSih: {
      CHTLINK_ASSIGN_OR_RETURN(std::string password, credential(credentials, auth.password_key));
      request.login =
          MusoLogin{joinUrl(config.base_url, auth.login_path),
                    "login=" + formEncode(auth.username) + "&password=" + formEncode(password)};
      break;
    }
  }
  return request;
}

Status sendPush(net::HttpClient& client, const PushRequest& request,
                std::chrono::milliseconds timeout) {
  std::string url = request.url;
  if (request.login) {
    net::ClientRequest login;
    login.method = "POST";
    login.url = request.login->url;
    login.headers.set("content-type", "application/x-www-form-urlencoded");
    login.headers.set("accept", "application/json");
    login.body = request.login->form_body;
    login.timeout = timeout;
    CHTLINK_ASSIGN_OR_RETURN(auto answer, client.sendSync(std::move(login)));
    auto parsed = parseJson(answer.body);
    if (!parsed || !parsed->is_object() || !parsed->contains("statut")) {
      return unavailable("muso-sih login at " + request.login->url + " answered " +
                             std::to_string(answer.status) +
                             " without a JSON statut: " + excerpt(answer.body),
                         "outbound_auth");
    }
    const auto& statut = (*parsed)["statut"];
    if (!statut.is_number() || statut.get<double>() != 200) {
      return unavailable("Got " + statut.dump() + " when requesting auth", "outbound_auth");
    }
    const auto token = parsed->value(Json::json_pointer("/data/username_token"), Json());
    if (!token.is_string()) {
      return unavailable("muso-sih login answered without data.username_token", "outbound_auth");
    }
    url += (url.find('?') == std::string::npos ? "?" : "&");
    url += "token=" + formEncode(token.get<std::string>());
  }
  net::ClientRequest push;
  push.method = "POST";
  push.url = url;
  for (const auto& [name, value] : request.headers) push.headers.set(name, value);
  push.body = request.body;
  push.timeout = timeout;
  CHTLINK_ASSIGN_OR_RETURN(auto answer, client.sendSync(std::move(push)));
  if (answer.status < 200 || answer.status >= 300) {
    return unavailable("outbound push to " + request.url + " answered " +
                           std::to_string(answer.status) + ": " + excerpt(answer.body),
                       "outbound_status");
  }
  return ok();
}

}  // namespace chtlink::cht::outbound
