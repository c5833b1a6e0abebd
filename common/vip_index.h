// VIP matching (DESIGN.md section 2, step 3), written once: an
// open-addressing map from (family, address, port, protocol) to a VIP's
// index, with the rule "the exact port first, then the all-ports VIP (port
// 0)". The dataplane's table snapshots embed one and the workers probe it
// per packet; flow explain, lb-bench and the tests build one from a
// TableConfig and ask it the same question, so nothing re-implements the
// rule. Built once, then read-only; reads from any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "common/hash.h"

namespace sluice {

// A slot with protocol 0 and port 0 marks "this address belongs to some
// VIP" (ICMP to a VIP, and telling "a fragment for a VIP" from "not for us").
inline constexpr uint8_t kAnyProtocol = 0;

struct alignas(32) VipSlot {
  uint8_t address[16];  // FlowKey layout (IPv4 in the first 4 bytes)
  uint16_t port_be;     // 0 = all ports
  uint8_t protocol;
  uint8_t family;       // 0 = empty slot
  uint32_t vip_index;
  uint8_t pad[4];
};
static_assert(sizeof(VipSlot) == 32);

class VipIndex {
 public:
  // Room for `vips` VIPs: two slots each, at most half of all slots used.
  void reset(size_t vips) {
    uint64_t slots = 16;
    while (slots < 4 * vips) slots <<= 1;
    slots_.assign(slots, VipSlot{});
    mask_ = slots - 1;
  }

  // Adds VIP `vip_index` under its exact key and its address marker. The
  // first VIP added for a key keeps it (callers' configs have unique keys).
  void add(uint8_t family, const uint8_t* address, uint16_t port_be, uint8_t protocol,
           uint32_t vip_index) {
    insert(family, address, port_be, protocol, vip_index);
    insert(family, address, 0, kAnyProtocol, vip_index);
  }

  // The VIP index for a destination, or -1: the exact port, then the
  // all-ports VIP. `address` is 16 bytes in FlowKey layout.
  int64_t find(uint8_t family, const uint8_t* address, uint16_t port_be, uint8_t protocol) const {
    const VipSlot* s = probe(family, address, port_be, protocol);
    if (s == nullptr && port_be != 0) s = probe(family, address, 0, protocol);
    return s == nullptr ? -1 : int64_t{s->vip_index};
  }

  bool has_address(uint8_t family, const uint8_t* address) const {
    return probe(family, address, 0, kAnyProtocol) != nullptr;
  }

  // Calls f(const VipSlot&) for every key held, exact keys and address
  // markers alike, in no particular order: the AF_XDP steering program's
  // map holds the same keys and asks them the same questions
  // (dataplane/xdp_steering.h).
  template <class F>
  void for_each_key(F&& f) const {
    for (const VipSlot& s : slots_) {
      if (s.family != 0) f(s);
    }
  }

 private:
  static uint64_t slot_hash(uint8_t family, const uint8_t* address, uint16_t port_be,
                            uint8_t protocol) {
    uint64_t lo, hi;
    std::memcpy(&lo, address, 8);
    std::memcpy(&hi, address + 8, 8);
    const uint64_t tag = (uint64_t{family} << 24) | (uint64_t{protocol} << 16) | port_be;
    return hash_detail::mum(lo ^ hash_detail::kSecret[0], hi ^ tag ^ hash_detail::kSecret[1]);
  }
  static bool matches(const VipSlot& s, uint8_t family, const uint8_t* address, uint16_t port_be,
                      uint8_t protocol) {
    return s.family == family && s.port_be == port_be && s.protocol == protocol &&
           std::memcmp(s.address, address, 16) == 0;
  }
  const VipSlot* probe(uint8_t family, const uint8_t* address, uint16_t port_be,
                       uint8_t protocol) const {
    uint64_t i = slot_hash(family, address, port_be, protocol) & mask_;
    // At most half full, so a probe always meets an empty slot.
    for (;;) {
      const VipSlot& s = slots_[i];
      if (s.family == 0) return nullptr;
      if (matches(s, family, address, port_be, protocol)) return &s;
      i = (i + 1) & mask_;
    }
  }
  void insert(uint8_t family, const uint8_t* address, uint16_t port_be, uint8_t protocol,
              uint32_t vip_index) {
    uint64_t i = slot_hash(family, address, port_be, protocol) & mask_;
    while (slots_[i].family != 0) {
      if (matches(slots_[i], family, address, port_be, protocol)) return;
      i = (i + 1) & mask_;
    }
    VipSlot& s = slots_[i];
    std::memcpy(s.address, address, 16);
    s.port_be = port_be;
    s.protocol = protocol;
    s.family = family;
    s.vip_index = vip_index;
  }

  std::vector<VipSlot> slots_ = std::vector<VipSlot>(16);
  uint64_t mask_ = 15;
};

}  // namespace sluice
