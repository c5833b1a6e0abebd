// The state file: the desired state with its ids and id counters, as JSON,
// so a restarted control plane pushes exactly what it had (DESIGN.md
// section 4, restart safety). Written atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory): a reader sees the old
// state or the new one, never a mix. A file that cannot be read as a state
// is never overwritten: load moves it aside to FILE.corrupt-UNIXTIME and the
// daemon refuses to start. One thread.
#pragma once

#include <string>

#include "controlplane/state.h"

namespace sluice::cp {

struct LoadResult {
  enum class Kind {
    kLoaded,      // `state` holds the file's state
    kMissing,     // no file: empty state
    kCorrupt,     // moved aside to `moved_to` (empty if even that failed)
    kUnreadable,  // an I/O error; the file is left where it is
  };
  Kind kind = Kind::kMissing;
  State state;
  std::string error;  // what is wrong, naming the file
  std::string moved_to;
};

LoadResult load_state_file(const std::string& path);

// Empty on success, else why (naming the file); the old file is then intact.
std::string save_state_file(const std::string& path, const State& state);

// Takes an exclusive lock (flock) on PATH.lock, held while `fd_out` stays
// open, so that two control planes never share a state file. Empty on
// success, else why (naming the file).
std::string lock_state_file(const std::string& path, int& fd_out);

// The file's content, and its reading (exposed for tests). parse returns an
// empty string on success.
std::string state_to_json(const State& state);
std::string parse_state_json(const std::string& text, State& out);

}  // namespace sluice::cp
