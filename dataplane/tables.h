// Immutable forwarding tables: one snapshot holds every VIP, its Maglev
// lookup table and every backend. Built by TableBuilder off the polling
// loop, published by TablePublisher with one pointer store, read by workers
// without locks, never modified after publication (CONVENTIONS.md item 7).
//
// Maglev tables are shared: a snapshot holds a reference to each VIP's
// table, so a change rebuilds only the VIPs whose inputs changed and the
// next snapshot shares the rest. A table is freed when the last snapshot
// holding it is reclaimed, that is after the RCU grace period of the
// snapshot that dropped it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/table_config.h"
#include "common/vip_index.h"

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

// One cache line per VIP: what every packet reads (id, encap, the tables'
// pointers) first, the miss path's scheduling fields after.
struct alignas(64) VipEntry {
  uint32_t id;
  uint32_t maglev_size;
  // maglev_size backend ids each (0 = no backend): the table for new flows,
  // and the one for packets of flows under way that miss the connection
  // table (MaglevTurns, common/table_config.h). The same pointer unless a
  // backend drains.
  const uint32_t* maglev;
  const uint32_t* maglev_existing;
  uint8_t family;
  uint8_t protocol;
  Encap encap;
  Scheduler scheduler;
  uint16_t port_be;           // 0 = all ports
  NoBackend no_backend;
  uint8_t pad;
  // The host-local schedulers' candidates for new flows (vip_candidates).
  Candidates candidates;
};
static_assert(sizeof(VipEntry) == 64);

// One VIP's tables: the Maglev slots as build_vip_tables lays them out, and
// the candidates of the host-local schedulers (vip_candidates). Both follow
// from the same inputs (same_maglev_inputs), so a build shares them or
// makes both.
struct MaglevTable {
  std::vector<uint32_t> slots;
  std::vector<uint32_t> candidate_ids;
  std::vector<uint64_t> candidate_cumulative;
};

struct TableSnapshot {
  uint64_t generation = 0;
  std::vector<VipEntry> vips;
  std::vector<BackendEntry> backends;                      // size max_backend_id + 1
  std::vector<std::shared_ptr<const MaglevTable>> maglev;  // owns VipEntry::maglev
  VipIndex vip_index;                                      // into `vips`

  // Finds the VIP for a destination; `address` is 16 bytes in FlowKey layout.
  // Returns nullptr if none. The exact port, then the all-ports VIP.
  const VipEntry* find_vip(uint8_t family, const uint8_t* address, uint16_t port_be,
                           uint8_t protocol) const {
    const int64_t i = vip_index.find(family, address, port_be, protocol);
    return i < 0 ? nullptr : &vips[static_cast<size_t>(i)];
  }
  // Whether any VIP has this address.
  bool is_vip_address(uint8_t family, const uint8_t* address) const {
    return vip_index.has_address(family, address);
  }
};

}  // namespace sluice::dp
