// Whole-file reads and atomic replacement, for the files the control plane
// keeps (the state file, BIRD's include file). One thread at a time per
// path.
#pragma once

#include <string>

namespace sluice::cp {

// Reads all of `path` into `out`. On failure returns false with the errno
// in `err_no` and its text in `error`.
bool read_whole_file(const std::string& path, std::string& out, std::string& error, int& err_no);

// Replaces `path` with `text` so that a reader sees the old file or the new
// one, never a mix: a temporary file in the same directory, fsync, rename,
// then fsync of the directory. Empty on success, else why (naming the
// file); the old file is then intact. A directory that cannot be synced is
// only a warning on stderr: the new file is in place already.
std::string replace_file_atomically(const std::string& path, const std::string& text, int mode);

}  // namespace sluice::cp
