#include "controlplane/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
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

namespace {

int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

std::string AuditLog::open(const std::string& path) {
  if (path.empty()) return {};
  fd_ = open_append(path);
  if (fd_ < 0) return "cannot open audit log " + path + ": " + std::strerror(errno);
  path_ = path;
  load_recent();
  return {};
}

void AuditLog::load_recent() {
  // The tail of the file only: a history for `lbctl log` across restarts,
  // bounded however large the file grew.
  constexpr off_t kTailBytes = 1 << 20;
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    const off_t from = st.st_size > kTailBytes ? st.st_size - kTailBytes : 0;
    std::string text(static_cast<size_t>(st.st_size - from), '\0');
    const ssize_t n = pread(fd, text.data(), text.size(), from);
    if (n > 0) {
      text.resize(static_cast<size_t>(n));
      size_t pos = 0;
      // A partial first line (the tail cut it) is not shown.
      if (from > 0) pos = text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (nl > pos) {
          recent_.emplace_back(next_number_++, text.substr(pos, nl - pos));
          if (recent_.size() > kRecentLines) recent_.pop_front();
        }
        pos = nl + 1;
      }
    }
  }
  close(fd);
}

void AuditLog::record(const std::string& op, const nlohmann::json& request,
                      const nlohmann::json& result, std::optional<uint64_t> generation) {
  record(AuditEntry{op, request, result, nullptr, nullptr, generation, std::nullopt});
}

void AuditLog::record(const AuditEntry& e) {
  if (path_.empty()) return;
  write_line({{"time", utc_timestamp_now()},
              {"op", e.op},
              {"uid", e.uid ? nlohmann::json(*e.uid) : nlohmann::json(nullptr)},
              {"request", e.request},
              {"result", e.result},
              {"before", e.before},
              {"after", e.after},
              {"generation", e.generation ? nlohmann::json(*e.generation) : nlohmann::json(nullptr)},
              {"dataplane", e.generation ? "acknowledged" : "not attached"}});
}

void AuditLog::record_event(const nlohmann::json& fields) {
  if (path_.empty()) return;
  nlohmann::json line = {{"time", utc_timestamp_now()}};
  for (const auto& [k, v] : fields.items()) line[k] = v;
  write_line(line);
}

std::vector<std::pair<uint64_t, std::string>> AuditLog::recent(uint64_t after, size_t max) const {
  std::vector<std::pair<uint64_t, std::string>> out;
  // The last `max` of those numbered above `after`.
  size_t first = recent_.size();
  while (first > 0 && recent_[first - 1].first > after && recent_.size() - first < max) --first;
  for (size_t i = first; i < recent_.size(); ++i) out.push_back(recent_[i]);
  return out;
}

std::string AuditLog::rotate() {
  // FILE.keep-1 -> FILE.keep (replacing the oldest), ..., FILE -> FILE.1.
  for (uint32_t i = rotation_.keep; i > 1; --i) {
    const std::string from = path_ + "." + std::to_string(i - 1);
    const std::string to = path_ + "." + std::to_string(i);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return "cannot rename " + from + ": " + std::strerror(errno);
    }
  }
  std::string first = path_;
  first += ".1";
  if (rename(path_.c_str(), first.c_str()) != 0) {
    return "cannot rename " + path_ + ": " + std::strerror(errno);
  }
  close(fd_);
  fd_ = open_append(path_);
  if (fd_ < 0) return "cannot open audit log " + path_ + ": " + std::strerror(errno);
  ++rotations_;
  return {};
}

bool AuditLog::ready_for(size_t bytes, std::string& error) {
  struct stat st {};
  if (fd_ >= 0 && fstat(fd_, &st) == 0 && st.st_nlink == 0) {
    // Deleted under us (an operator's rm, a careless logrotate): lines
    // written to the unlinked file would be lost, so create it again.
    close(fd_);
    fd_ = -1;
    ++reopens_;
    std::fprintf(stderr, "lb-controlplane: audit log %s was deleted; creating it again\n",
                 path_.c_str());
  }
  if (fd_ < 0) {
    fd_ = open_append(path_);
    if (fd_ < 0 || fstat(fd_, &st) != 0) {
      error = "cannot open " + path_ + ": " + std::strerror(errno);
      return false;
    }
  }
  if (rotation_.max_bytes != 0 && rotation_.keep > 0 && st.st_size > 0 &&
      static_cast<uint64_t>(st.st_size) + bytes > rotation_.max_bytes) {
    if (std::string e = rotate(); !e.empty()) {
      // Not rotated: keep appending to what is open (or fail below).
      std::fprintf(stderr, "lb-controlplane: audit log rotation: %s\n", e.c_str());
      if (fd_ < 0) {
        error = e;
        return false;
      }
    }
  }
  return true;
}

void AuditLog::write_line(const nlohmann::json& line) {
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  recent_.emplace_back(next_number_++, text);
  if (recent_.size() > kRecentLines) recent_.pop_front();
  text += "\n";
  std::string error;
  if (!ready_for(text.size(), error)) {
    ++errors_;
    std::fprintf(stderr, "lb-controlplane: cannot write audit log: %s\n", error.c_str());
    return;
  }
  // One write of the whole line with O_APPEND: lines never interleave.
  const ssize_t n = write(fd_, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size()) || fdatasync(fd_) != 0) {
    ++errors_;
    std::fprintf(stderr, "lb-controlplane: cannot write audit log %s: %s\n", path_.c_str(),
                 n < 0 ? std::strerror(errno) : "short write or sync failure");
    return;
  }
  ++lines_;
}

}  // namespace sluice::cp
