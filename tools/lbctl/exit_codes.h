// lbctl's exit codes and the error every layer throws to reach main(). The
// daemon's error codes map onto them as docs/control-api.md says; the rest
// are lbctl's own (bad command line, unreachable control plane). Plain data;
// lbctl is single-threaded.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::lbctl {

enum class Exit : int {
  kOk = 0,
  kInternal = 1,     // daemon code `internal`, an unknown code, a garbled answer
  kUsage = 2,        // bad command line (found locally) or daemon code `usage`
  kInvalid = 3,      // daemon code `invalid`, or a local parse failure of a value or file
  kNotFound = 4,     // daemon code `not_found`
  kUnreachable = 5,  // no connection, timeout, no answer, or daemon code `unavailable`
  kDataplane = 6,    // daemon code `dataplane`: the dataplane refused; nothing changed
  kPending = 7,      // daemon code `pending`: accepted, not acknowledged yet; converging
};

// The exit code for a daemon error code; kInternal for codes lbctl does not know.
Exit exit_for_daemon_code(std::string_view code);

// The "Exit codes:" section of `lbctl --help`.
const char* exit_codes_help();

// What lbctl prints on stderr before exiting with `exit`:
//   lbctl: <message>
//   hint: <hint>          (when there is one)
struct CliError : std::runtime_error {
  CliError(Exit exit_code, std::string message, std::string hint_text = {})
      : std::runtime_error(message), exit(exit_code), hint(std::move(hint_text)) {}
  Exit exit;
  std::string hint;
};

}  // namespace sluice::lbctl
