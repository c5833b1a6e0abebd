#include "controlplane/state_file.h"
#include "common/errno_text.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/control_segment.h"
#include "controlplane/file_io.h"
#include "controlplane/request_args.h"
#include "controlplane/validation.h"

namespace sluice::cp {

namespace {

using nlohmann::json;


// Renames `path` to PATH.corrupt-UNIXTIME (or -UNIXTIME-N if taken) without
// ever replacing an existing file.
std::string move_aside(const std::string& path, std::string& error) {
  const std::string base = path + ".corrupt-" + std::to_string(std::time(nullptr));
  for (int i = 0; i < 100; ++i) {
    const std::string target = i == 0 ? base : base + "-" + std::to_string(i);
    if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
      return target;
    }
    if (errno != EEXIST) {
      error = "cannot move it aside to " + target + ": " + errno_text();
      return {};
    }
  }
  error = "cannot move it aside: " + base + " and 99 others exist";
  return {};
}

}  // namespace

std::string state_to_json(const State& state) {
  json doc = table_config_json(state.config, /*with_ids=*/true);
  json out = {{"format", kStateFormat},
              {"version", kStateVersion},
              {"next_vip_id", state.next_vip_id},
              {"next_backend_id", state.next_backend_id},
              {"vips", std::move(doc["vips"])}};
  return out.dump(2) + "\n";
}

std::string parse_state_json(const std::string& text, State& out) {
  if (text.empty()) return "the file is empty";
  if (json_nesting_depth(text) > kMaxRequestDepth) return "nested too deeply to be a state";
  // The one configuration document: the state file's wrapper, or a bare
  // document (ids given, or numbered as a fresh control plane would).
  ConfigDocument doc;
  if (std::string e = parse_config_document(text, doc); !e.empty()) {
    if (e.find("not valid JSON") != std::string::npos) {
      return "not valid JSON (truncated or damaged?): " + e;
    }
    return e.rfind("config.", 0) == 0 ? e.substr(7) : e;
  }
  State state;
  state.config = std::move(doc.config);
  if (!doc.has_ids) number_in_order(state.config);
  state.next_vip_id = doc.next_vip_id;
  state.next_backend_id = doc.next_backend_id;
  // Structural checks only, against the widest limits a dataplane can have:
  // a dataplane started with smaller limits refuses the push, which is
  // reported, rather than the file being taken for corrupt.
  TableLimits widest;
  widest.max_vips = 1u << 20;
  widest.max_backend_id = 1u << 24;
  widest.max_backends_per_vip = 1u << 24;
  if (auto e = check_installable(state.config, widest)) return e->message;
  uint32_t max_vip = 0, max_backend = 0;
  for (const VipConfig& vip : state.config.vips) {
    max_vip = std::max(max_vip, vip.id);
    for (const BackendConfig& be : vip.backends) {
      if (auto e = check_backend_name(be.name, "backend name")) return e->message;
      max_backend = std::max(max_backend, be.id);
    }
  }
  // Counters below an id in use would hand it out again.
  if (state.next_vip_id <= max_vip) state.next_vip_id = max_vip + 1;
  if (state.next_backend_id <= max_backend) state.next_backend_id = max_backend + 1;
  normalize(state.config);
  out = std::move(state);
  return {};
}

std::string lock_state_file(const std::string& path, int& fd_out) {
  const std::string lock = path + ".lock";
  const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return "cannot open lock file " + lock + ": " + errno_text();
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    const std::string e =
        busy ? "another lb-controlplane uses state file " + path + " (" + lock + " is locked)"
             : "cannot lock " + lock + ": " + errno_text();
    close(fd);
    return e;
  }
  fd_out = fd;
  return {};
}

LoadResult load_state_file(const std::string& path) {
  LoadResult r;
  std::string text, error;
  int err_no = 0;
  if (!read_whole_file(path, text, error, err_no)) {
    if (err_no == ENOENT) {
      r.kind = LoadResult::Kind::kMissing;
      return r;
    }
    r.kind = LoadResult::Kind::kUnreadable;
    r.error = "cannot read state file " + path + ": " + error;
    return r;
  }
  error = parse_state_json(text, r.state);
  if (error.empty()) {
    r.kind = LoadResult::Kind::kLoaded;
    return r;
  }
  r.kind = LoadResult::Kind::kCorrupt;
  r.state = State{};
  std::string move_error;
  r.moved_to = move_aside(path, move_error);
  r.error =
      "state file " + path + " (" + std::to_string(text.size()) + " bytes) is corrupt: " + error +
      "; " +
      (r.moved_to.empty() ? move_error + " (left in place)" : "moved it aside to " + r.moved_to);
  return r;
}

std::string save_state_file(const std::string& path, const State& state) {
  return replace_file_atomically(path, state_to_json(state), 0640);
}

}  // namespace sluice::cp
