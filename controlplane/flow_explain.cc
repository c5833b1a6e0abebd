#include "controlplane/flow_explain.h"

#include "common/flow_key.h"
#include "common/net_headers.h"

namespace sluice::cp {

FlowKey make_flow_key(const FlowQuery& q) {
  return sluice::make_flow_key(q.vip.family, q.client.bytes, q.client_port, q.vip.bytes,
                               q.vip_port, q.protocol);
}

std::string FlowExplainer::explain(const TableConfig& config, const FlowQuery& q, uint64_t seed,
                                   FlowAnswer& out) {
  out = FlowAnswer{};
  if (!index_valid_) {
    index_.reset(config.vips.size());
    for (size_t i = 0; i < config.vips.size(); ++i) {
      const VipConfig& v = config.vips[i];
      index_.add(v.address.family, v.address.bytes, net::host_to_be16(v.port), v.protocol,
                 static_cast<uint32_t>(i));
    }
    index_valid_ = true;
  }
  const int64_t i =
      index_.find(q.vip.family, q.vip.bytes, net::host_to_be16(q.vip_port), q.protocol);
  if (i < 0) return {};
  out.vip = &config.vips[static_cast<size_t>(i)];
  const VipConfig& vip = *out.vip;
  auto it = tables_.find(vip.id);
  if (it == tables_.end()) {
    std::vector<uint32_t> table;
    if (std::string e = build_vip_tables(vip, table); !e.empty()) return e;
    // Bounded: a few of the largest tables (16M slots, 64 MiB each) at most.
    if (cached_slots_ + table.size() > kMaxCachedSlots) {
      tables_.clear();
      cached_slots_ = 0;
    }
    cached_slots_ += table.size();
    it = tables_.emplace(vip.id, std::move(table)).first;
  }
  const FlowHash h = flow_hash(make_flow_key(q), seed);
  out.hash = h.hash;
  out.fingerprint = h.fingerprint;
  out.slot = maglev_slot(
      maglev_input(vip.scheduler, out.hash, q.client.bytes, q.client.family, seed),
      vip.table_size);
  const std::vector<uint32_t>& tables = it->second;
  // build_vip_tables: the existing-flows table follows only while a backend drains.
  const size_t existing_at = tables.size() > vip.table_size ? vip.table_size : 0;
  const uint32_t id = tables[out.slot];
  const uint32_t existing_id = tables[existing_at + out.slot];
  // A host-local scheduler picks a new flow's backend on the worker that
  // sees its first packet, from state only that worker has: no answer here.
  const bool host_local = scheduler_is_host_local(vip.scheduler);
  for (const BackendConfig& be : vip.backends) {
    if (!host_local && id != kMaglevNoBackend && be.id == id) out.backend = &be;
    if (existing_id != kMaglevNoBackend && be.id == existing_id) out.existing_backend = &be;
  }
  return {};
}

}  // namespace sluice::cp
