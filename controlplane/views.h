// The JSON views of the control API (docs/control-api.md, "Views"): VIP,
// backend, the declarative config, and the error/success envelopes. Pure
// functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "common/table_config.h"
#include "controlplane/api_error.h"

namespace sluice::cp {

using nlohmann::json;

json backend_view(const BackendConfig& be);
json vip_view(const VipConfig& vip);
// The declarative form (no ids), as config.export prints it.
json config_view(const TableConfig& config);

json ok_answer(json result);
json error_answer(const ApiError& error);

// One answer line: compact JSON and '\n'. Strings that are not valid UTF-8
// (never from a parsed request, but cheap to guard) are replaced, not thrown.
std::string answer_line(const json& answer);

// 16 lower-case hex digits: how boot ids and flow hashes are shown.
std::string hex64(uint64_t v);

}  // namespace sluice::cp
