// flow.explain (docs/control-api.md): which backend a new flow goes to,
// computed exactly as a worker computes it (dataplane/worker.cc): the
// FlowKey in the client -> VIP direction with ports in network order, the
// seeded flow hash, the Maglev slot by multiply-shift reduction of the
// hash's upper 32 bits, and the VIP's Maglev table built from its active
// backends (draining and disabled ones take no turns, dataplane/tables.cc).
// Tables are cached per VIP until the state changes. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/table_config.h"

namespace sluice::cp {

struct FlowQuery {
  IpAddress client;
  uint16_t client_port = 0;  // host order
  IpAddress vip;
  uint16_t vip_port = 0;  // host order
  uint8_t protocol = 0;   // 6 or 17
};

struct FlowAnswer {
  const VipConfig* vip = nullptr;  // null: no VIP takes this flow
  uint64_t hash = 0;
  uint32_t slot = 0;
  const BackendConfig* backend = nullptr;  // null: no backend takes new flows
};

FlowKey make_flow_key(const FlowQuery& q);

// The worker's reduce(): maps the hash's upper 32 bits onto [0, n).
inline uint32_t maglev_slot(uint64_t hash, uint32_t n) {
  return static_cast<uint32_t>(((hash >> 32) * n) >> 32);
}

// The VIP a packet to (address, port, protocol) belongs to: the exact port
// first, then the all-ports VIP (port 0), as TableSnapshot::find_vip does.
const VipConfig* match_vip(const TableConfig& config, const IpAddress& address, uint16_t port,
                           uint8_t protocol);

class FlowExplainer {
 public:
  // Forget cached tables (call whenever the state changes).
  void invalidate() {
    tables_.clear();
    cached_slots_ = 0;
  }
  // `config` must have passed the gate. An error only if Maglev refuses,
  // which the gate rules out.
  std::string explain(const TableConfig& config, const FlowQuery& q, uint64_t seed,
                      FlowAnswer& out);

 private:
  static constexpr size_t kMaxCachedSlots = size_t{1} << 25;
  std::map<uint32_t, std::vector<uint32_t>> tables_;  // VIP id -> Maglev table
  size_t cached_slots_ = 0;
};

}  // namespace sluice::cp
