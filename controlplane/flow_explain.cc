#include "controlplane/flow_explain.h"

#include <arpa/inet.h>

#include <cstring>

namespace sluice::cp {

FlowKey make_flow_key(const FlowQuery& q) {
  FlowKey key;
  std::memset(&key, 0, sizeof key);  // the hash reads every byte
  std::memcpy(key.src, q.client.bytes, 16);
  std::memcpy(key.dst, q.vip.bytes, 16);
  key.src_port = htons(q.client_port);
  key.dst_port = htons(q.vip_port);
  key.protocol = q.protocol;
  key.family = q.vip.family;
  return key;
}

const VipConfig* match_vip(const TableConfig& config, const IpAddress& address, uint16_t port,
                           uint8_t protocol) {
  const VipConfig* any_port = nullptr;
  for (const VipConfig& vip : config.vips) {
    if (!(vip.address == address) || vip.protocol != protocol) continue;
    if (vip.port == port) return &vip;
    if (vip.port == 0) any_port = &vip;
  }
  return any_port;
}

std::string FlowExplainer::explain(const TableConfig& config, const FlowQuery& q, uint64_t seed,
                                   FlowAnswer& out) {
  out = FlowAnswer{};
  out.vip = match_vip(config, q.vip, q.vip_port, q.protocol);
  if (out.vip == nullptr) return {};
  const VipConfig& vip = *out.vip;
  auto it = tables_.find(vip.id);
  if (it == tables_.end()) {
    std::vector<MaglevBackend> turns;
    for (const BackendConfig& be : vip.backends) {
      const uint32_t weight = be.state == BackendState::kActive ? be.weight : 0;
      turns.push_back(MaglevBackend{be.name, weight, be.id});
    }
    std::vector<uint32_t> table;
    if (std::string e = maglev_build(turns, vip.table_size, table); !e.empty()) return e;
    // Bounded: a few of the largest tables (16M slots, 64 MiB each) at most.
    if (cached_slots_ + table.size() > kMaxCachedSlots) invalidate();
    cached_slots_ += table.size();
    it = tables_.emplace(vip.id, std::move(table)).first;
  }
  out.hash = flow_hash(make_flow_key(q), seed).hash;
  out.slot = maglev_slot(out.hash, vip.table_size);
  const uint32_t id = it->second[out.slot];
  if (id == kMaglevNoBackend) return {};
  for (const BackendConfig& be : vip.backends) {
    if (be.id == id) out.backend = &be;
  }
  return {};
}

}  // namespace sluice::cp
