// flow.explain (docs/control-api.md): which backend a new flow goes to,
// and a flow under way that no worker holds, computed with the worker's
// own rules from common/: the flow key (make_flow_key), the seeded flow
// hash, VIP matching (VipIndex: exact port, then all-ports), the slot
// (maglev_slot) and the Maglev tables under the turn rule
// (build_vip_tables). Nothing here re-implements them; the
// agreement test checks flow explain against process_burst. Tables and the
// VIP index are cached until the state changes. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/table_config.h"
#include "common/vip_index.h"

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
  uint64_t fingerprint = 0;  // the connection table's key for the flow
  uint32_t slot = 0;
  // A new flow's; null: no backend takes new flows, or the VIP's scheduler
  // is host-local (the worker decides at the flow's first packet).
  const BackendConfig* backend = nullptr;
  // Where a packet of a flow under way goes when no worker holds the flow
  // (TCP without SYN, ICMP errors; UDP right after a dataplane restart): by
  // the existing-flows table, in which draining backends keep their turns
  // (common/conn_state.h). The same as `backend` unless a backend drains.
  const BackendConfig* existing_backend = nullptr;
};

FlowKey make_flow_key(const FlowQuery& q);

class FlowExplainer {
 public:
  // Forget cached tables (call whenever the state changes).
  void invalidate() {
    tables_.clear();
    cached_slots_ = 0;
    index_valid_ = false;
  }
  // `config` must have passed the gate. An error only if Maglev refuses,
  // which the gate rules out.
  std::string explain(const TableConfig& config, const FlowQuery& q, uint64_t seed,
                      FlowAnswer& out);

 private:
  static constexpr size_t kMaxCachedSlots = size_t{1} << 25;
  std::map<uint32_t, std::vector<uint32_t>> tables_;  // VIP id -> Maglev table
  size_t cached_slots_ = 0;
  VipIndex index_;  // into config.vips
  bool index_valid_ = false;
};

}  // namespace sluice::cp
