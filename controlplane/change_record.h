// The audit log's "before" and "after" of one change (DESIGN.md section 9):
// what the change touched, as the API's views show it, taken from the
// candidate state just before and just after the operation edits it.
// A VIP or backend that did not exist (or no longer does) is null. A
// config.apply is summarised by the configuration's size and digest (a
// whole document per line would make the log unreadable). Pure functions;
// the event loop's thread.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "controlplane/state.h"

namespace sluice::cp {

// Before the operation `op` with `request` is applied to `state`.
nlohmann::json change_before(const State& state, const std::string& op,
                             const nlohmann::json& request);
// After it was applied (`result`: the operation's answer).
nlohmann::json change_after(const State& state, const std::string& op,
                            const nlohmann::json& request, const nlohmann::json& result);

}  // namespace sluice::cp
