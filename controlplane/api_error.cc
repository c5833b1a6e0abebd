#include "controlplane/api_error.h"

namespace sluice::cp {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage:
      return "usage";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kDataplane:
      return "dataplane";
    case ErrorCode::kPending:
      return "pending";
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "internal";
}

ApiError field_error(ErrorCode code, std::string field, const std::string& what) {
  std::string message = field.empty() ? what : field + ": " + what;
  return ApiError{code, std::move(message), std::move(field)};
}

}  // namespace sluice::cp
