#include "controlplane/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace sluice::cp {

std::string utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buf;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) close(fd_);
}

std::string AuditLog::open(const std::string& path) {
  if (path.empty()) return {};
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) return "cannot open audit log " + path + ": " + std::strerror(errno);
  path_ = path;
  return {};
}

void AuditLog::record(const std::string& op, const nlohmann::json& request,
                      const nlohmann::json& result, std::optional<uint64_t> generation) {
  if (fd_ < 0) return;
  const nlohmann::json line = {
      {"time", utc_timestamp_now()},
      {"op", op},
      {"request", request},
      {"result", result},
      {"generation", generation ? nlohmann::json(*generation) : nlohmann::json(nullptr)},
      {"dataplane", generation ? "acknowledged" : "not attached"}};
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One write of the whole line with O_APPEND: lines never interleave.
  const ssize_t n = write(fd_, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size()) || fdatasync(fd_) != 0) {
    ++errors_;
    std::fprintf(stderr, "lb-controlplane: cannot write audit log %s: %s\n", path_.c_str(),
                 n < 0 ? std::strerror(errno) : "short write or sync failure");
  }
}

}  // namespace sluice::cp
