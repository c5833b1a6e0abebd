#include "controlplane/views.h"

#include <cstdio>

#include "controlplane/vip_key.h"

namespace sluice::cp {

json backend_view(const BackendConfig& be) {
  return json{{"name", be.name},
              {"id", be.id},
              {"address", format_ip_address(be.address)},
              {"weight", be.weight},
              {"state", backend_state_name(be.state)},
              {"backup", be.backup}};
}

json vip_view(const VipConfig& vip) {
  json backends = json::array();
  for (const BackendConfig& be : vip.backends) backends.push_back(backend_view(be));
  return json{{"key", format_vip_key(vip)},
              {"id", vip.id},
              {"address", format_ip_address(vip.address)},
              {"port", vip.port},
              {"protocol", protocol_name(vip.protocol)},
              {"encap", encap_name(vip.encap)},
              {"table_size", vip.table_size},
              {"scheduler", scheduler_name(vip.scheduler)},
              {"host_local", scheduler_is_host_local(vip.scheduler)},
              {"no_backend", no_backend_name(vip.no_backend)},
              {"slow_start", vip.slow_start_s},
              {"min_healthy", vip.min_healthy},
              {"backends", std::move(backends)}};
}

json config_view(const TableConfig& config) {
  return json::parse(table_config_to_json(config, /*with_ids=*/false));
}

json ok_answer(json result) { return json{{"ok", true}, {"result", std::move(result)}}; }

json error_answer(const ApiError& error) {
  json e = {{"code", error_code_name(error.code)}, {"message", error.message}};
  if (!error.field.empty()) e["field"] = error.field;
  return json{{"ok", false}, {"error", std::move(e)}};
}

std::string answer_line(const json& answer) {
  return answer.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace sluice::cp
