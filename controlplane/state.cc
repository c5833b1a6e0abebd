#include "controlplane/state.h"

#include <algorithm>
#include <map>

#include "controlplane/validation.h"

namespace sluice::cp {

namespace {

bool same_backend(const BackendConfig& a, const BackendConfig& b) {
  return a.id == b.id && a.name == b.name && a.address == b.address && a.weight == b.weight &&
         a.state == b.state && a.backup == b.backup && same_health(a.health, b.health);
}

// Attributes and backends, ids included.
bool same_vip(const VipConfig& a, const VipConfig& b) {
  if (a.id != b.id || !same_key(key_of(a), key_of(b)) || a.encap != b.encap ||
      a.table_size != b.table_size || a.scheduler != b.scheduler ||
      a.no_backend != b.no_backend || a.slow_start_s != b.slow_start_s ||
      a.min_healthy != b.min_healthy ||
      a.backends.size() != b.backends.size() || !same_health(a.health, b.health)) {
    return false;
  }
  for (size_t i = 0; i < a.backends.size(); ++i) {
    if (!same_backend(a.backends[i], b.backends[i])) return false;
  }
  return true;
}

std::vector<bool> used_vip_ids(const State& state, uint32_t limit) {
  std::vector<bool> used(size_t{limit} + 1, false);
  for (const VipConfig& vip : state.config.vips) {
    if (vip.id <= limit) used[vip.id] = true;
  }
  return used;
}

std::vector<bool> used_backend_ids(const State& state, uint32_t limit) {
  std::vector<bool> used(size_t{limit} + 1, false);
  for (const VipConfig& vip : state.config.vips) {
    for (const BackendConfig& be : vip.backends) {
      if (be.id <= limit) used[be.id] = true;
    }
  }
  return used;
}

std::optional<ApiError> no_free_id(const char* what, uint32_t limit, const std::string& field) {
  return invalid_error(field, std::string("no free ") + what + " id: all of [1, " +
                                  std::to_string(limit) + "] are in use");
}

void sort_backends(VipConfig& vip) {
  std::sort(vip.backends.begin(), vip.backends.end(),
            [](const BackendConfig& a, const BackendConfig& b) { return a.name < b.name; });
}

}  // namespace

const VipConfig* find_vip(const State& state, const VipKey& key) {
  for (const VipConfig& vip : state.config.vips) {
    if (same_key(key_of(vip), key)) return &vip;
  }
  return nullptr;
}

VipConfig* find_vip(State& state, const VipKey& key) {
  return const_cast<VipConfig*>(find_vip(static_cast<const State&>(state), key));
}

const BackendConfig* find_backend(const VipConfig& vip, const std::string& name) {
  for (const BackendConfig& be : vip.backends) {
    if (be.name == name) return &be;
  }
  return nullptr;
}

size_t backend_count(const TableConfig& config) {
  size_t n = 0;
  for (const VipConfig& vip : config.vips) n += vip.backends.size();
  return n;
}

void normalize(TableConfig& config) {
  std::sort(config.vips.begin(), config.vips.end(),
            [](const VipConfig& a, const VipConfig& b) { return key_less(key_of(a), key_of(b)); });
  for (VipConfig& vip : config.vips) {
    std::sort(vip.backends.begin(), vip.backends.end(),
              [](const BackendConfig& a, const BackendConfig& b) { return a.name < b.name; });
  }
}

bool same_config(const TableConfig& a, const TableConfig& b) {
  if (a.vips.size() != b.vips.size()) return false;
  for (size_t i = 0; i < a.vips.size(); ++i) {
    if (!same_vip(a.vips[i], b.vips[i])) return false;
  }
  return true;
}

uint32_t allocate_id(uint32_t& next, uint32_t limit, const std::vector<bool>& used) {
  if (next >= 1 && next <= limit && !used[next]) return next++;
  for (uint32_t id = 1; id <= limit; ++id) {
    if (!used[id]) return id;
  }
  return 0;
}

std::optional<ApiError> add_vip(State& state, VipConfig vip, const TableLimits& limits) {
  vip.backends.clear();
  if (auto e = check_vip_fields(vip, "vip")) return e;
  if (find_vip(state, key_of(vip)) != nullptr) {
    return invalid_error("vip", "VIP " + format_vip_key(vip) + " already exists");
  }
  if (state.config.vips.size() >= limits.max_vips) {
    return invalid_error("vip", "the dataplane holds at most " + std::to_string(limits.max_vips) +
                                    " VIPs and all are in use");
  }
  const uint32_t next_before = state.next_vip_id;
  vip.id = allocate_id(state.next_vip_id, limits.max_vips, used_vip_ids(state, limits.max_vips));
  if (vip.id == 0) return no_free_id("VIP", limits.max_vips, "vip");
  // In key order, without sorting the rest again.
  auto& vips = state.config.vips;
  const auto at = std::lower_bound(vips.begin(), vips.end(), vip, [](const VipConfig& a,
                                                                     const VipConfig& b) {
    return key_less(key_of(a), key_of(b));
  });
  const auto it = vips.insert(at, std::move(vip));
  if (auto e = check_installable_vip(state.config, *it, limits)) {
    vips.erase(it);
    state.next_vip_id = next_before;
    return e;
  }
  return std::nullopt;
}

std::optional<ApiError> set_vip(State& state, const VipKey& key, const VipChange& change,
                                const TableLimits& limits) {
  VipConfig* vip = find_vip(state, key);
  if (vip == nullptr) return vip_not_found(key);
  const VipConfig before = *vip;
  if (change.scheduler) vip->scheduler = *change.scheduler;
  if (change.no_backend) vip->no_backend = *change.no_backend;
  if (change.slow_start_s) vip->slow_start_s = *change.slow_start_s;
  std::optional<ApiError> e = check_vip_fields(*vip, "vip");
  if (!e) e = check_installable_vip(state.config, *vip, limits);
  if (e) {
    *vip = before;
    // The request's own field names: "scheduler", not "vip.scheduler".
    if (e->field.rfind("vip.", 0) == 0) e->field.erase(0, 4);
    return e;
  }
  return std::nullopt;
}

std::optional<ApiError> del_vip(State& state, const VipKey& key) {
  auto& vips = state.config.vips;
  const auto it = std::find_if(vips.begin(), vips.end(),
                               [&](const VipConfig& v) { return same_key(key_of(v), key); });
  if (it == vips.end()) return vip_not_found(key);
  vips.erase(it);
  return std::nullopt;
}

std::optional<ApiError> add_backend(State& state, const VipKey& key, BackendConfig be,
                                    const TableLimits& limits) {
  const std::vector<bool> used = used_backend_ids(state, limits.max_backend_id);
  VipConfig* vip = find_vip(state, key);
  if (vip == nullptr) return vip_not_found(key);
  if (auto e = check_backend_fields(*vip, be, "backend")) return e;
  for (const BackendConfig& other : vip->backends) {
    if (other.name == be.name) {
      return invalid_error(
          "backend.name", "backend '" + be.name + "' already exists in VIP " + format_vip_key(key));
    }
    if (other.address == be.address) {
      return invalid_error("backend.address", format_ip_address(be.address) +
                                                  " is already backend '" + other.name +
                                                  "' of VIP " + format_vip_key(key));
    }
  }
  const size_t n = vip->backends.size() + 1;
  if (n > vip->table_size || n > limits.max_backends_per_vip) {
    return invalid_error("backend", "VIP " + format_vip_key(key) + " cannot take " +
                                        std::to_string(n) + " backends (table_size " +
                                        std::to_string(vip->table_size) + ")");
  }
  const uint32_t next_before = state.next_backend_id;
  be.id = allocate_id(state.next_backend_id, limits.max_backend_id, used);
  if (be.id == 0) return no_free_id("backend", limits.max_backend_id, "backend");
  const uint32_t id = be.id;
  vip->backends.push_back(std::move(be));
  sort_backends(*vip);
  if (auto e = check_installable_vip(state.config, *vip, limits)) {
    std::erase_if(vip->backends, [&](const BackendConfig& b) { return b.id == id; });
    state.next_backend_id = next_before;
    return e;
  }
  return std::nullopt;
}

std::optional<ApiError> del_backend(State& state, const VipKey& key, const std::string& name) {
  VipConfig* vip = find_vip(state, key);
  if (vip == nullptr) return vip_not_found(key);
  auto& bes = vip->backends;
  const auto it =
      std::find_if(bes.begin(), bes.end(), [&](const BackendConfig& b) { return b.name == name; });
  if (it == bes.end()) {
    return not_found_error("name", "no backend '" + name + "' in VIP " + format_vip_key(key));
  }
  bes.erase(it);
  return std::nullopt;
}

std::optional<ApiError> set_backend(State& state, const VipKey& key, const std::string& name,
                                    const BackendChange& change, const TableLimits& limits) {
  VipConfig* vip = find_vip(state, key);
  if (vip == nullptr) return vip_not_found(key);
  BackendConfig* be = const_cast<BackendConfig*>(find_backend(*vip, name));
  if (be == nullptr) {
    return not_found_error("name", "no backend '" + name + "' in VIP " + format_vip_key(key));
  }
  if (change.weight && *change.weight > kMaxBackendWeight) {
    return invalid_error("weight", std::to_string(*change.weight) + " is out of range [0, " +
                                       std::to_string(kMaxBackendWeight) + "]");
  }
  const BackendConfig before = *be;
  if (change.weight) be->weight = *change.weight;
  if (change.state) be->state = *change.state;
  if (change.backup) be->backup = *change.backup;
  if (auto e = check_installable_vip(state.config, *vip, limits)) {
    *be = before;
    return e;
  }
  return std::nullopt;
}

std::optional<ApiError> apply_config(State& state, TableConfig desired, const TableLimits& limits,
                                     ApplySummary& summary) {
  summary = ApplySummary{};
  if (auto e = check_config(desired, limits)) return e;
  normalize(desired);

  // Ids of what is kept; new VIPs and backends are numbered afterwards, in
  // key and name order, so the outcome does not depend on the file's order.
  std::vector<bool> vip_used(size_t{limits.max_vips} + 1, false);
  std::vector<bool> backend_used(size_t{limits.max_backend_id} + 1, false);
  for (VipConfig& vip : desired.vips) {
    const VipConfig* old = find_vip(state, key_of(vip));
    vip.id = 0;
    if (old == nullptr) continue;
    if (old->id <= limits.max_vips) {
      vip.id = old->id;
      vip_used[vip.id] = true;
    }
    for (BackendConfig& be : vip.backends) {
      be.id = 0;
      const BackendConfig* old_be = find_backend(*old, be.name);
      if (old_be != nullptr && old_be->id <= limits.max_backend_id) {
        be.id = old_be->id;
        backend_used[be.id] = true;
      }
    }
  }
  State next = state;
  for (VipConfig& vip : desired.vips) {
    if (vip.id == 0) {
      vip.id = allocate_id(next.next_vip_id, limits.max_vips, vip_used);
      if (vip.id == 0) return no_free_id("VIP", limits.max_vips, "vips");
      vip_used[vip.id] = true;
    }
    for (BackendConfig& be : vip.backends) {
      if (be.id != 0) continue;
      be.id = allocate_id(next.next_backend_id, limits.max_backend_id, backend_used);
      if (be.id == 0) return no_free_id("backend", limits.max_backend_id, "vips");
      backend_used[be.id] = true;
    }
  }
  if (auto e = check_installable(desired, limits)) return e;

  for (const VipConfig& vip : desired.vips) {
    const VipConfig* old = find_vip(state, key_of(vip));
    if (old == nullptr) {
      ++summary.vips_added;
    } else if (!same_vip(*old, vip)) {
      ++summary.vips_changed;
    }
  }
  for (const VipConfig& old : state.config.vips) {
    const bool kept =
        std::any_of(desired.vips.begin(), desired.vips.end(),
                    [&](const VipConfig& v) { return same_key(key_of(v), key_of(old)); });
    if (!kept) ++summary.vips_removed;
  }
  summary.changed = summary.vips_added + summary.vips_removed + summary.vips_changed > 0;
  next.config = std::move(desired);
  state = std::move(next);
  return std::nullopt;
}

}  // namespace sluice::cp
