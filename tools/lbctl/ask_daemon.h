// One request to lb-controlplane for commands that render their answer
// themselves (health, bgp, host): the result object, or a CliError with the
// exit code of the daemon's error code and a hint. Single-threaded.
#pragma once

#include "tools/lbctl/cli.h"

namespace sluice::lbctl {

json ask_daemon(const Invocation& inv, ApiClient& client, const json& request);

}  // namespace sluice::lbctl
