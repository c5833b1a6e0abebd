// The control plane's desired state (DESIGN.md section 1): VIPs keyed by
// (address, port, protocol), backends keyed by name within their VIP, and
// the ids the control plane assigns them. Ids are stable: a VIP or backend
// keeps its id for life (the state file keeps them), and ids are not reused
// while the counters are below the dataplane's limits; past a limit the
// lowest free id is taken.
//
// Every operation edits a State in place and returns the refusal, if any; on
// refusal the State is as it was (each operation undoes its own edit), so a
// caller may apply a run of operations to one State without copying it per
// operation. An operation costs the VIP it touches, not the configuration:
// the result of an accepted one has passed the contract's gate for that VIP
// (check_installable_vip; config.apply: check_installable). VIPs are kept in
// key order and backends in name order. Plain data; one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/table_config.h"
#include "controlplane/api_error.h"
#include "controlplane/vip_key.h"

namespace sluice::cp {

struct State {
  TableConfig config;  // with ids
  uint32_t next_vip_id = 1;
  uint32_t next_backend_id = 1;
};

const VipConfig* find_vip(const State& state, const VipKey& key);
VipConfig* find_vip(State& state, const VipKey& key);
// The answer for a VIP key no VIP has: one wording everywhere.
inline ApiError vip_not_found(const VipKey& key) {
  return not_found_error("vip", "no VIP " + format_vip_key(key));
}
const BackendConfig* find_backend(const VipConfig& vip, const std::string& name);
size_t backend_count(const TableConfig& config);

// Sorts VIPs by key and backends by name.
void normalize(TableConfig& config);

// Same VIPs and backends with the same attributes and ids.
bool same_config(const TableConfig& a, const TableConfig& b);

// `vip` without id and backends (vip.add).
std::optional<ApiError> add_vip(State& state, VipConfig vip, const TableLimits& limits);
std::optional<ApiError> del_vip(State& state, const VipKey& key);

// vip.set: the VIP's policy fields; unset ones stay.
struct VipChange {
  std::optional<Scheduler> scheduler;
  std::optional<NoBackend> no_backend;
  std::optional<uint32_t> slow_start_s;
  bool empty() const { return !scheduler && !no_backend && !slow_start_s; }
};
std::optional<ApiError> set_vip(State& state, const VipKey& key, const VipChange& change,
                                const TableLimits& limits);
// `be` without id (backend.add).
std::optional<ApiError> add_backend(State& state, const VipKey& key, BackendConfig be,
                                    const TableLimits& limits);
std::optional<ApiError> del_backend(State& state, const VipKey& key, const std::string& name);

struct BackendChange {
  std::optional<uint32_t> weight;
  std::optional<BackendState> state;
  std::optional<bool> backup;
};
std::optional<ApiError> set_backend(State& state, const VipKey& key, const std::string& name,
                                    const BackendChange& change, const TableLimits& limits);

struct ApplySummary {
  bool changed = false;
  uint32_t vips_added = 0;
  uint32_t vips_removed = 0;
  uint32_t vips_changed = 0;
};

// config.apply: makes `state` equal to `desired` (a declarative config
// without ids). VIPs matched by key and backends by name (within their VIP)
// keep their ids; new ones get fresh ids; missing ones go.
std::optional<ApiError> apply_config(State& state, TableConfig desired, const TableLimits& limits,
                                     ApplySummary& summary);

// The id allocator: `next` if it is within [1, limit] and free (then
// advances it), else the lowest free id; 0 when every id is taken.
uint32_t allocate_id(uint32_t& next, uint32_t limit, const std::vector<bool>& used);

}  // namespace sluice::cp
