// lbctl bgp show / host drain / host undrain (docs/control-api.md, "BGP"):
// what this host announces and why, and a planned stop of the whole host.
// Single-threaded.
#pragma once

#include <string>

#include "tools/lbctl/cli.h"

namespace sluice::lbctl {

void cmd_bgp_show(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_host_drain(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_host_undrain(const Invocation& inv, ApiClient& client, std::string& out);

}  // namespace sluice::lbctl
