// The benchmark's address plan: documentation addresses only (RFC 5737
// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; RFC 3849 2001:db8::/32).
//
//   VIPs       192.0.2.1-250 and 2001:db8:1::/48, port 80 upwards
//   backends   198.51.100.0/24 (up to 250 per VIP) and 2001:db8:b::/48
//   clients    203.0.113.0/24 x ports 1024-65535, and 2001:db8:c::/48
//   outer src  192.0.2.254 and 2001:db8::1
//
// A client flow is a number f: its source address and port derive from f,
// and it goes to VIP f mod (number of VIPs). Any thread; plain functions.
#pragma once

#include <cstdint>

#include "common/ip_address.h"

namespace sluice::bench {

// An address (16 bytes in FlowKey layout) and a port in network order.
struct Endpoint {
  uint8_t family = 0;
  uint8_t addr[16] = {};
  uint16_t port_be = 0;
};

// Distinct client flows available per family: 256 IPv4 sources x 64512
// ports (IPv6 uses the same count).
inline constexpr uint32_t kMaxClientFlows = 256u * 64512u;

Endpoint client_endpoint(uint8_t family, uint32_t flow);
// VIP number `index` (0-based). At most 250 * 65000 of them.
Endpoint vip_endpoint(uint8_t family, uint32_t index);
// An address no VIP has (for not-for-us traffic).
Endpoint non_vip_endpoint(uint8_t family);
// Backend number `index` (0-based) within a VIP; IPv4 only up to 250.
IpAddress backend_address(uint8_t family, uint32_t index);
IpAddress outer_source(uint8_t family);
// Source of ICMP errors (a router on the path).
Endpoint router_endpoint(uint8_t family);

inline constexpr uint8_t kPortMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr uint8_t kNextHopMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
inline constexpr uint8_t kClientSideMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xaa};

}  // namespace sluice::bench
