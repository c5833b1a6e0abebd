// The error of a refused request as the control API reports it
// (docs/control-api.md, "Envelope"): a code that maps to lbctl's exit code, a
// message that names the field and value, and the field when one is at
// fault. Plain data; any thread.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace sluice::cp {

enum class ErrorCode {
  kUsage,      // the request itself is malformed
  kInvalid,    // well formed, but the change is not acceptable
  kNotFound,   // the VIP or backend named does not exist
  kDataplane,  // the dataplane refused the change; nothing changed
  kPending,    // accepted, not acknowledged in time: the outcome is not known yet
  kInternal,   // a bug or an I/O failure
  kUnavailable,  // the daemon is at a limit (connections); nothing was done, retry
};

const char* error_code_name(ErrorCode code);

struct ApiError {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // empty when no single field is at fault
};

// An error about `field` (a path into the request, e.g. "backend.weight";
// may be empty): the message reads "FIELD: WHAT", like the parser's.
ApiError field_error(ErrorCode code, std::string field, const std::string& what);

inline ApiError usage_error(std::string field, const std::string& what) {
  return field_error(ErrorCode::kUsage, std::move(field), what);
}
inline ApiError invalid_error(std::string field, const std::string& what) {
  return field_error(ErrorCode::kInvalid, std::move(field), what);
}
inline ApiError not_found_error(std::string field, const std::string& what) {
  return field_error(ErrorCode::kNotFound, std::move(field), what);
}

// 'TEXT' (at most `max` bytes of it) for messages. Built by appending:
// GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
inline std::string in_quotes(std::string_view text, size_t max = 64) {
  std::string out;
  out.reserve(std::min(text.size(), max) + 2);
  out.push_back('\'');
  out.append(text.substr(0, max));
  out.push_back('\'');
  return out;
}

}  // namespace sluice::cp
