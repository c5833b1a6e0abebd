#include "tools/bench/world.h"

#include <rte_cycles.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::bench {

TableConfig make_table_config(const WorldSpec& spec) {
  const uint8_t backend_family = spec.backend_family == 0 ? spec.family : spec.backend_family;
  TableConfig config;
  config.vips.reserve(spec.vips);
  for (uint32_t v = 0; v < spec.vips; ++v) {
    const Endpoint e = vip_endpoint(spec.family, v);
    VipConfig vip;
    vip.id = v + 1;
    vip.address.family = spec.family;
    std::memcpy(vip.address.bytes, e.addr, 16);
    vip.port = __builtin_bswap16(e.port_be);
    vip.protocol = 6;
    vip.encap = spec.encap;
    vip.table_size = spec.table_size;
    vip.scheduler = spec.scheduler;
    vip.backends.reserve(spec.backends_per_vip);
    for (uint32_t b = 0; b < spec.backends_per_vip; ++b) {
      BackendConfig be;
      be.id = v * spec.backends_per_vip + b + 1;
      be.name = "vip" + std::to_string(v) + "-be" + std::to_string(b);
      be.address = backend_address(backend_family, b);
      if (b < spec.draining_backends) be.state = BackendState::kDraining;
      vip.backends.push_back(std::move(be));
    }
    config.vips.push_back(std::move(vip));
  }
  return config;
}

TableLimits make_limits(const WorldSpec& spec) {
  TableLimits limits;
  limits.max_vips = spec.max_vips;
  limits.max_backend_id = spec.max_backend_id;
  limits.outer_v4 = true;
  limits.outer_v6 = true;
  return limits;
}

dp::ForwardingConfig make_forwarding_config(const WorldSpec& spec) {
  dp::ForwardingConfig f;
  std::memcpy(f.port_mac, kPortMac, 6);
  std::memcpy(f.next_hop_mac, kNextHopMac, 6);
  f.outer_src_v4 = outer_source(4);
  f.outer_src_v6 = outer_source(6);
  f.mtu = 1500;
  f.hash_seed = spec.hash_seed;
  // Far longer than any run: no established or UDP entry expires while it
  // is measured. Half-open and closing entries keep lb-dataplane's short
  // defaults, as the flood scenario's SYNs would meet them.
  f.tcp_idle_timeout_s = 3600;
  f.udp_idle_timeout_s = 3600;
  f.tsc_hz = rte_get_tsc_hz();
  f.flows_per_lcore = spec.flows_per_lcore;
  f.max_inserts_per_s = spec.max_inserts_per_s;
  f.max_vips = spec.max_vips;
  f.max_backend_id = spec.max_backend_id;
  return f;
}

World::World(const WorldSpec& spec) : spec_(spec) {
  if (spec_.backend_family == 0) spec_.backend_family = spec_.family;
  vips_.reserve(spec_.vips);
  for (uint32_t v = 0; v < spec_.vips; ++v) vips_.push_back(vip_endpoint(spec_.family, v));
  // No registered readers: the bench lcore reads one snapshot that never
  // changes while it is measured.
  tables_ = std::make_unique<dp::TablePublisher>(make_limits(spec_), 1);
  const dp::ApplyResult r = tables_->apply(make_table_config(spec_));
  if (!r.ok) throw std::runtime_error("tables refused: " + r.error);
  apply_ns_ = r.build_ns;
  ctx_ = std::make_unique<dp::WorkerContext>(make_forwarding_config(spec_), *tables_, 0);
}

}  // namespace sluice::bench
