#include "dataplane/worker.h"

#include "common/conn_state.h"
#include "common/next_hop_mac.h"
#include "common/scheduler.h"

#include <rte_prefetch.h>

#include "dataplane/encap.h"
#include "dataplane/icmp_reply.h"
#include "dataplane/mbuf_chain.h"
#include "dataplane/packet_parse.h"

namespace sluice::dp {

namespace {

// Ticks of about a millisecond: the shift that brings the TSC rate to at
// least 1024 ticks per second.
uint32_t tick_shift_for(uint64_t tsc_hz) {
  uint32_t shift = 0;
  while ((tsc_hz >> (shift + 1)) >= 1024) ++shift;
  return shift;
}

MacAdmission admission_for(const ForwardingConfig& c) {
  MacAdmission a;
  a.port = MacAdmission::split(c.port_mac);
  a.n_extra = c.n_accept_macs < kMaxAcceptMacs ? c.n_accept_macs : kMaxAcceptMacs;
  for (uint32_t i = 0; i < a.n_extra; ++i) a.extra[i] = MacAdmission::split(c.accept_macs[i]);
  return a;
}

uint32_t seconds_to_ticks(uint64_t seconds, uint64_t tsc_hz, uint32_t shift) {
  const uint64_t ticks = seconds * (tsc_hz >> shift);
  return ticks > UINT32_MAX / 4 ? UINT32_MAX / 4 : static_cast<uint32_t>(ticks);
}

// Ticks per state, in ConnState order.
struct StateTimeouts {
  uint32_t ticks[kConnStateCount];
};

StateTimeouts state_timeouts(const ForwardingConfig& c, uint32_t shift) {
  StateTimeouts t{};
  auto set = [&](ConnState s, uint32_t seconds) {
    t.ticks[static_cast<uint32_t>(s)] = seconds_to_ticks(seconds, c.tsc_hz, shift);
  };
  set(ConnState::kUdp, c.udp_idle_timeout_s);
  set(ConnState::kHalfOpen, c.tcp_half_open_timeout_s);
  set(ConnState::kEstablished, c.tcp_idle_timeout_s);
  set(ConnState::kClosing, c.tcp_closing_timeout_s);
  return t;
}

}  // namespace

WorkerContext::WorkerContext(const ForwardingConfig& config, const TablePublisher& tables,
                             uint32_t reader_id, CounterStorage storage)
    : config_(config),
      tables_(tables),
      reader_id_(reader_id),
      tick_shift_(tick_shift_for(config.tsc_hz)),
      ticks_per_second_(seconds_to_ticks(1, config.tsc_hz, tick_shift_)),
      insert_cap_(config.max_inserts_per_s),
      icmp_cycles_per_token_(config.icmp_rate_per_s == 0 ? UINT64_MAX
                                                          : config.tsc_hz / config.icmp_rate_per_s),
      counters_(storage.lcore),
      vip_counters_(storage.vips),
      backend_counters_(storage.backends),
      vip_drop_counters_(storage.vip_drops),
      next_hops_(config.next_hops != nullptr ? config.next_hops : &own_next_hops_),
      conn_(config.flows_per_lcore, state_timeouts(config, tick_shift_).ticks),
      admission_(admission_for(config)) {
  if (config.next_hops == nullptr) {
    own_next_hops_.packed[0].store(pack_mac(config.next_hop_mac), std::memory_order_relaxed);
    own_next_hops_.packed[1].store(pack_mac(config.next_hop_mac), std::memory_order_relaxed);
  }
  counts_refresh_cycles_ = config.tsc_hz / 1000 * kConnCountsRefreshMs;
  if (counters_ == nullptr) {
    own_counters_ = std::make_unique<LcoreCounters>();
    counters_ = own_counters_.get();
  }
  if (vip_counters_ == nullptr) {
    own_vip_counters_.reset(new TrafficCounters[size_t{config.max_vips} + 1]());
    vip_counters_ = own_vip_counters_.get();
  }
  if (vip_drop_counters_ == nullptr) {
    own_vip_drop_counters_.reset(new VipDropCounters[size_t{config.max_vips} + 1]());
    vip_drop_counters_ = own_vip_drop_counters_.get();
  }
  if (backend_counters_ == nullptr) {
    own_backend_counters_.reset(new TrafficCounters[size_t{config.max_backend_id} + 1]());
    backend_counters_ = own_backend_counters_.get();
  }
  icmp_max_tokens_ = config.icmp_rate_per_s == 0 ? 0 : icmp_cycles_per_token_ * config.icmp_burst;
  icmp_tokens_ = icmp_max_tokens_;
  const size_t backends = size_t{config.max_backend_id} + 1;
  wrr_current_.reset(new int64_t[backends]());
  peer_counts_.reset(new PeerCount[backends]());
  // Distinct per lcore, the same on every run (the fixtures' draws).
  random_state_ = (config.hash_seed ^ (uint64_t{reader_id} + 1) * 0x9e3779b97f4a7c15ull) | 1;
  conn_.set_counts(backend_counters_);
}

void WorkerContext::set_peers(const TrafficCounters* const* backends, uint32_t n) {
  peers_ = backends;
  n_peers_ = n;
}

uint64_t WorkerContext::connection_cost(uint32_t id) const {
  const TrafficCounters& own = backend_counters_[id];
  const PeerCount& peers = peer_counts_[id];
  return sluice::connection_cost(
      uint64_t{peers.active} + entries_of_class(own.active_in, own.active_out),
      uint64_t{peers.inactive} + entries_of_class(own.inactive_in, own.inactive_out));
}

void WorkerContext::refresh_peer_count(uint32_t id) {
  uint64_t active = 0, inactive = 0;
  for (uint32_t l = 0; l < n_peers_; ++l) {
    if (l == reader_id_) continue;
    const TrafficCounters& c = peers_[l][id];
    // Each lcore writes its own block with plain stores; out before in,
    // since an entry is counted in before it is counted out.
    const uint32_t a_out = __atomic_load_n(&c.active_out, __ATOMIC_RELAXED);
    const uint32_t i_out = __atomic_load_n(&c.inactive_out, __ATOMIC_RELAXED);
    const uint32_t a_in = __atomic_load_n(&c.active_in, __ATOMIC_RELAXED);
    const uint32_t i_in = __atomic_load_n(&c.inactive_in, __ATOMIC_RELAXED);
    active += entries_of_class(a_in, a_out);
    inactive += entries_of_class(i_in, i_out);
  }
  peer_counts_[id] = {static_cast<uint32_t>(active), static_cast<uint32_t>(inactive)};
}

bool WorkerContext::refresh_peer_counts_slice() {
  const TableSnapshot& t = *tables_.current();
  uint32_t budget = kPeerRefreshPerPass;
  // The cursor is two indexes, not pointers: a snapshot published between
  // two slices is walked on from the same place (the counts are a
  // 100 ms-old estimate anyway).
  while (refresh_vip_ < t.vips.size()) {
    const VipEntry& v = t.vips[refresh_vip_];
    if (scheduler_counts_connections(v.scheduler)) {
      while (refresh_candidate_ < v.candidates.count) {
        refresh_peer_count(v.candidates.ids[refresh_candidate_++]);
        if (--budget == 0) return false;
      }
    }
    refresh_candidate_ = 0;
    ++refresh_vip_;
    if (--budget == 0) return false;
  }
  refresh_vip_ = 0;
  return true;
}

void WorkerContext::maintain(uint64_t now_tsc) {
  const uint32_t now = ticks(now_tsc);
  if (!maintained_) {
    maintained_ = true;
    swept_at_ = now;
  }
  // The sweep's share of the table for the ticks since the last one.
  if (now != swept_at_) {
    const uint64_t per_period = uint64_t{ticks_per_second_} * kSweepSeconds;
    const uint64_t due =
        uint64_t{now - swept_at_} * conn_.buckets() / (per_period == 0 ? 1 : per_period);
    if (due != 0) {
      conn_.sweep(now, due);
      swept_at_ = now;
    }
  }
  // The other lcores' counts: a round every kConnCountsRefreshMs, walked a
  // slice per pass so that many counted backends never hold the worker off
  // its RX queue for long.
  if (peers_ != nullptr &&
      (refreshing_ || now_tsc - counts_refreshed_tsc_ >= counts_refresh_cycles_)) {
    if (!refreshing_) {
      refreshing_ = true;
      counts_refreshed_tsc_ = now_tsc;
    }
    if (refresh_peer_counts_slice()) refreshing_ = false;
  }
}

void WorkerContext::start_burst(uint64_t now_tsc) {
  if (!started_) [[unlikely]] {
    started_ = true;
    const uint64_t start = config_.start_tsc != 0 ? config_.start_tsc : now_tsc;
    udp_predate_until_tsc_ = start + uint64_t{config_.udp_idle_timeout_s} * config_.tsc_hz;
    insert_window_start_ = ticks(now_tsc);
  }
  // The flood guard's window: a fresh allowance every second.
  const uint32_t now = ticks(now_tsc);
  if (now - insert_window_start_ >= ticks_per_second_) {
    insert_window_start_ = now;
    inserts_in_window_ = 0;
  }
}

// The burst pipeline. A struct so it can reach WorkerContext's private state
// without widening its interface; every member is inline into process_burst.
struct BurstRunner {
  WorkerContext& ctx;
  const TableSnapshot& t;
  uint64_t now_tsc;
  uint32_t now;
  EncapParams v4_params;
  EncapParams v6_params;
  // Whether the next hop of the backends' family has a MAC this burst.
  bool v4_neighbour;
  bool v6_neighbour;

  void count(Counter c, uint64_t n = 1) { ctx.counters_->add(c, n); }

  bool icmp_token() {
    const uint64_t elapsed = now_tsc - ctx.icmp_last_tsc_;
    ctx.icmp_last_tsc_ = now_tsc;
    uint64_t tokens = ctx.icmp_tokens_ + elapsed;
    if (tokens > ctx.icmp_max_tokens_ || tokens < ctx.icmp_tokens_) tokens = ctx.icmp_max_tokens_;
    if (tokens < ctx.icmp_cycles_per_token_) {
      ctx.icmp_tokens_ = tokens;
      return false;
    }
    ctx.icmp_tokens_ = tokens - ctx.icmp_cycles_per_token_;
    return true;
  }

  // Flood guard: whether one more entry may be made in this second.
  bool may_insert() {
    if (ctx.insert_cap_ == 0) return true;
    if (ctx.inserts_in_window_ < ctx.insert_cap_) {
      ++ctx.inserts_in_window_;
      return true;
    }
    return false;
  }

  void count_insert(ConnInsert how) {
    switch (how) {
      case ConnInsert::kInserted: break;
      case ConnInsert::kReusedExpired: count(Counter::conn_expired_reused); break;
      case ConnInsert::kReplacedHalfOpen: count(Counter::conn_replaced_half_open); break;
      case ConnInsert::kReplacedClosing: count(Counter::conn_replaced_closing); break;
      case ConnInsert::kReplacedLru: count(Counter::conn_replaced_lru); break;
      case ConnInsert::kFailed:
        count(Counter::conn_insert_failed);
        return;
    }
    count(Counter::conn_inserts);
  }

  // Connection table, then Maglev (step 4; the rules are common/conn_state.h's).
  // Returns the backend id, 0 if the VIP has none for this flow. ICMP
  // errors look up but never insert or change an entry.
  uint32_t pick_backend(const PacketMeta& meta, bool icmp_error, ConnEntry* hit) {
    const VipEntry& vip = *meta.vip;
    // A hit found in the lookup pass is still live (the clock does not move
    // within a burst) but an earlier packet's insert may have given its
    // slot to another flow; a miss is looked up again, since an earlier
    // packet of the burst may have entered the flow.
    ConnEntry* entry = hit != nullptr && hit->fingerprint == meta.hash.fingerprint
                           ? hit
                           : ctx.conn_.lookup(meta.hash.hash, meta.hash.fingerprint, now);
    if (entry != nullptr) {
      const uint32_t id = entry->backend_id();
      const BackendEntry& be = t.backends[id];
      if (be.vip_id == vip.id && be.keeps_flows) [[likely]] {
        count(Counter::conn_hits);
        if (icmp_error) return id;
        // The common case first, with no more work than before entry
        // states: an established flow's segment without SYN, FIN or RST,
        // or a UDP packet (tcp_flags 0). Only the expiry moves.
        const ConnState state = entry->state();
        if ((meta.tcp_flags & (net::kTcpSyn | net::kTcpFin | net::kTcpRst)) == 0 &&
            conn_state_is_steady(state)) [[likely]] {
          entry->expires = now + ctx.conn_.timeout(state);
          return id;
        }
        return hit_changes_state(meta, *entry, id, state);
      }
      count(Counter::conn_stale_backend);
    }
    return schedule(meta, icmp_error, entry);
  }

  // A hit whose packet may change the entry's state (SYN, FIN, RST, or the
  // first segment after a SYN). Out of line: the fast path above stays small.
  [[gnu::noinline]] uint32_t hit_changes_state(const PacketMeta& meta, ConnEntry& entry,
                                               uint32_t id, ConnState state) {
    const FlowPacket packet = classify_flow_packet(meta.key.protocol, meta.tcp_flags);
    const HitRule next = hit_rule(state, packet);
    if (next.reopen) {
      count(Counter::conn_reopened);
      return schedule(meta, false, &entry);
    }
    if (packet == FlowPacket::kSyn && next.state == ConnState::kHalfOpen) {
      // The client is retrying: its backend does not answer.
      ctx.backend_counters_[id].syn_retries++;
    }
    ctx.conn_.touch(entry, id, next.state, now);
    return id;
  }

  // A flow without a usable entry (none: `entry` null; or its backend left,
  // or its connection was reopened): Maglev, by the table miss_rule names,
  // and the entry made or updated. Out of line, off the hit path.
  [[gnu::noinline]] uint32_t schedule(const PacketMeta& meta, bool icmp_error, ConnEntry* entry) {
    const VipEntry& vip = *meta.vip;
    const FlowPacket packet = classify_flow_packet(meta.key.protocol, meta.tcp_flags);
    if (entry == nullptr) {
      const bool starts_flow =
          !icmp_error && (packet == FlowPacket::kSyn || packet == FlowPacket::kUdp);
      count(starts_flow ? Counter::conn_misses : Counter::conn_misses_non_syn);
    }
    // source-hash: Maglev over the client address alone (the key's source
    // is the client for ICMP errors too: their key is swapped).
    const uint32_t slot = maglev_slot(
        maglev_input(vip.scheduler, meta.hash.hash, meta.key.src, meta.family,
                     ctx.config_.hash_seed),
        vip.maglev_size);
    if (icmp_error) {
      // The flow under way it quotes, by the existing-flows table.
      return vip.maglev_existing[slot];
    }
    const MissRule rule = miss_rule(packet, now_tsc < ctx.udp_predate_until_tsc_);
    // The host-local schedulers pick new flows; flows under way that miss
    // go by the existing-flows Maglev table like any other.
    const bool host_local =
        rule.turns == MaglevTurns::kNewFlows && scheduler_is_host_local(vip.scheduler);
    uint32_t id = host_local ? pick_host_local(vip)
                             : (rule.turns == MaglevTurns::kNewFlows ? vip.maglev
                                                                     : vip.maglev_existing)[slot];
    if (id == kMaglevNoBackend) return id;
    if (entry != nullptr) {
      // The flow's old backend left the VIP, or its connection was
      // reopened: the entry takes the new choice.
      ctx.conn_.touch(*entry, id, rule.state, now);
    } else if (rule.creates_entry) {
      ConnInsert how = ConnInsert::kFailed;
      if (may_insert()) {
        how = ctx.conn_.insert(meta.hash.hash, meta.hash.fingerprint, id, rule.state, now);
        count_insert(how);
      } else {
        count(Counter::conn_insert_capped);
      }
      if (how == ConnInsert::kFailed && packet == FlowPacket::kSyn &&
          vip.maglev_existing[slot] != id) [[unlikely]] {
        // A new flow we cannot remember, where the existing-flows table
        // names another backend (a draining one still holds the slot for
        // flows under way, or a host-local scheduler chose): its next
        // packets will miss too and go by the existing-flows table, so this
        // one goes there as well, or the connection would be split between
        // two backends (reset).
        id = vip.maglev_existing[slot];
        count(host_local ? Counter::new_flows_unentered_to_maglev
                         : Counter::new_flows_unentered_to_draining);
      }
    }
    if (rule.new_flow) {
      count(Counter::new_flows);
      ctx.vip_counters_[vip.id].new_flows++;
      ctx.backend_counters_[id].new_flows++;
    } else {
      ctx.backend_counters_[id].non_syn_misses++;
    }
    return id;
  }

  // weighted-round-robin, least-connections, power-of-two (common/
  // scheduler.h) over the VIP's candidates; 0 when it has none.
  uint32_t pick_host_local(const VipEntry& vip) {
    const Candidates& c = vip.candidates;
    if (c.count == 0) return kMaglevNoBackend;
    const auto cost = [this](uint32_t id) { return ctx.connection_cost(id); };
    switch (vip.scheduler) {
      case Scheduler::kWeightedRoundRobin:
        return c.ids[smooth_wrr_pick(c, ctx.wrr_current_.get())];
      case Scheduler::kLeastConnections:
        return c.ids[least_connections_pick(c, cost)];
      case Scheduler::kPowerOfTwo: {
        const uint64_t r1 = xorshift64star(ctx.random_state_);
        const uint64_t r2 = xorshift64star(ctx.random_state_);
        return c.ids[power_of_two_pick(c, r1, r2, cost)];
      }
      case Scheduler::kMaglev:
      case Scheduler::kSourceHash:
        break;
    }
    return kMaglevNoBackend;
  }

  // No usable backend for a packet that is no ICMP error: the VIP's answer
  // (no_backend). Out of line, off the forwarding path.
  [[gnu::noinline]] void no_backend(rte_mbuf* m, const PacketMeta& meta, BurstOutput& out) {
    const NoBackend answer = meta.vip->no_backend;
    // Never answer an RST (RFC 9293 3.10.7.1).
    if (answer == NoBackend::kDrop ||
        (answer == NoBackend::kReset && (meta.tcp_flags & net::kTcpRst) != 0)) {
      drop(m, meta, Counter::drop_no_backend, out);
      return;
    }
    if (!may_answer(m, meta)) {
      drop(m, meta, Counter::drop_icmp_bad_source, out);
      return;
    }
    if (!icmp_token()) {
      drop(m, meta, Counter::drop_no_backend_rate_limited, out);
      return;
    }
    if (answer == NoBackend::kReset) {
      if (!make_tcp_reset(m, meta, ctx.config_.port_mac)) {
        drop(m, meta, Counter::drop_no_backend, out);
        return;
      }
      count(Counter::no_backend_rst_sent);
    } else {
      if (!make_unreachable(m, meta, ctx.config_.port_mac)) {
        drop(m, meta, Counter::drop_no_headroom, out);
        return;
      }
      count(Counter::no_backend_unreachable_sent);
    }
    out.to_client[out.n_to_client++] = m;
  }

  bool encapsulate_to(rte_mbuf* m, const PacketMeta& meta, const BackendEntry& be) {
    const bool gue = meta.vip->encap == Encap::kGue;
    if (be.family == 4) {
      return gue ? encapsulate<4, Encap::kGue>(m, meta, be, v4_params)
                 : encapsulate<4, Encap::kIpip>(m, meta, be, v4_params);
    }
    return gue ? encapsulate<6, Encap::kGue>(m, meta, be, v6_params)
               : encapsulate<6, Encap::kIpip>(m, meta, be, v6_params);
  }

  // Handles an oversize packet: ICMP to the client if it may not be
  // fragmented and the rate limit allows. Returns where the mbuf went.
  void too_big(rte_mbuf* m, const PacketMeta& meta, uint32_t overhead, BurstOutput& out) {
    if (meta.action == Action::kIcmpError) {
      // Never answer an ICMP error with another one (RFC 1122 3.2.2).
      drop(m, meta, Counter::drop_too_big, out);
      return;
    }
    if (!meta.dont_fragment) {
      drop(m, meta, Counter::drop_too_big_may_fragment, out);
      return;
    }
    if (!may_answer(m, meta)) {
      drop(m, meta, Counter::drop_icmp_bad_source, out);
      return;
    }
    if (!icmp_token()) {
      drop(m, meta, Counter::drop_icmp_rate_limited, out);
      return;
    }
    uint32_t mtu = ctx.config_.mtu - overhead;
    if (meta.family == 6 && mtu < net::kIpv6MinMtu) mtu = net::kIpv6MinMtu;
    if (!make_too_big(m, meta, mtu, ctx.config_.port_mac)) {
      drop(m, meta, Counter::drop_no_headroom, out);
      return;
    }
    count(Counter::icmp_too_big_sent);
    out.to_client[out.n_to_client++] = m;
  }

  // A well-formed request (code 0 was checked by parse_packet; the checksum
  // here, off the forwarding path) from a source we may answer.
  void echo_reply(rte_mbuf* m, const PacketMeta& meta, BurstOutput& out) {
    if (!icmp_checksum_ok(m, meta)) {
      drop(m, Counter::drop_icmp_bad_checksum, out);
      return;
    }
    if (!may_answer(m, meta)) {
      drop(m, Counter::drop_icmp_bad_source, out);
      return;
    }
    make_echo_reply(m, meta, ctx.config_.port_mac);
    count(Counter::icmp_echo_replies);
    out.to_client[out.n_to_client++] = m;
  }

  void drop(rte_mbuf* m, Counter reason, BurstOutput& out) {
    count(reason);
    if (belongs_to_kernel(reason) && ctx.config_.kernel_path) [[unlikely]] {
      out.to_kernel[out.n_to_kernel++] = m;
      return;
    }
    out.dropped[out.n_dropped++] = m;
  }

  // A drop once the packet's VIP may be known: counted for the VIP too.
  void drop(rte_mbuf* m, const PacketMeta& meta, Counter reason, BurstOutput& out) {
    if (meta.vip != nullptr) {
      const size_t i = vip_drop_index(reason);
      if (i < kVipDropReasonCount) ctx.vip_drop_counters_[meta.vip->id].value[i]++;
    }
    drop(m, reason, out);
  }

  void forward(rte_mbuf* m, const PacketMeta& meta, BurstOutput& out, ConnEntry* hit) {
    const bool icmp_error = meta.action == Action::kIcmpError;
    const uint32_t id = pick_backend(meta, icmp_error, hit);
    if (id == kMaglevNoBackend) {
      if (icmp_error) {
        drop(m, meta, Counter::drop_icmp_error_no_flow, out);
      } else {
        no_backend(m, meta, out);
      }
      return;
    }
    const BackendEntry& be = t.backends[id];
    if (!(be.family == 4 ? v4_neighbour : v6_neighbour)) [[unlikely]] {
      drop(m, meta, Counter::drop_no_neighbour, out);
      return;
    }
    const uint32_t overhead = encap_overhead(be.family, meta.vip->encap);
    if (meta.l3_len + overhead > ctx.config_.mtu) {
      too_big(m, meta, overhead, out);
      return;
    }
    // Ethernet padding must not end up inside the tunnel.
    mbuf_truncate(m, meta.l2_len + meta.l3_len);
    if (!encapsulate_to(m, meta, be)) {
      drop(m, meta, Counter::drop_no_headroom, out);
      return;
    }
    count(icmp_error ? Counter::fwd_icmp_errors : Counter::fwd_packets);
    count(Counter::fwd_bytes, rte_pktmbuf_pkt_len(m));
    TrafficCounters& vc = ctx.vip_counters_[meta.vip->id];
    vc.packets++;
    vc.bytes += meta.l3_len;
    TrafficCounters& bc = ctx.backend_counters_[id];
    bc.packets++;
    bc.bytes += meta.l3_len;
    out.to_backend[out.n_to_backend++] = m;
  }
};

void process_burst(WorkerContext& ctx, rte_mbuf* const* pkts, uint16_t n, uint64_t now_tsc,
                   BurstOutput& out) {
  out.n_to_backend = out.n_to_client = out.n_dropped = out.n_to_kernel = 0;
  ctx.start_burst(now_tsc);
  const TableSnapshot& t = *ctx.tables().current();
  const ForwardingConfig& cfg = ctx.config();
  // The next hops once per burst, never per packet. Relaxed: each word is a
  // whole MAC and orders nothing else; a change reaches the next burst.
  const uint64_t nh4 = ctx.next_hops().packed[0].load(std::memory_order_relaxed);
  const uint64_t nh6 = ctx.next_hops().packed[1].load(std::memory_order_relaxed);
  uint8_t nh4_mac[6], nh6_mac[6];
  unpack_mac(nh4, nh4_mac);
  unpack_mac(nh6, nh6_mac);
  BurstRunner r{ctx,
                t,
                now_tsc,
                ctx.ticks(now_tsc),
                {cfg.port_mac, nh4_mac, cfg.outer_src_v4.bytes, rte_cpu_to_be_16(cfg.gue_port)},
                {cfg.port_mac, nh6_mac, cfg.outer_src_v6.bytes, rte_cpu_to_be_16(cfg.gue_port)},
                packed_mac_known(nh4),
                packed_mac_known(nh6)};

  // Pass 1: parse, classify, hash, and prefetch each flow's bucket so that
  // pass 2 finds it in cache (VPP lb's pattern; CONVENTIONS.md item 5).
  // The port's MAC in registers for the admission check of every frame.
  const MacAdmission& macs = ctx.admission();
  const MacAdmission::Mac port_mac = macs.port;
  PacketMeta meta[kMaxBurst];
  constexpr uint16_t kPrefetchAhead = 4;
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  uint64_t rx_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
    if (parse_packet(t, port_mac, macs, pkts[i], meta[i]) &&
        meta[i].action != Action::kEchoRequest) {
      meta[i].hash = flow_hash(meta[i].key, cfg.hash_seed);
      ctx.conn().prefetch(meta[i].hash.hash);
    }
  }
  r.count(Counter::rx_packets, n);
  r.count(Counter::rx_bytes, rx_bytes);

  // Pass 1b: look the flows up (their buckets were prefetched in pass 1) and
  // prefetch what pass 2 reads next: the backend entry of a hit, the Maglev
  // slot of a miss. This keeps new flows flat across 10,000 VIPs.
  ConnEntry* hits[kMaxBurst];
  for (uint16_t i = 0; i < n; ++i) {
    hits[i] = nullptr;
    if (meta[i].action != Action::kForward && meta[i].action != Action::kIcmpError) continue;
    hits[i] = ctx.conn().lookup(meta[i].hash.hash, meta[i].hash.fingerprint, r.now);
    if (hits[i] != nullptr) {
      rte_prefetch0(&t.backends[hits[i]->backend_id()]);
    } else {
      // The slot a miss reads: the new-flows table for a SYN or a UDP
      // packet, the existing-flows table for a TCP packet without SYN or an
      // ICMP error (the same table unless a backend drains).
      const VipEntry& v = *meta[i].vip;
      const bool starts_flow = meta[i].action == Action::kForward &&
                               (meta[i].key.protocol != net::kIpProtoTcp ||
                                (meta[i].tcp_flags & net::kTcpSyn) != 0);
      // (source-hash reads another slot: this prefetch is then wasted,
      // never wrong.)
      const uint32_t* table = starts_flow ? v.maglev : v.maglev_existing;
      rte_prefetch0(&table[maglev_slot(meta[i].hash.hash, v.maglev_size)]);
    }
  }

  // Pass 2: act.
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    switch (meta[i].action) {
      case Action::kForward:
      case Action::kIcmpError:
        r.forward(m, meta[i], out, hits[i]);
        break;
      case Action::kEchoRequest:
        r.echo_reply(m, meta[i], out);
        break;
      case Action::kDrop:
        r.drop(m, meta[i], meta[i].drop_reason, out);
        break;
    }
  }
}

}  // namespace sluice::dp
