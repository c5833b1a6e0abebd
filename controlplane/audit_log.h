// The audit log (DESIGN.md section 9): one JSON line per accepted change,
// with the wall-clock time, the operation, who asked (the API client's uid
// from its socket's peer credentials), a summary of the request, its
// result, what it touched before and after, and the generation the
// dataplane acknowledged (null when no dataplane was attached). Appended
// and flushed to disk line by line; rotated by size (FILE.1 .. FILE.N).
// Losing the file never blocks a change (it is already in force): a failed
// write is reported on stderr and counted, a file deleted under us is
// re-created (and counted). The last kRecentLines lines are kept in memory
// for `lbctl log`, numbered, so a follower asks for what came after the
// last number it saw. One thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::cp {

// One change, as Controller records it.
struct AuditEntry {
  std::string op;
  nlohmann::json request;  // summary
  nlohmann::json result;
  nlohmann::json before;   // null: did not exist / not applicable
  nlohmann::json after;
  std::optional<uint64_t> generation;  // nullopt: no dataplane attached
  std::optional<uint32_t> uid;         // nullopt: unknown
};

// Size-based rotation: once the file would exceed max_bytes, FILE becomes
// FILE.1, FILE.1 becomes FILE.2 and so on; FILE.keep is the oldest kept.
struct AuditRotation {
  uint64_t max_bytes = 0;  // 0: never rotate
  uint32_t keep = 5;
};

class AuditLog {
 public:
  static constexpr size_t kRecentLines = 1000;

  AuditLog() = default;
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Empty path: no audit log. Returns an error message, empty on success.
  // The file's last lines (up to kRecentLines) seed the in-memory history.
  std::string open(const std::string& path);
  void set_rotation(const AuditRotation& rotation) { rotation_ = rotation; }
  bool enabled() const { return !path_.empty(); }

  void record(const std::string& op, const nlohmann::json& request, const nlohmann::json& result,
              std::optional<uint64_t> generation);
  void record(const AuditEntry& entry);
  // Any other event (a health or BGP transition): `fields` with "time"
  // added first. Written, rotated and counted like a change.
  void record_event(const nlohmann::json& fields);

  // Up to `max` of the recent lines numbered above `after` (oldest first),
  // as (number, line without '\n').
  std::vector<std::pair<uint64_t, std::string>> recent(uint64_t after, size_t max) const;
  // The number the next line will get.
  uint64_t next_number() const { return next_number_; }
  uint64_t lines_written() const { return lines_; }
  // Times the file was found deleted and created again.
  uint64_t reopens() const { return reopens_; }
  uint64_t rotations() const { return rotations_; }
  const AuditRotation& rotation() const { return rotation_; }

  uint64_t write_errors() const { return errors_; }
  // The file's path; empty when there is no audit log.
  const std::string& path() const { return path_; }

 private:
  // Appends one line (with '\n') to the file and the recent lines.
  void write_line(const nlohmann::json& line);
  // Makes fd_ the file under path_: re-creates a deleted one, rotates a
  // full one. False (and a message) when it cannot.
  bool ready_for(size_t bytes, std::string& error);
  std::string rotate();
  void load_recent();

  int fd_ = -1;
  std::string path_;
  uint64_t errors_ = 0;
  uint64_t lines_ = 0;
  uint64_t reopens_ = 0;
  uint64_t rotations_ = 0;
  AuditRotation rotation_;
  std::deque<std::pair<uint64_t, std::string>> recent_;
  uint64_t next_number_ = 1;
};

// RFC 3339 UTC with milliseconds, e.g. "2026-11-24T03:36:15.123Z".
std::string utc_timestamp_now();

}  // namespace sluice::cp
