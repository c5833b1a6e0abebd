#include "tools/lbctl/exit_codes.h"

namespace sluice::lbctl {

Exit exit_for_daemon_code(std::string_view code) {
  if (code == "usage") return Exit::kUsage;
  if (code == "invalid") return Exit::kInvalid;
  if (code == "not_found") return Exit::kNotFound;
  if (code == "dataplane") return Exit::kDataplane;
  if (code == "pending") return Exit::kPending;
  // The daemon is at a limit (connections) or closed this idle connection:
  // nothing was done, as when it cannot be reached at all.
  if (code == "unavailable") return Exit::kUnreachable;
  return Exit::kInternal;  // "internal", and anything newer than this lbctl
}

const char* exit_codes_help() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  internal error (a bug, or lb-controlplane could not save its state)\n"
         "  2  usage error: unknown command or option, missing or extra argument\n"
         "  3  invalid input: a bad address, port, key, number or file, or a change\n"
         "     lb-controlplane refused (duplicate, non-prime table size, weight out\n"
         "     of range)\n"
         "  4  not found: no such VIP or backend\n"
         "  5  control plane unreachable: cannot connect, no answer in time, the\n"
         "     connection closed without an answer, or the daemon is at its client\n"
         "     limit (error code 'unavailable'); nothing was done, retry\n"
         "  6  the dataplane refused the change (it says why); nothing changed\n"
         "  7  the change is accepted but the dataplane has not acknowledged it in\n"
         "     time: the outcome is not known yet; lb-controlplane keeps pushing the\n"
         "     desired state until it is acknowledged ('lbctl status' shows 'in sync')\n";
}

}  // namespace sluice::lbctl
