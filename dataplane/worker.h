// The worker's burst function and the per-lcore state it owns (DESIGN.md
// section 2). process_burst() is the one function that forwards packets:
// the worker loop, the packet fixtures and the benchmark all call it on real
// mbufs. It never allocates, locks, throws or logs; every packet ends in
// exactly one of the three output lists, and every drop has a counter.
//
// Threads: a WorkerContext belongs to one lcore. Other threads may only read
// its counters (relaxed, summed by the reader).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <rte_mbuf.h>

#include "common/counters.h"
#include "common/ip_address.h"
#include "dataplane/conn_table.h"
#include "dataplane/packet_parse.h"
#include "dataplane/table_publisher.h"

namespace sluice::dp {

inline constexpr uint16_t kMaxBurst = 64;

// The next hop's MAC per family (index 0 IPv4, 1 IPv6), packed
// (common/next_hop_mac.h; 0: unknown, such packets are dropped as
// drop_no_neighbour). The main lcore's neighbour watch stores it when the
// kernel's entry changes; every worker loads both once per burst.
struct alignas(64) NextHopMacs {
  std::atomic<uint64_t> packed[2] = {};
};

// Settings shared by every worker; fixed at start.
struct ForwardingConfig {
  uint8_t port_mac[6] = {};        // our MAC: source of everything we send
  uint8_t next_hop_mac[6] = {};    // where encapsulated packets go (static)
  // Where the MACs come from at run time (--next-hop-ip; owned by main and
  // outliving the workers). Null: next_hop_mac for both families.
  const NextHopMacs* next_hops = nullptr;
  IpAddress outer_src_v4;          // outer source for IPv4 backends
  IpAddress outer_src_v6;          // outer source for IPv6 backends
  uint32_t mtu = 1500;             // egress IP MTU
  uint16_t gue_port = 6080;        // GUE destination UDP port
  uint64_t hash_seed = 0;          // flow hash seed; same on every host
  // Connection-table timeouts (README, "Connection table"): an established
  // TCP flow and a UDP flow keep their entry this long unused; half-open
  // (SYN only) and closing (FIN or RST seen) entries only briefly.
  uint32_t tcp_idle_timeout_s = 300;
  uint32_t udp_idle_timeout_s = 30;
  uint32_t tcp_half_open_timeout_s = 5;
  uint32_t tcp_closing_timeout_s = 10;
  // Flood guard: new entries a worker makes per second at most (0: no cap).
  // Past it flows are still forwarded, just not remembered.
  uint32_t max_inserts_per_s = 125000;
  // TSC when the worker's connection table started empty (0: at its first
  // burst); UDP misses within a UDP idle timeout of it may be flows of a
  // previous dataplane (common/conn_state.h, miss_rule).
  uint64_t start_tsc = 0;
  // Replies per second per lcore: ICMP too big, and the no-backend answers
  // (RST, unreachable); one token bucket for all of them.
  uint32_t icmp_rate_per_s = 100;
  uint32_t icmp_burst = 50;
  uint64_t tsc_hz = 0;             // rte_get_tsc_hz()
  uint64_t flows_per_lcore = 1u << 20;
  uint32_t max_vips = 4096;        // sizes of the per-VIP / per-backend counters
  uint32_t max_backend_id = 65535;
  // Further unicast destination MACs whose frames are ours (--accept-mac,
  // for VRRP-style virtual MACs); every other frame is dropped and counted
  // (not_our_mac, not_our_mac_group). Group addresses are refused at start.
  // Last, out of the way of what the burst reads.
  uint8_t accept_macs[kMaxAcceptMacs][6] = {};
  uint32_t n_accept_macs = 0;
  // An exception interface takes the kernel's traffic (--exception-port,
  // DESIGN.md section 6): frames that are not for a VIP (not_for_us) and
  // broadcast or multicast frames (not_our_mac_group: ARP, neighbour
  // discovery) go to BurstOutput::to_kernel instead of being dropped.
  bool kernel_path = false;
};

// Where process_burst put each packet. The caller transmits the first two
// lists, hands the fourth to the kernel (exception interface) and frees
// the third.
struct BurstOutput {
  rte_mbuf* to_backend[kMaxBurst];
  rte_mbuf* to_client[kMaxBurst];  // ICMP replies to clients
  rte_mbuf* dropped[kMaxBurst];    // includes not-for-us traffic without a kernel path
  rte_mbuf* to_kernel[kMaxBurst];  // the kernel's frames; only with ForwardingConfig::kernel_path
  uint16_t n_to_backend = 0;
  uint16_t n_to_client = 0;
  uint16_t n_dropped = 0;
  uint16_t n_to_kernel = 0;
};

// Where a worker's counters live: in the shared-memory segment, so the
// control plane reads them, or (all null) in memory the context allocates.
struct CounterStorage {
  LcoreCounters* lcore = nullptr;
  TrafficCounters* vips = nullptr;      // max_vips + 1 entries
  TrafficCounters* backends = nullptr;  // max_backend_id + 1 entries
  VipDropCounters* vip_drops = nullptr;  // max_vips + 1 entries
};

class alignas(64) WorkerContext {
 public:
  WorkerContext(const ForwardingConfig& config, const TablePublisher& tables, uint32_t reader_id,
                CounterStorage storage = {});

  const ForwardingConfig& config() const { return config_; }
  const TablePublisher& tables() const { return tables_; }
  uint32_t reader_id() const { return reader_id_; }
  const MacAdmission& admission() const { return admission_; }
  const NextHopMacs& next_hops() const { return *next_hops_; }
  ConnTable& conn() { return conn_; }
  const LcoreCounters& counters() const { return *counters_; }
  // For the worker loop's own outcomes (TX queue full).
  void count(Counter c, uint64_t n = 1) { counters_->add(c, n); }
  const TrafficCounters* vip_counters() const { return vip_counters_; }
  const TrafficCounters* backend_counters() const { return backend_counters_; }
  const VipDropCounters* vip_drop_counters() const { return vip_drop_counters_; }
  // Connection table clock: ticks of 2^tick_shift TSC cycles.
  uint32_t ticks(uint64_t tsc) const { return static_cast<uint32_t>(tsc >> tick_shift_); }
  uint32_t ticks_per_second() const { return ticks_per_second_; }
  // Per burst, before its packets: the flood guard's window, the start.
  void start_burst(uint64_t now_tsc);

  // Least-connections and power-of-two decide on every lcore's counts
  // (conn_table.h): `backends[l]` is lcore l's per-backend counters, this
  // one's (reader_id) included. Set once before the first maintain().
  void set_peers(const TrafficCounters* const* backends, uint32_t n);
  // Between bursts, never inside one (the worker loop, once per pass):
  // takes the other lcores' connection counts again once they are 100 ms
  // old (kConnCountsRefreshMs; a bounded slice per pass), and sweeps expired entries out of the
  // counts so that the whole table is looked at every kSweepSeconds.
  void maintain(uint64_t now_tsc);
  static constexpr uint64_t kConnCountsRefreshMs = 100;
  static constexpr uint64_t kSweepSeconds = 10;
  // A backend's connection_cost as this lcore sees it: its own entries
  // now, and the other lcores' as of the last refresh.
  uint64_t connection_cost(uint32_t backend_id) const;

 private:
  friend struct BurstRunner;

  ForwardingConfig config_;
  const TablePublisher& tables_;
  uint32_t reader_id_;
  uint32_t tick_shift_;
  uint32_t ticks_per_second_;
  // Flood guard: inserts in the current one-second window.
  uint32_t insert_cap_;
  uint32_t insert_window_start_ = 0;
  uint32_t inserts_in_window_ = 0;
  // TSC before which a UDP miss goes by the existing-flows table.
  uint64_t udp_predate_until_tsc_ = 0;
  bool started_ = false;
  // Per-lcore scheduling state, indexed by backend id: smooth weighted
  // round robin's current weights; the other lcores' active and inactive
  // entries at the last refresh. Power-of-two's random state.
  std::unique_ptr<int64_t[]> wrr_current_;
  struct PeerCount {
    uint32_t active;
    uint32_t inactive;
  };
  std::unique_ptr<PeerCount[]> peer_counts_;
  uint64_t random_state_;
  const TrafficCounters* const* peers_ = nullptr;
  uint32_t n_peers_ = 0;
  uint64_t counts_refreshed_tsc_ = 0;
  uint32_t swept_at_ = 0;  // tick of the last sweep
  bool maintained_ = false;
  // The refresh round under way: its cursor over the snapshot's VIPs and
  // their candidates, at most kPeerRefreshPerPass steps (a VIP looked at,
  // or one backend's counts read from every other lcore) per pass.
  static constexpr uint32_t kPeerRefreshPerPass = 256;
  uint64_t counts_refresh_cycles_;  // kConnCountsRefreshMs in TSC cycles
  bool refreshing_ = false;
  size_t refresh_vip_ = 0;
  uint32_t refresh_candidate_ = 0;
  void refresh_peer_count(uint32_t id);
  bool refresh_peer_counts_slice();  // true when the round is complete
  // Token bucket for replies to clients (too big, no backend), in TSC cycles.
  uint64_t icmp_tokens_;
  uint64_t icmp_last_tsc_ = 0;
  uint64_t icmp_cycles_per_token_;
  uint64_t icmp_max_tokens_;
  LcoreCounters* counters_;
  TrafficCounters* vip_counters_;
  TrafficCounters* backend_counters_;
  VipDropCounters* vip_drop_counters_;
  // Backing memory when CounterStorage was empty.
  std::unique_ptr<LcoreCounters> own_counters_;
  std::unique_ptr<TrafficCounters[]> own_vip_counters_;
  std::unique_ptr<TrafficCounters[]> own_backend_counters_;
  std::unique_ptr<VipDropCounters[]> own_vip_drop_counters_;
  const NextHopMacs* next_hops_;
  NextHopMacs own_next_hops_;  // next_hop_mac for both, when the config has none
  ConnTable conn_;
  MacAdmission admission_;  // port_mac and accept_macs, split for the per-frame check
};

// Forwards one burst of at most kMaxBurst packets. `now_tsc` is the TSC at the start of the burst (tests
// pass their own clock). Reads the current table snapshot once.
void process_burst(WorkerContext& ctx, rte_mbuf* const* pkts, uint16_t n, uint64_t now_tsc,
                   BurstOutput& out);

}  // namespace sluice::dp
