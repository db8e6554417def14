// The one error type that crosses module boundaries.
//
// Every fallible call returns Result<T> (result.h) holding either a value or an Error. The
// message is written for the person who must act on it ("store.path: cannot open
// /var/lib/chtlink/db.sqlite: permission denied"); `reason` is a short stable token
// (`body_too_large`) for logs, metrics and the transaction log.
#pragma once

#include <string>
#include <string_view>

namespace chtlink {

enum class ErrorCode {
  InvalidArgument,
  NotFound,
  AlreadyExists,
  Conflict,
  FailedPrecondition,
  Unauthenticated,
  PermissionDenied,
  TooLarge,
  Unavailable,
  DeadlineExceeded,
  Internal,
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  std::string reason;

  // Returns a copy whose message is prefixed with `context` ("reading config: " + message).
  [[nodiscard]] Error withContext(std::string_view context) const;
};

Error invalidArgument(std::string message, std::string reason = "invalid_argument");
Error notFound(std::string message, std::string reason = "not_found");
Error alreadyExists(std::string message, std::string reason = "already_exists");
Error conflict(std::string message, std::string reason = "conflict");
Error failedPrecondition(std::string message, std::string reason = "failed_precondition");
Error unauthenticated(std::string message, std::string reason = "unauthenticated");
Error permissionDenied(std::string message, std::string reason = "permission_denied");
Error tooLarge(std::string message, std::string reason = "too_large");
Error unavailable(std::string message, std::string reason = "unavailable");
Error deadlineExceeded(std::string message, std::string reason = "deadline_exceeded");
Error internalError(std::string message, std::string reason = "internal");

}  // namespace chtlink
