// The audit log (DESIGN.md section 9): one JSON line per accepted change,
// with the wall-clock time, the operation, a summary of the request, its
// result and the generation the dataplane acknowledged (null when no
// dataplane was attached). Appended and flushed to disk line by line. A
// failed write is reported on stderr and counted; the change stands (it is
// already in force). One thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::cp {

class AuditLog {
 public:
  AuditLog() = default;
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Empty path: no audit log. Returns an error message, empty on success.
  std::string open(const std::string& path);
  bool enabled() const { return fd_ >= 0; }

  void record(const std::string& op, const nlohmann::json& request, const nlohmann::json& result,
              std::optional<uint64_t> generation);

  uint64_t write_errors() const { return errors_; }
  // The file's path; empty when there is no audit log.
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
  uint64_t errors_ = 0;
};

// RFC 3339 UTC with milliseconds, e.g. "2026-11-24T03:36:15.123Z".
std::string utc_timestamp_now();

}  // namespace sluice::cp
