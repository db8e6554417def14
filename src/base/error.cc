#include "base/error.h"

#include <utility>

namespace chtlink {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidArgument:
      return "InvalidArgument";
    case ErrorCode::NotFound:
      return "NotFound";
    case ErrorCode::AlreadyExists:
      return "AlreadyExists";
    case ErrorCode::Conflict:
      return "Conflict";
    case ErrorCode::FailedPrecondition:
      return "FailedPrecondition";
    case ErrorCode::Unauthenticated:
      return "Unauthenticated";
    case ErrorCode::PermissionDenied:
      return "PermissionDenied";
    case ErrorCode::TooLarge:
      return "TooLarge";
    case ErrorCode::Unavailable:
      return "Unavailable";
    case ErrorCode::DeadlineExceeded:
      return "DeadlineExceeded";
    case ErrorCode::Internal:
      return "Internal";
  }
  return "Internal";
}

Error Error::withContext(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

Error invalidArgument(std::string m, std::string r) {
  return {ErrorCode::InvalidArgument, std::move(m), std::move(r)};
}
Error notFound(std::string m, std::string r) {
  return {ErrorCode::NotFound, std::move(m), std::move(r)};
}
Error alreadyExists(std::string m, std::string r) {
  return {ErrorCode::AlreadyExists, std::move(m), std::move(r)};
}
Error conflict(std::string m, std::string r) {
  return {ErrorCode::Conflict, std::move(m), std::move(r)};
}
Error failedPrecondition(std::string m, std::string r) {
  return {ErrorCode::FailedPrecondition, std::move(m), std::move(r)};
}
Error unauthenticated(std::string m, std::string r) {
  return {ErrorCode::Unauthenticated, std::move(m), std::move(r)};
}
Error permissionDenied(std::string m, std::string r) {
  return {ErrorCode::PermissionDenied, std::move(m), std::move(r)};
}
Error tooLarge(std::string m, std::string r) {
  return {ErrorCode::TooLarge, std::move(m), std::move(r)};
}
Error unavailable(std::string m, std::string r) {
  return {ErrorCode::Unavailable, std::move(m), std::move(r)};
}
Error deadlineExceeded(std::string m, std::string r) {
  return {ErrorCode::DeadlineExceeded, std::move(m), std::move(r)};
}
Error internalError(std::string m, std::string r) {
  return {ErrorCode::Internal, std::move(m), std::move(r)};
}

}  // namespace chtlink
