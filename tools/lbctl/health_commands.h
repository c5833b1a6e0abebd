// lbctl health set / health show (docs/control-api.md, "Health"): a VIP's
// health check, its defaults and its backends' verdicts. Single-threaded.
#pragma once

#include <string>

#include "tools/lbctl/cli.h"

namespace sluice::lbctl {

void cmd_health_set(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_health_show(const Invocation& inv, ApiClient& client, std::string& out);

// Table form of health.show's result.
std::string render_health_show(const json& result);

}  // namespace sluice::lbctl
