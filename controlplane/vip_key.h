// A VIP's identity in the control API: (address, port, protocol), written
// ADDRESS:PORT/PROTOCOL ("192.0.2.10:80/tcp", "[2001:db8::10]:53/udp"; port
// 0 is the all-ports VIP). Keys are compared by value, so any spelling of an
// address names the same VIP. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/table_config.h"

namespace sluice::cp {

struct VipKey {
  IpAddress address;
  uint16_t port = 0;
  uint8_t protocol = 0;  // 6 or 17
};

VipKey key_of(const VipConfig& vip);
bool same_key(const VipKey& a, const VipKey& b);
// The order of vip.list and config.export: IPv4 before IPv6, addresses
// numerically, then port, then protocol (tcp before udp).
bool key_less(const VipKey& a, const VipKey& b);

std::string format_vip_key(const VipKey& key);
inline std::string format_vip_key(const VipConfig& vip) { return format_vip_key(key_of(vip)); }

// Parses a key; on failure returns nullopt and says why in `error`.
std::optional<VipKey> parse_vip_key(std::string_view text, std::string& error);

// "tcp" -> 6, "udp" -> 17, anything else -> 0.
uint8_t parse_protocol(std::string_view name);

}  // namespace sluice::cp
