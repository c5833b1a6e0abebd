#include "controlplane/validation.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "common/control_segment.h"
#include "controlplane/vip_key.h"

namespace sluice::cp {

namespace {

std::string family_name(uint8_t family) { return family == 6 ? "IPv6" : "IPv4"; }

std::string address_bytes(const IpAddress& a) {
  return std::string(1, static_cast<char>(a.family)) +
         std::string(reinterpret_cast<const char*>(a.bytes), 16);
}

}  // namespace

std::optional<ApiError> check_backend_name(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > kMaxNameLen) {
    return invalid_error(field, "name is " + std::to_string(name.size()) +
                                    " bytes; it must be 1 to " + std::to_string(kMaxNameLen));
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) {
      return invalid_error(
          field, "name '" + name.substr(0, 64) + "' has a character outside [A-Za-z0-9._:-]");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> check_unicast(const IpAddress& a, const std::string& field) {
  const std::string text = format_ip_address(a);
  if (a.family == 4) {
    const uint8_t* b = a.bytes;
    if (b[0] == 0) return invalid_error(field, text + " is in 0.0.0.0/8 (this network)");
    if (b[0] == 127) return invalid_error(field, text + " is a loopback address");
    if (b[0] >= 224 && b[0] <= 239) return invalid_error(field, text + " is a multicast address");
    if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) {
      return invalid_error(field, text + " is the broadcast address");
    }
    return std::nullopt;
  }
  if (a.family == 6) {
    static const uint8_t kZero[16] = {};
    static const uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(a.bytes, kZero, 16) == 0) {
      return invalid_error(field, text + " is the unspecified address");
    }
    if (std::memcmp(a.bytes, kLoopback, 16) == 0) {
      return invalid_error(field, text + " is the loopback address");
    }
    if (a.bytes[0] == 0xff) return invalid_error(field, text + " is a multicast address");
    return std::nullopt;
  }
  return invalid_error(field, "address is not set");
}

std::optional<ApiError> check_vip_fields(const VipConfig& vip, const std::string& path) {
  if (auto e = check_unicast(vip.address, path + ".address")) return e;
  if (vip.protocol != 6 && vip.protocol != 17) {
    return invalid_error(path + ".protocol",
                         std::to_string(vip.protocol) + " is not tcp (6) or udp (17)");
  }
  if (vip.encap != Encap::kIpip && vip.encap != Encap::kGue) {
    return invalid_error(path + ".encap", "unknown encapsulation");
  }
  if (std::string e = validate_maglev_table_size(vip.table_size); !e.empty()) {
    if (e.rfind("table_size ", 0) == 0) e.erase(0, 11);  // the field says it
    return invalid_error(path + ".table_size", e);
  }
  std::string field;
  if (std::string e = validate_vip_policy(vip.scheduler, vip.no_backend, vip.slow_start_s,
                                          vip.protocol, field);
      !e.empty()) {
    return invalid_error(path + "." + field, e);
  }
  return std::nullopt;
}

std::optional<ApiError> check_backend_fields(const VipConfig& vip, const BackendConfig& be,
                                             const std::string& path) {
  if (auto e = check_backend_name(be.name, path + ".name")) return e;
  if (auto e = check_unicast(be.address, path + ".address")) return e;
  if (be.address == vip.address) {
    // Encapsulated packets to the VIP itself would come straight back.
    return invalid_error(path + ".address",
                         format_ip_address(be.address) + " is the VIP's own address");
  }
  if (!encap_supports(vip.encap, vip.address.family, be.address.family)) {
    return invalid_error(path + ".address",
                         format_ip_address(be.address) + " is " + family_name(be.address.family) +
                             " but encap " + encap_name(vip.encap) + " cannot carry " +
                             family_name(vip.address.family) + " packets of VIP " +
                             format_vip_key(vip) + " to it (use encap gue)");
  }
  if (be.weight > kMaxBackendWeight) {
    return invalid_error(path + ".weight", std::to_string(be.weight) + " is out of range [0, " +
                                               std::to_string(kMaxBackendWeight) + "]");
  }
  if (be.state != BackendState::kActive && be.state != BackendState::kDraining &&
      be.state != BackendState::kDisabled) {
    return invalid_error(path + ".state", "unknown state");
  }
  return std::nullopt;
}

std::optional<ApiError> check_vip(const VipConfig& vip, const std::string& path,
                                  const TableLimits& limits) {
  if (auto e = check_vip_fields(vip, path)) return e;
  std::set<std::string> names, addresses;
  for (size_t i = 0; i < vip.backends.size(); ++i) {
    const BackendConfig& be = vip.backends[i];
    const std::string bpath = path + ".backends[" + std::to_string(i) + "]";
    if (auto e = check_backend_fields(vip, be, bpath)) return e;
    if (!names.insert(be.name).second) {
      return invalid_error(bpath + ".name", "duplicate backend name '" + be.name + "' in VIP " +
                                                format_vip_key(vip));
    }
    if (!addresses.insert(address_bytes(be.address)).second) {
      return invalid_error(bpath + ".address", "duplicate backend address " +
                                                   format_ip_address(be.address) + " in VIP " +
                                                   format_vip_key(vip));
    }
  }
  const size_t n = vip.backends.size();
  if (n > vip.table_size) {
    return invalid_error(
        path + ".backends",
        std::to_string(n) + " backends do not fit in table_size " + std::to_string(vip.table_size));
  }
  if (n > limits.max_backends_per_vip || n > limits.max_backend_id) {
    const uint32_t limit = std::min(limits.max_backends_per_vip, limits.max_backend_id);
    return invalid_error(path + ".backends", std::to_string(n) + " backends exceed the limit of " +
                                                 std::to_string(limit) + " per VIP");
  }
  return std::nullopt;
}

std::optional<ApiError> check_config(const TableConfig& config, const TableLimits& limits) {
  if (config.vips.size() > limits.max_vips) {
    return invalid_error("vips", std::to_string(config.vips.size()) +
                                     " VIPs exceed the dataplane's limit of " +
                                     std::to_string(limits.max_vips));
  }
  size_t backends = 0;
  std::map<std::string, size_t> keys;  // key bytes -> index
  for (size_t i = 0; i < config.vips.size(); ++i) {
    const VipConfig& vip = config.vips[i];
    const std::string path = "vips[" + std::to_string(i) + "]";
    if (auto e = check_vip(vip, path, limits)) return e;
    const std::string key =
        address_bytes(vip.address) + std::to_string(vip.port) + "/" + std::to_string(vip.protocol);
    if (const auto [it, fresh] = keys.emplace(key, i); !fresh) {
      return invalid_error(path, "duplicate VIP " + format_vip_key(vip) + " (also vips[" +
                                     std::to_string(it->second) + "])");
    }
    backends += vip.backends.size();
  }
  if (backends > limits.max_backend_id) {
    return invalid_error("vips", std::to_string(backends) +
                                     " backends in all exceed the dataplane's limit of " +
                                     std::to_string(limits.max_backend_id) + " backend ids");
  }
  return std::nullopt;
}

std::optional<ApiError> check_installable_vip(const TableConfig& config, const VipConfig& vip,
                                              const TableLimits& limits) {
  if (config.vips.size() > limits.max_vips) {
    return invalid_error("", "vips: " + std::to_string(config.vips.size()) +
                                 " VIPs exceed the limit of " + std::to_string(limits.max_vips));
  }
  if (std::string e = validate_vip_config(vip, limits); !e.empty()) return invalid_error("", e);
  TableConfig one;
  one.vips.push_back(vip);
  if (std::string e = validate_for_channel(one); !e.empty()) return invalid_error("", e);
  if (limits.table_memory_budget != 0) {
    uint64_t memory = 0;
    for (const VipConfig& v : config.vips) memory += vip_table_memory_bytes(v);
    if (memory > limits.table_memory_budget) {
      return invalid_error("", memory_budget_error(memory, limits.table_memory_budget));
    }
  }
  return std::nullopt;
}

std::optional<ApiError> check_installable(const TableConfig& config, const TableLimits& limits) {
  if (std::string e = validate_table_config(config, limits); !e.empty()) {
    return invalid_error("", e);
  }
  if (std::string e = validate_for_channel(config); !e.empty()) return invalid_error("", e);
  return std::nullopt;
}

}  // namespace sluice::cp
