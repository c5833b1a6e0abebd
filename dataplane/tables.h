// Immutable forwarding tables: one snapshot holds every VIP, its Maglev
// lookup table and every backend. Built by build_tables() on the main lcore,
// published by TablePublisher with one pointer store, read by workers without
// locks, never modified after publication (CONVENTIONS.md item 7).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/table_config.h"

namespace sluice::dp {

// What a worker needs about a backend, indexed by backend id (0 = none).
struct BackendEntry {
  uint32_t vip_id;            // the VIP it belongs to; 0 = slot unused
  uint8_t family;             // 4 or 6
  uint8_t keeps_flows;        // active or draining: existing flows may stay
  uint8_t pad[2];
  uint8_t address[16];
};
static_assert(sizeof(BackendEntry) == 24);

struct VipEntry {
  uint32_t id;
  uint32_t maglev_size;
  const uint32_t* maglev;     // maglev_size backend ids; 0 = no backend
  uint8_t family;
  uint8_t protocol;
  Encap encap;
  uint8_t pad;
  uint16_t port_be;           // 0 = all ports
};

// Open-addressing map from (address, port, protocol) to a VIP. A slot with
// protocol 0 and port 0 marks "this address belongs to some VIP" (used for
// ICMP and for telling "a fragment for a VIP" from "not for us").
struct alignas(32) VipSlot {
  uint8_t address[16];
  uint16_t port_be;
  uint8_t protocol;
  uint8_t family;             // 0 = empty slot
  uint32_t vip_index;         // into TableSnapshot::vips
  uint8_t pad[4];
};
static_assert(sizeof(VipSlot) == 32);

inline constexpr uint8_t kAnyProtocol = 0;

struct TableSnapshot {
  uint64_t generation = 0;
  std::vector<VipEntry> vips;
  std::vector<BackendEntry> backends;           // size max_backend_id + 1
  std::vector<std::vector<uint32_t>> maglev;    // owns VipEntry::maglev
  std::vector<VipSlot> vip_slots;               // power-of-two size
  uint64_t vip_slot_mask = 0;

  // Finds the VIP for a destination; `address` is 16 bytes in FlowKey layout.
  // Returns nullptr if none. Tries the exact port, then the all-ports VIP.
  const VipEntry* find_vip(uint8_t family, const uint8_t* address, uint16_t port_be,
                           uint8_t protocol) const;
  // Whether any VIP has this address.
  bool is_vip_address(uint8_t family, const uint8_t* address) const;

 private:
  const VipSlot* probe(uint8_t family, const uint8_t* address, uint16_t port_be,
                       uint8_t protocol) const;
};

// Validates `config` as a whole (validate_table_config) and builds a snapshot
// with the Maglev table of every VIP. On failure returns nullptr and sets
// `error` to a message naming the field.
std::unique_ptr<TableSnapshot> build_tables(const TableConfig& config, const TableLimits& limits,
                                            uint64_t generation, std::string& error);

}  // namespace sluice::dp
