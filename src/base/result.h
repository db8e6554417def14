// Result<T>: a value or an Error.
//
// Why not std::expected: g++ 12 in C++20 mode does not have it, and Boost.Outcome's template
// diagnostics cost more than these sixty lines. The member names follow std::expected
// (has_value, value, error) so the switch later is mechanical.
#pragma once

#include <cassert>
#include <optional>
#include <utility>
#include <variant>

#include "base/error.h"

namespace chtlink {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void value() const { assert(has_value()); }
  const Error& error() const& {
    assert(!has_value());
    return *error_;
  }
  Error&& error() && {
    assert(!has_value());
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok() { return {}; }

}  // namespace chtlink

#define CHTLINK_CONCAT_INNER(a, b) a##b
#define CHTLINK_CONCAT(a, b) CHTLINK_CONCAT_INNER(a, b)

// CHTLINK_TRY(expr): returns the error of `expr` (a Result) from the enclosing function.
#define CHTLINK_TRY(expr)                                                              \
  do {                                                                                 \
    auto&& chtlink_try_result = (expr);                                                \
    if (!chtlink_try_result.has_value()) return std::move(chtlink_try_result).error(); \
  } while (false)

// CHTLINK_ASSIGN_OR_RETURN(decl, expr): `decl = value of expr`, or return its error.
#define CHTLINK_ASSIGN_OR_RETURN(decl, expr) \
  CHTLINK_ASSIGN_OR_RETURN_IMPL(CHTLINK_CONCAT(chtlink_result_, __LINE__), decl, expr)
#define CHTLINK_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
