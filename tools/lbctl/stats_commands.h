// lbctl stats and lbctl log (DESIGN.md section 9): counters like
// `ipvsadm -L -n --stats` (totals, then each VIP and its backends), rates
// like `--rate` (per second, over two samples of the daemon's counters),
// refreshed every -w seconds until interrupted; and the audit log's recent
// lines, optionally followed. Single-threaded.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tools/lbctl/cli.h"

namespace sluice::lbctl {

void cmd_stats(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_log(const Invocation& inv, ApiClient& client, std::string& out);

// Per-second rates between two `stats` answers of one dataplane boot: every
// counter, VIP and backend of `now` as (now - before) / interval, with the
// interval in "interval_s". Exposed for the unit test.
nlohmann::json stats_rates(const nlohmann::json& before, const nlohmann::json& now);
// The table forms.
std::string render_stats_table(const nlohmann::json& result);
std::string render_rates_table(const nlohmann::json& rates);

}  // namespace sluice::lbctl
