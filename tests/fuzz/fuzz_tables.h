// The forwarding tables of the packet fuzz target, shared with the seed
// generator (make_corpus.cc) so that seed frames aim at real VIPs: both
// families, IPIP and GUE (with the mixed-family cases), exact-port and
// all-ports VIPs, draining, disabled and weight-0 backends, a VIP without
// backends. Addresses as in tests/fixtures: VIPs 192.0.2.0/24 and
// 2001:db8::/64, backends 198.51.100.0/24 and 2001:db8:b::/48.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/table_config.h"

namespace sluice::fuzz {

inline IpAddress fuzz_ip(const char* text) { return parse_ip_address(text).value(); }

inline BackendConfig fuzz_backend(uint32_t id, const char* address, uint32_t weight = 1,
                                  BackendState state = BackendState::kActive) {
  BackendConfig b;
  b.id = id;
  b.name = "be-" + std::to_string(id);
  b.address = fuzz_ip(address);
  b.weight = weight;
  b.state = state;
  return b;
}

inline VipConfig fuzz_vip(uint32_t id, const char* address, uint16_t port, uint8_t protocol,
                          Encap encap, std::vector<BackendConfig> backends) {
  VipConfig v;
  v.id = id;
  v.address = fuzz_ip(address);
  v.port = port;
  v.protocol = protocol;
  v.encap = encap;
  v.table_size = 251;  // prime and small: quick to build
  v.backends = std::move(backends);
  return v;
}

inline TableConfig packet_tables() {
  TableConfig c;
  c.vips = {
      fuzz_vip(1, "192.0.2.10", 80, 6, Encap::kIpip,
               {fuzz_backend(1, "198.51.100.1"), fuzz_backend(2, "198.51.100.2", 3),
                fuzz_backend(3, "198.51.100.3", 1, BackendState::kDraining)}),
      fuzz_vip(2, "192.0.2.10", 53, 17, Encap::kGue, {fuzz_backend(4, "2001:db8:b::4")}),
      fuzz_vip(3, "192.0.2.11", 0, 6, Encap::kIpip, {fuzz_backend(5, "2001:db8:b::5")}),
      fuzz_vip(4, "2001:db8::10", 80, 6, Encap::kIpip,
               {fuzz_backend(6, "2001:db8:b::6"),
                fuzz_backend(7, "2001:db8:b::7", 1, BackendState::kDisabled)}),
      fuzz_vip(5, "2001:db8::10", 0, 17, Encap::kGue, {fuzz_backend(8, "198.51.100.8")}),
      fuzz_vip(6, "2001:db8::11", 443, 6, Encap::kGue, {fuzz_backend(9, "2001:db8:b::9")}),
      fuzz_vip(7, "192.0.2.12", 80, 6, Encap::kIpip, {}),
      fuzz_vip(8, "192.0.2.13", 80, 6, Encap::kIpip, {fuzz_backend(10, "198.51.100.10", 0)}),
  };
  return c;
}

// The same after a change, for the packet target's second burst: VIP 1
// loses backend 1 (its flows move), VIP 4's only active backend is disabled
// (its flows have nowhere to go).
inline TableConfig packet_tables_changed() {
  TableConfig c = packet_tables();
  auto& vip1 = c.vips[0].backends;
  vip1.erase(vip1.begin());
  c.vips[3].backends[0].state = BackendState::kDisabled;
  return c;
}

}  // namespace sluice::fuzz
