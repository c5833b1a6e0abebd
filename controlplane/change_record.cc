#include "controlplane/change_record.h"

#include "common/config_digest.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

using nlohmann::json;

json config_summary(const State& state) {
  return json{{"vips", state.config.vips.size()},
              {"backends", backend_count(state.config)},
              {"config_digest", hex64(config_digest(state.config))}};
}

// The VIP a request names, by key ("vip": "192.0.2.10:80/tcp") or, for
// vip.add, by its spec ("vip": {"address", "port", "protocol"}); null if
// it names none that exists.
const VipConfig* named_vip(const State& state, const json& request, const json& result) {
  const auto it = request.find("vip");
  if (it == request.end()) return nullptr;
  std::string key_text;
  if (it->is_string()) {
    key_text = it->get<std::string>();
  } else if (result.contains("vip") && result["vip"].is_object() &&
             result["vip"].contains("key") && result["vip"]["key"].is_string()) {
    key_text = result["vip"]["key"].get<std::string>();
  } else {
    return nullptr;
  }
  std::string error;
  const std::optional<VipKey> key = parse_vip_key(key_text, error);
  return key ? find_vip(state, *key) : nullptr;
}

// The backend a request names: "name", or "backend": {"name"} (backend.add).
std::string backend_name(const json& request) {
  if (request.contains("name") && request["name"].is_string()) {
    return request["name"].get<std::string>();
  }
  if (request.contains("backend") && request["backend"].is_object() &&
      request["backend"].contains("name") && request["backend"]["name"].is_string()) {
    return request["backend"]["name"].get<std::string>();
  }
  return {};
}

json view_of(const State& state, const std::string& op, const json& request, const json& result) {
  if (op == "config.apply") return config_summary(state);
  const VipConfig* vip = named_vip(state, request, result);
  if (op.rfind("vip.", 0) == 0) return vip != nullptr ? vip_view(*vip) : json(nullptr);
  if (op.rfind("backend.", 0) == 0 && vip != nullptr) {
    const BackendConfig* be = find_backend(*vip, backend_name(request));
    if (be != nullptr) return backend_view(*be);
  }
  return nullptr;
}

}  // namespace

json change_before(const State& state, const std::string& op, const json& request) {
  return view_of(state, op, request, json::object());
}

json change_after(const State& state, const std::string& op, const json& request,
                  const json& result) {
  return view_of(state, op, request, result);
}

}  // namespace sluice::cp
