// The control plane's checks on what operators ask for, each naming the
// field at fault with a path into the request ("backend.weight",
// "vips[1].backends[0].address"). They come before, and are stricter than,
// the contract's own gate (validate_table_config + validate_for_channel),
// which every candidate state still passes before it is accepted.
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>

#include "common/table_config.h"
#include "controlplane/api_error.h"

namespace sluice::cp {

inline constexpr size_t kMaxNameLen = 192;  // docs/control-api.md; fits a ring record

// 1..192 bytes of [A-Za-z0-9._:-].
std::optional<ApiError> check_backend_name(const std::string& name, const std::string& field);

// Refuses addresses no VIP or backend can have: unspecified, loopback,
// multicast, the IPv4 limited broadcast.
std::optional<ApiError> check_unicast(const IpAddress& address, const std::string& field);

// A VIP's own fields (not its backends): address, protocol, encap, table size.
std::optional<ApiError> check_vip_fields(const VipConfig& vip, const std::string& path);

// One backend of `vip`: name, address (and whether the VIP's encap can reach
// it), weight, state.
std::optional<ApiError> check_backend_fields(const VipConfig& vip, const BackendConfig& be,
                                             const std::string& path);

// A VIP with its backends: every field above, then duplicate names and
// addresses, and whether the backends fit its table and the limits.
// `path` is the VIP's path ("vips[2]"); backends are path.backends[i].
std::optional<ApiError> check_vip(const VipConfig& vip, const std::string& path,
                                  const TableLimits& limits);

// A whole declarative config (no ids yet): every VIP, duplicate keys, the
// VIP count. Paths are "vips[i]...", as in the config itself.
std::optional<ApiError> check_config(const TableConfig& config, const TableLimits& limits);

// The contract's gate on a complete state with ids: validate_table_config
// and validate_for_channel. Its messages name VIP and backend, not a path.
std::optional<ApiError> check_installable(const TableConfig& config, const TableLimits& limits);

// The same gate after a change to one VIP of an installable `config`: that
// VIP's own rules and channel limits, and the rules across VIPs one VIP can
// break (the VIP count and the table memory budget). Keys and ids are unique
// by the operations' own checks and id allocation. Costs the VIP, not the
// configuration (a few microseconds a VIP for the budget's sum).
std::optional<ApiError> check_installable_vip(const TableConfig& config, const VipConfig& vip,
                                              const TableLimits& limits);

}  // namespace sluice::cp
