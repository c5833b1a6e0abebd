#include "controlplane/metrics_collector.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/table_config.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Counters are plain per-lcore increments by the workers; read them relaxed
// (an aligned 64-bit load is never torn; staleness is fine).
uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void sample(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

MetricFamily single(const std::string& name, const std::string& help, MetricType type,
                    double value) {
  MetricFamily f = family(name, help, type);
  sample(f, {}, value);
  return f;
}

double as_double(uint64_t v) { return static_cast<double>(v); }

// Shared memory: printable ASCII only, as lbctl status shows it.
std::string text(const char* bytes, size_t size) {
  std::string t(bytes, strnlen(bytes, size));
  for (char& c : t) c = c >= 0x20 && c < 0x7f ? c : '?';
  return t;
}

uint64_t unix_seconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Counters of the list that also get a per-lcore series (the worker's own
// load: received, transmitted, loop passes, busy time).
bool per_lcore(const char* name) {
  static const char* const kPerLcore[] = {"rx_packets", "tx_packets", "worker_polls",
                                          "worker_empty_polls", "worker_busy_cycles"};
  for (const char* n : kPerLcore) {
    if (std::strcmp(n, name) == 0) return true;
  }
  return false;
}

int counter_index(const char* name) {
  for (size_t i = 0; i < kCounterCount; ++i) {
    if (std::strcmp(kCounterInfo[i].name, name) == 0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

CounterMetricName metric_name_for_counter(const char* counter) {
  const std::string name = counter;
  CounterMetricName out;
  if (name.rfind("drop_", 0) == 0) {
    out.name = "sluice_packets_dropped_total";
    out.reason = name.substr(5);
  } else if (name.rfind("not_", 0) == 0) {
    // Traffic that is not ours to forward (not_for_us, not_our_mac...):
    // one family with the counter's name as reason (as a metric name,
    // "_us" would read as microseconds).
    out.name = "sluice_packets_ignored_total";
    out.reason = name;
  } else if (name.size() > 7 && name.compare(name.size() - 7, 7, "_cycles") == 0) {
    out.name = "sluice_" + name.substr(0, name.size() - 7) + "_seconds_total";
    out.cycles = true;
  } else {
    out.name = "sluice_" + name + "_total";
  }
  return out;
}

MetricsCollector::MetricsCollector(const MetricsHub& hub, CollectorOptions options)
    : hub_(hub), options_(std::move(options)), start_unix_s_(unix_seconds()) {}

const std::unordered_map<uint32_t, uint64_t>& MetricsCollector::maglev_slots(
    const VipConfig& vip) const {
  SlotCache& c = slot_cache_[vip.id];
  if (!c.slots.empty() && same_maglev_inputs(c.vip, vip)) return c.slots;
  c.vip = vip;
  c.slots.clear();
  std::vector<uint32_t> table;
  if (build_vip_maglev(vip, table).empty()) {
    for (uint32_t id : table) ++c.slots[id];
  }
  for (const BackendConfig& be : vip.backends) c.slots.try_emplace(be.id, 0);
  return c.slots;
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const MetricsSnapshot snap = hub_.snapshot();
  std::vector<MetricFamily> out;

  MetricFamily build = family("sluice_build_info",
                              "Sluice's version and the commit it was built from (always 1)",
                              MetricType::Gauge);
  sample(build, {{"commit", options_.commit}, {"version", options_.version}}, 1);
  out.push_back(std::move(build));
  out.push_back(single("sluice_controlplane_start_time_seconds",
                       "When lb-controlplane started (Unix time)", MetricType::Gauge,
                       as_double(start_unix_s_)));

  // --- The control plane's own figures (published by the event loop).
  const ControlFigures& fig = snap.figures;
  out.push_back(single("sluice_config_in_sync",
                       "1 when the dataplane acknowledged the desired configuration and "
                       "publishes its digest",
                       MetricType::Gauge, fig.in_sync ? 1 : 0));
  out.push_back(single("sluice_config_queued_changes",
                       "Changes waiting for the push in flight to end", MetricType::Gauge,
                       as_double(fig.queued_changes)));
  out.push_back(single("sluice_config_changes_pushed_total",
                       "Changes carried by the transactions pushed to the dataplane",
                       MetricType::Counter, as_double(fig.changes_pushed)));
  out.push_back(single("sluice_api_connections", "Open control API connections",
                       MetricType::Gauge, as_double(fig.api_connections)));
  out.push_back(single("sluice_audit_log_lines_total", "Audit log lines written",
                       MetricType::Counter, as_double(fig.audit_lines)));
  out.push_back(single("sluice_audit_log_write_errors_total",
                       "Audit log lines that could not be written (disk full, I/O error); the "
                       "change stands",
                       MetricType::Counter, as_double(fig.audit_write_errors)));
  out.push_back(single("sluice_audit_log_reopens_total",
                       "Times the audit log was found deleted and created again",
                       MetricType::Counter, as_double(fig.audit_reopens)));
  out.push_back(single("sluice_audit_log_rotations_total", "Audit log rotations",
                       MetricType::Counter, as_double(fig.audit_rotations)));

  const ControlSegment* seg = snap.segment.get();
  out.push_back(single("sluice_dataplane_up",
                       "1 when a dataplane is attached and its heartbeat is fresh",
                       MetricType::Gauge, seg != nullptr && snap.dataplane_alive ? 1 : 0));
  MetricFamily info = family("sluice_config_info",
                             "Digests of the desired configuration and of what the dataplane "
                             "applied (always 1; equal digests: in sync)",
                             MetricType::Gauge);
  sample(info,
         {{"applied_digest",
           seg != nullptr ? hex64(seg->header().applied_digest.load(std::memory_order_acquire))
                          : ""},
          {"desired_digest", hex64(fig.desired_digest)}},
         1);
  out.push_back(std::move(info));
  if (seg == nullptr) return out;

  const SegmentHeader& h = seg->header();
  const uint32_t lcores = h.worker_lcores;
  out.push_back(single("sluice_dataplane_start_time_seconds",
                       "When lb-dataplane started (Unix time); counters restart from 0 then",
                       MetricType::Gauge, static_cast<double>(h.start_unix_ns / 1000000000)));
  out.push_back(single("sluice_dataplane_worker_lcores", "Worker lcores of the dataplane",
                       MetricType::Gauge, lcores));

  // --- The counter list: summed over the lcores, one metric each.
  std::vector<std::vector<uint64_t>> per(lcores, std::vector<uint64_t>(kCounterCount));
  std::vector<uint64_t> sum(kCounterCount, 0);
  for (uint32_t l = 0; l < lcores; ++l) {
    const LcoreCounters& c = *seg->lcore_counters(l);
    for (size_t i = 0; i < kCounterCount; ++i) {
      per[l][i] = load(c.value[i]);
      sum[i] += per[l][i];
    }
  }
  const double tsc_hz = h.tsc_hz != 0 ? static_cast<double>(h.tsc_hz) : 1.0;
  std::vector<MetricFamily> list_families;
  auto family_for = [&](const std::string& name, const std::string& help) -> MetricFamily& {
    for (MetricFamily& f : list_families) {
      if (f.name == name) return f;
    }
    list_families.push_back(family(name, help, MetricType::Counter));
    return list_families.back();
  };
  for (size_t i = 0; i < kCounterCount; ++i) {
    const CounterMetricName n = metric_name_for_counter(kCounterInfo[i].name);
    const double v = n.cycles ? as_double(sum[i]) / tsc_hz : as_double(sum[i]);
    if (!n.reason.empty()) {
      const bool drop = n.name == "sluice_packets_dropped_total";
      sample(family_for(n.name, drop ? "Packets dropped by the dataplane, by reason "
                                       "(common/counters.h)"
                                     : "Packets that are not the dataplane's to forward (not "
                                       "for a VIP, not to our MAC), by reason"),
             {{"reason", n.reason}}, v);
    } else {
      sample(family_for(n.name, kCounterInfo[i].help), {}, v);
    }
    if (!per_lcore(kCounterInfo[i].name)) continue;
    MetricFamily& f = family_for("sluice_lcore_" + n.name.substr(7),
                                 std::string(kCounterInfo[i].help) + ", per worker lcore");
    for (uint32_t l = 0; l < lcores; ++l) {
      const double lv = n.cycles ? as_double(per[l][i]) / tsc_hz : as_double(per[l][i]);
      sample(f, {{"lcore", std::to_string(l)}}, lv);
    }
  }
  for (MetricFamily& f : list_families) out.push_back(std::move(f));

  // Busy ratio: busy TSC time over wall time since the previous scrape
  // (at least half a second apart; the first one: since the start).
  const int busy_index = counter_index("worker_busy_cycles");
  if (busy_index >= 0) {
    MetricFamily ratio = family("sluice_lcore_busy_ratio",
                                "Share of time the worker lcore spent on loop passes that "
                                "received packets, since the previous scrape (0 to 1)",
                                MetricType::Gauge);
    const uint64_t now = monotonic_ns();
    std::lock_guard lock(mu_);
    const bool fresh = busy_.boot_id != h.boot_id || busy_.busy_cycles.size() != lcores;
    if (fresh) {
      busy_.boot_id = h.boot_id;
      busy_.busy_cycles.assign(lcores, 0);
      // Since the start: the dataplane's uptime by the wall clock.
      const uint64_t wall = unix_seconds() * 1000000000ull;
      busy_.at_ns = now - std::min<uint64_t>(now, wall > h.start_unix_ns ? wall - h.start_unix_ns : 0);
    }
    const double seconds = static_cast<double>(now - busy_.at_ns) / 1e9;
    for (uint32_t l = 0; l < lcores; ++l) {
      const uint64_t cycles = per[l][busy_index];
      const double busy = as_double(cycles - std::min(cycles, busy_.busy_cycles[l])) / tsc_hz;
      sample(ratio, {{"lcore", std::to_string(l)}},
             seconds > 0 ? std::clamp(busy / seconds, 0.0, 1.0) : 0.0);
    }
    if (fresh || seconds >= 0.5) {
      for (uint32_t l = 0; l < lcores; ++l) busy_.busy_cycles[l] = per[l][busy_index];
      busy_.at_ns = now;
    }
    out.push_back(std::move(ratio));
  }

  // --- Connection tables: an estimate of entries holding a flow. Every
  // insert fills a slot except those that took a used entry's place (an
  // expired one or a replaced live one); expiry is lazy, so this counts
  // expired entries not yet reused too: an upper bound of live flows.
  const uint64_t capacity = h.conn_capacity_per_lcore.load(std::memory_order_relaxed);
  const int inserts = counter_index("conn_inserts");
  if (capacity != 0 && inserts >= 0) {
    MetricFamily entries = family("sluice_conn_table_entries",
                                  "Connection table entries holding a flow, live or expired "
                                  "but not yet reused (an upper bound of live flows), per lcore",
                                  MetricType::Gauge);
    uint64_t total = 0;
    for (uint32_t l = 0; l < lcores; ++l) {
      uint64_t used = per[l][inserts];
      for (size_t i = 0; i < kCounterCount; ++i) {
        const std::string name = kCounterInfo[i].name;
        if (name == "conn_expired_reused" || name.rfind("conn_replaced_", 0) == 0) {
          used -= std::min(used, per[l][i]);
        }
      }
      used = std::min(used, capacity);
      total += used;
      sample(entries, {{"lcore", std::to_string(l)}}, as_double(used));
    }
    out.push_back(std::move(entries));
    out.push_back(single("sluice_conn_table_capacity_entries",
                         "Connection table entries of all worker lcores", MetricType::Gauge,
                         as_double(capacity * lcores)));
    out.push_back(single("sluice_conn_table_fill_ratio",
                         "sluice_conn_table_entries summed over sluice_conn_table_capacity_entries",
                         MetricType::Gauge,
                         as_double(total) / as_double(capacity * std::max(lcores, 1u))));
  }

  // --- Tables.
  out.push_back(single("sluice_table_generation",
                       "Generation of the tables the dataplane publishes (+1 per applied change)",
                       MetricType::Gauge,
                       as_double(h.applied_generation.load(std::memory_order_acquire))));
  out.push_back(single("sluice_table_memory_used_bytes", "Bytes the dataplane's tables use",
                       MetricType::Gauge,
                       as_double(h.table_memory_used.load(std::memory_order_relaxed))));
  out.push_back(single("sluice_table_memory_budget_bytes",
                       "Bytes the dataplane's tables may use (0: no budget)", MetricType::Gauge,
                       as_double(h.table_memory_budget.load(std::memory_order_relaxed))));
  out.push_back(single("sluice_table_refused_transactions_total",
                       "Transactions the dataplane refused (invalid, over budget, out of memory)",
                       MetricType::Counter,
                       as_double(h.refused_transactions.load(std::memory_order_relaxed))));
  out.push_back(single("sluice_table_build_in_progress", "1 while the dataplane builds tables",
                       MetricType::Gauge,
                       h.build_total_vips.load(std::memory_order_relaxed) != 0 ? 1 : 0));

  // --- Rings between the processes.
  MetricFamily ring_cap = family("sluice_ring_capacity_records",
                                 "Records a ring between control plane and dataplane holds",
                                 MetricType::Gauge);
  MetricFamily ring_used = family("sluice_ring_used_records",
                                  "Records waiting in a ring between control plane and dataplane",
                                  MetricType::Gauge);
  for (const auto& [name, ring] : {std::pair<const char*, const SpscRing*>{"command", &seg->commands()},
                                   {"event", &seg->events()}}) {
    sample(ring_cap, {{"ring", name}}, ring->slots());
    sample(ring_used, {{"ring", name}}, as_double(ring->used()));
  }
  out.push_back(std::move(ring_cap));
  out.push_back(std::move(ring_used));

  // --- Ports: DPDK's statistics as the main loop copied them.
  const uint32_t n_ports = std::min(h.port_count.load(std::memory_order_acquire), kMaxSegmentPorts);
  std::vector<MetricFamily> port_families;
  for (const PortStatInfo& info : kPortStatInfo) {
    port_families.push_back(family(std::string("sluice_port_") + info.metric,
                                   std::string(info.help) + " (rte_eth_stats." + info.field +
                                       ", refreshed about once a second)",
                                   MetricType::Counter));
  }
  // The AF_XDP steering program's counters, on the ports that run it.
  std::vector<MetricFamily> xdp_families;
  for (const PortStatInfo& info : kXdpStatInfo) {
    xdp_families.push_back(family(std::string("sluice_port_") + info.metric,
                                  std::string(info.help) + " (refreshed about once a second)",
                                  MetricType::Counter));
  }
  MetricFamily link_up = family("sluice_port_link_up", "1 when the port's link is up",
                                MetricType::Gauge);
  MetricFamily query_errors = family("sluice_port_query_errors_total",
                                     "Link, MTU or statistics queries of the port that failed",
                                     MetricType::Counter);
  for (uint32_t p = 0; p < n_ports; ++p) {
    const PortStatus& ps = h.ports[p];
    const Labels labels = {{"name", text(ps.name, sizeof ps.name)},
                           {"port", std::to_string(ps.port_id)}};
    for (size_t i = 0; i < kPortStatCount; ++i) {
      sample(port_families[i], labels, as_double(ps.stats[i].load(std::memory_order_relaxed)));
    }
    if (static_cast<XdpMode>(ps.xdp_mode.load(std::memory_order_relaxed)) == XdpMode::kSteering) {
      for (size_t i = 0; i < kXdpStatCount; ++i) {
        sample(xdp_families[i], labels, as_double(ps.xdp_stats[i].load(std::memory_order_relaxed)));
      }
    }
    sample(link_up, labels, (ps.link.load(std::memory_order_relaxed) & 1) != 0 ? 1 : 0);
    sample(query_errors, labels, as_double(ps.query_errors.load(std::memory_order_relaxed)));
  }
  for (MetricFamily& f : port_families) out.push_back(std::move(f));
  for (MetricFamily& f : xdp_families) out.push_back(std::move(f));
  out.push_back(std::move(link_up));
  out.push_back(std::move(query_errors));

  // --- Next hops: an alert on 0 catches a router the kernel cannot resolve
  // before the drops (drop_no_neighbour) pile up.
  MetricFamily nh_resolved = family(
      "sluice_next_hop_resolved",
      "1 when the family's next hop has a MAC (--next-hop-mac, or resolved from the kernel's "
      "neighbour table for --next-hop-ip); 0: packets to its backends are dropped "
      "(drop_no_neighbour)",
      MetricType::Gauge);
  MetricFamily nh_changes = family("sluice_next_hop_changes_total",
                                   "Changes of the family's next-hop MAC, to unresolved included",
                                   MetricType::Counter);
  for (const NextHopStatus& n : h.next_hops) {
    // Acquire: pairs with the dataplane's release of source after family.
    const uint32_t source = n.source.load(std::memory_order_acquire);
    const char* source_name = next_hop_source_name(source);
    const Labels labels = {{"family", n.family == 6 ? "6" : "4"}, {"source", source_name}};
    sample(nh_resolved, labels, packed_mac_known(n.mac.load(std::memory_order_relaxed)) ? 1 : 0);
    sample(nh_changes, labels, as_double(n.changes.load(std::memory_order_relaxed)));
  }
  out.push_back(std::move(nh_resolved));
  out.push_back(std::move(nh_changes));

  // --- Per VIP and per backend, labelled by the desired configuration.
  if (!snap.config) return out;
  const ConfigSnapshot& cfg = *snap.config;
  MetricFamily vip_packets = family("sluice_vip_packets_total",
                                    "Packets forwarded to the VIP's backends", MetricType::Counter);
  MetricFamily vip_bytes = family("sluice_vip_bytes_total",
                                  "Bytes (inner IP packets) forwarded to the VIP's backends",
                                  MetricType::Counter);
  MetricFamily vip_flows = family("sluice_vip_new_flows_total",
                                  "New flows the VIP's scheduler placed", MetricType::Counter);
  MetricFamily vip_backends = family("sluice_vip_backends", "Backends configured for the VIP",
                                     MetricType::Gauge);
  MetricFamily vip_table = family("sluice_vip_maglev_table_size", "The VIP's Maglev table size",
                                  MetricType::Gauge);
  MetricFamily vip_drops = family("sluice_vip_packets_dropped_total",
                                  "Packets to the VIP dropped, by reason (the reasons that can "
                                  "happen once a packet's VIP is known)",
                                  MetricType::Counter);
  MetricFamily be_packets = family("sluice_backend_packets_total",
                                   "Packets forwarded to the backend", MetricType::Counter);
  MetricFamily be_bytes = family("sluice_backend_bytes_total",
                                 "Bytes (inner IP packets) forwarded to the backend",
                                 MetricType::Counter);
  MetricFamily be_flows = family("sluice_backend_new_flows_total",
                                 "New flows placed on the backend", MetricType::Counter);
  MetricFamily be_weight = family("sluice_backend_weight", "The backend's configured weight",
                                  MetricType::Gauge);
  MetricFamily be_state = family("sluice_backend_admin_state",
                                 "The backend's administrative state: 1 for the state it is in, "
                                 "0 for the others",
                                 MetricType::Gauge);
  MetricFamily be_health = family("sluice_backend_health",
                                  "The backend's health verdict: 1 for the state it is in (unknown, "
                                  "healthy, unhealthy), 0 for the others; unchecked: healthy",
                                  MetricType::Gauge);
  MetricFamily be_removed = family("sluice_backend_health_removed",
                                   "1 while health checking takes the backend out of its VIP's "
                                   "Maglev turns (within the removal cap)",
                                   MetricType::Gauge);
  MetricFamily be_slots = family("sluice_backend_maglev_slots",
                                 "Slots of the VIP's Maglev table (new flows) the backend holds",
                                 MetricType::Gauge);
  std::lock_guard lock(mu_);
  for (size_t v = 0; v < cfg.config.vips.size(); ++v) {
    const VipConfig& vip = cfg.config.vips[v];
    const std::string& key = cfg.vip_keys[v];
    const TrafficCounters vs = seg->vip_traffic(vip.id);
    sample(vip_packets, {{"vip", key}}, as_double(vs.packets));
    sample(vip_bytes, {{"vip", key}}, as_double(vs.bytes));
    sample(vip_flows, {{"vip", key}}, as_double(vs.new_flows));
    sample(vip_backends, {{"vip", key}}, as_double(vip.backends.size()));
    sample(vip_table, {{"vip", key}}, vip.table_size);
    const VipDropCounters vd = seg->vip_drops(vip.id);
    for (size_t r = 0; r < kVipDropReasonCount; ++r) {
      // The reason as sluice_packets_dropped_total labels it: without "drop_".
      sample(vip_drops, {{"reason", counter_name(kVipDropReasons[r]) + 5}, {"vip", key}},
             as_double(vd.value[r]));
    }
    if (!options_.per_backend) continue;
    const auto& slots = maglev_slots(vip);
    for (const BackendConfig& be : vip.backends) {
      const TrafficCounters bs = seg->backend_traffic(be.id);
      const Labels labels = {{"backend", be.name}, {"vip", key}};
      sample(be_packets, labels, as_double(bs.packets));
      sample(be_bytes, labels, as_double(bs.bytes));
      sample(be_flows, labels, as_double(bs.new_flows));
      sample(be_weight, labels, be.weight);
      for (BackendState s :
           {BackendState::kActive, BackendState::kDraining, BackendState::kDisabled}) {
        Labels with_state = labels;
        with_state.push_back({"state", backend_state_name(s)});
        sample(be_state, std::move(with_state), be.state == s ? 1 : 0);
      }
      const auto it = slots.find(be.id);
      sample(be_slots, labels, it != slots.end() ? as_double(it->second) : 0);
      // The health verdict, and whether it took the backend out. A backend
      // whose VIP has no check (kind none) is taken as healthy, as lbctl
      // shows it.
      if (snap.health) {
        const auto h = snap.health->find(be.id);
        const bool checked = h != snap.health->end();
        const std::string verdict = checked ? h->second.health : "healthy";
        for (const char* state : {"unknown", "healthy", "unhealthy"}) {
          Labels with_state = labels;
          with_state.push_back({"state", state});
          sample(be_health, std::move(with_state), verdict == state ? 1 : 0);
        }
        sample(be_removed, labels, checked && h->second.removed ? 1 : 0);
      }
    }
  }
  // Forget VIPs that are gone.
  if (slot_cache_.size() > cfg.config.vips.size()) {
    std::unordered_map<uint32_t, bool> present;
    for (const VipConfig& v : cfg.config.vips) present[v.id] = true;
    for (auto it = slot_cache_.begin(); it != slot_cache_.end();) {
      it = present.count(it->first) != 0 ? std::next(it) : slot_cache_.erase(it);
    }
  }
  for (MetricFamily* f :
       {&vip_packets, &vip_bytes, &vip_flows, &vip_backends, &vip_table, &vip_drops}) {
    out.push_back(std::move(*f));
  }
  if (options_.per_backend) {
    for (MetricFamily* f : {&be_packets, &be_bytes, &be_flows, &be_weight, &be_state, &be_slots,
                            &be_health, &be_removed}) {
      out.push_back(std::move(*f));
    }
  }
  return out;
}

}  // namespace sluice::cp
