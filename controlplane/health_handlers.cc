// The control API's health operations (docs/control-api.md, "Health"):
// health.show (a VIP's check with every default filled in, each backend's
// overrides and verdicts) and health.set (changes the fields of a VIP's
// check, or of one backend's overrides), and the health fields of the
// VIP and backend views.
#include "common/health_config.h"
#include "controlplane/controller.h"
#include "controlplane/views.h"

namespace sluice::cp {

json Controller::backend_health_view(const BackendConfig& be) const {
  json view = backend_view(be);
  if (health_ != nullptr) view.update(health_->backend_view(be));
  return view;
}

void Controller::add_effective_weights(const VipConfig& vip, json& backends) const {
  const TableConfig one{{vip}};
  const TableConfig e = effective(one);
  const std::vector<uint32_t> turns = vip_turn_weights(e.vips[0], MaglevTurns::kNewFlows);
  for (size_t i = 0; i < vip.backends.size() && i < backends.size(); ++i) {
    const uint32_t tenths = slow_start_.tenths(vip.backends[i].id);
    // In the weight's units: 0.5 for weight 1 halfway up its ramp.
    backends[i]["effective_weight"] = static_cast<double>(turns[i]) * tenths / 10.0;
  }
}

json Controller::vip_health_view(const VipConfig& vip) const {
  json view = vip_view(vip);
  add_effective_weights(vip, view["backends"]);
  if (health_ == nullptr) return view;
  view["health"] = health_->vip_view(vip);
  for (size_t i = 0; i < vip.backends.size(); ++i) {
    view["backends"][i].update(health_->backend_view(vip.backends[i]));
  }
  return view;
}

json Controller::op_health_show(const RequestArgs& args) {
  json error;
  const VipConfig* vip = queried_vip(args, error);
  if (vip == nullptr) return error;
  json backends = json::array();
  for (const BackendConfig& be : vip->backends) {
    json b = backend_health_view(be);
    b["overrides"] = be.health ? health_spec_json(*be.health) : json(nullptr);
    if (be.health) {
      b["check"] = health_check_json(resolve_health(vip->health.get(), be.health.get(), vip->port));
    }
    backends.push_back(std::move(b));
  }
  json result = {{"vip", format_vip_key(*vip)},
                 {"configured", vip->health ? health_spec_json(*vip->health) : json(nullptr)},
                 {"check", health_check_json(resolve_health(vip->health.get(), nullptr, vip->port))},
                 {"backends", std::move(backends)}};
  if (health_ != nullptr) result["status"] = health_->vip_view(*vip);
  return ok_answer(std::move(result));
}

std::optional<ApiError> Controller::op_health_set(const RequestArgs& args, State& next,
                                                  json& result) {
  VipKey key;
  if (auto e = args.only({"vip", "backend", "health", "reset"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  std::string backend;
  if (args.has("backend")) {
    if (auto e = args.string("backend", backend)) return e;
  }
  bool reset = false;
  if (auto e = args.boolean("reset", reset)) return e;
  if (!args.has("health")) return usage_error("health", "is required (an object of check fields)");
  VipConfig* vip = find_vip(next, key);
  if (vip == nullptr) return vip_not_found(key);
  BackendConfig* be = nullptr;
  if (!backend.empty()) {
    be = const_cast<BackendConfig*>(find_backend(*vip, backend));
    if (be == nullptr) {
      return not_found_error("backend",
                             "no backend '" + backend + "' in VIP " + format_vip_key(key));
    }
  }
  HealthSpec given;
  if (std::string e = parse_health_spec(args.raw("health"), "health", be != nullptr, given);
      !e.empty()) {
    return invalid_error(e.substr(0, e.find(':')), e);
  }
  HealthSpecPtr& slot = be != nullptr ? be->health : vip->health;
  const HealthSpecPtr before = slot;
  HealthSpec merged = reset || !slot ? HealthSpec{} : *slot;
  merge_health(merged, given);
  // An empty object with reset: no check (or no overrides) at all.
  slot = merged == HealthSpec{} ? nullptr : std::make_shared<const HealthSpec>(std::move(merged));
  if (std::string e = validate_vip_health(*vip, "vip"); !e.empty()) {
    slot = before;
    return invalid_error(e.substr(0, e.find(':')), e);
  }
  result = json{{"vip", format_vip_key(*vip)},
                {"configured", vip->health ? health_spec_json(*vip->health) : json(nullptr)},
                {"check", health_check_json(resolve_health(
                              vip->health.get(), be != nullptr ? be->health.get() : nullptr,
                              vip->port))}};
  if (be != nullptr) {
    result["backend"] = be->name;
    result["overrides"] = be->health ? health_spec_json(*be->health) : json(nullptr);
  }
  return std::nullopt;
}

}  // namespace sluice::cp
