#include "tools/bench/engine.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <sys/resource.h>

#include <cstring>
#include <string>

#include "common/net_headers.h"
#include "dataplane/encap.h"

namespace sluice::bench {

namespace {

uint16_t take(uint64_t left, uint32_t most) {
  return static_cast<uint16_t>(left < most ? left : most);
}

// Voluntary and involuntary context switches of this thread so far.
uint64_t context_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<uint64_t>(u.ru_nvcsw) + static_cast<uint64_t>(u.ru_nivcsw);
}

[[noreturn]] void mismatch(uint32_t slot, const std::string& what) {
  throw VerdictError("packet in window slot " + std::to_string(slot) + ": " + what);
}

}  // namespace

Engine::Engine(rte_mempool* pool, uint32_t window, uint32_t burst, const RingPorts* ring,
               const XdpPorts* xdp)
    : mbufs_(window), alt_(window), burst_(burst), pool_(pool), ring_(ring), xdp_(xdp) {
  if (rte_pktmbuf_alloc_bulk(pool, mbufs_.data(), window) != 0) {
    throw std::runtime_error("cannot take " + std::to_string(window) + " mbufs from the pool");
  }
}

Engine::~Engine() { rte_pktmbuf_free_bulk(mbufs_.data(), static_cast<unsigned>(mbufs_.size())); }

void Engine::prepare(World& world, Traffic& t, uint32_t k) {
  const uint8_t family = world.spec().family;
  const size_t n = t.sequence.size();
  for (uint32_t i = 0; i < k; ++i) {
    const uint32_t s = t.sequence[t.pos];
    if (++t.pos == n) t.pos = 0;
    const bool alt = (s & Traffic::kAlt) != 0;
    const uint32_t flow = s & ~Traffic::kAlt;
    const FrameTemplate& tmpl = alt ? t.alt : t.primary;
    rte_mbuf* m = mbufs_[i];
    rte_pktmbuf_reset(m);
    m->data_len = tmpl.len;
    m->pkt_len = tmpl.len;
    stamp_frame(tmpl, client_endpoint(family, flow), t.fixed_dst ? t.dst : world.vip_of(flow),
                rte_pktmbuf_mtod(m, uint8_t*));
    alt_[i] = alt;
  }
}

uint64_t Engine::timed_direct(World& world, uint32_t k, Forwarder f, PassResult& r) {
  rte_mbuf** const pkts = mbufs_.data();
  const uint32_t burst = burst_;
  uint64_t fwd = 0, to_client = 0, dropped = 0, t0 = 0, t1 = 0;
  if (f == Forwarder::kSluice) {
    dp::WorkerContext& ctx = world.ctx();
    dp::BurstOutput out;
    t0 = rte_rdtsc_precise();
    for (uint32_t i = 0; i < k; i += burst) {
      // The worker passes the TSC read at the start of its poll; one read
      // per round does the same job here without a second rdtsc per burst.
      dp::process_burst(ctx, pkts + i, take(k - i, burst), t0, out);
      fwd += out.n_to_backend;
      to_client += out.n_to_client;
      dropped += out.n_dropped;
    }
    t1 = rte_rdtsc_precise();
  } else {
    rte_mbuf* out[dp::kMaxBurst];
    FloorCounts& counts = r.floor;
    t0 = rte_rdtsc_precise();
    for (uint32_t i = 0; i < k; i += burst) floor_burst(pkts + i, take(k - i, burst), counts, out);
    t1 = rte_rdtsc_precise();
    fwd = k;
  }
  r.to_backend += fwd;
  r.to_client += to_client;
  r.dropped += dropped;
  return t1 - t0;
}

uint64_t Engine::timed_ring(World& world, uint32_t k, Forwarder f, PassResult& r) {
  rte_mbuf** const pkts = mbufs_.data();
  // Outside the timed region: queue the round on the input port.
  for (uint32_t loaded = 0; loaded < k;) {
    const uint16_t n = rte_eth_tx_burst(ring_->in, 0, pkts + loaded, take(k - loaded, 64));
    if (n == 0) throw VerdictError("ring-loop: the input ring refused packets while loading");
    loaded += n;
  }
  rte_mbuf* rx[dp::kMaxBurst];
  dp::BurstOutput out;
  uint64_t received = 0, fwd = 0, to_client = 0, dropped = 0, unsent = 0;
  const uint16_t burst = static_cast<uint16_t>(burst_);
  const uint64_t t0 = rte_rdtsc_precise();
  if (f == Forwarder::kSluice) {
    dp::WorkerContext& ctx = world.ctx();
    while (received < k) {
      const uint16_t n = rte_eth_rx_burst(ring_->in, 0, rx, burst);
      if (n == 0) break;
      received += n;
      dp::process_burst(ctx, rx, n, t0, out);
      const uint16_t sent = rte_eth_tx_burst(ring_->out, 0, out.to_backend, out.n_to_backend);
      unsent += out.n_to_backend - sent;
      fwd += out.n_to_backend;
      to_client += out.n_to_client;
      dropped += out.n_dropped;
    }
  } else {
    rte_mbuf* fout[dp::kMaxBurst];
    while (received < k) {
      const uint16_t n = rte_eth_rx_burst(ring_->in, 0, rx, burst);
      if (n == 0) break;
      received += n;
      floor_burst(rx, n, r.floor, fout);
      unsent += n - rte_eth_tx_burst(ring_->out, 0, fout, n);
      fwd += n;
    }
  }
  const uint64_t t1 = rte_rdtsc_precise();
  r.to_backend += fwd;
  r.to_client += to_client;
  r.dropped += dropped;
  // Outside again: everything must come back, in order, from the output port.
  rte_mbuf* back[64];
  uint64_t returned = 0;
  bool in_order = true;
  for (;;) {
    const uint16_t n = rte_eth_rx_burst(ring_->out, 0, back, 64);
    if (n == 0) break;
    for (uint16_t i = 0; i < n; ++i) in_order &= returned + i < k && back[i] == pkts[returned + i];
    returned += n;
  }
  if (received != k || unsent != 0 || returned != k || !in_order) {
    throw VerdictError("ring-loop: " + std::to_string(k) + " packets queued, " +
                       std::to_string(received) + " received, " + std::to_string(unsent) +
                       " not sent, " + std::to_string(returned) + " came back" +
                       (in_order ? "" : " out of order"));
  }
  return t1 - t0;
}

uint64_t Engine::timed_xdp(World& world, uint32_t k, Forwarder f, PassResult& r) {
  rte_mbuf** const pkts = mbufs_.data();
  // Each wait for the kernel is bounded by a second.
  const uint64_t second = rte_get_tsc_hz();
  // Outside the timed region: the round goes into the veth. The PMD owns
  // the window's mbufs from here (it copies those of another pool into its
  // umem and frees them); the packets that come back take their slots.
  uint32_t loaded = 0;
  for (const uint64_t deadline = rte_rdtsc() + second; loaded < k && rte_rdtsc() < deadline;) {
    loaded += rte_eth_tx_burst(xdp_->load, 0, pkts + loaded, take(k - loaded, 64));
  }
  rte_mbuf* rx[dp::kMaxBurst];
  dp::BurstOutput out;
  uint64_t received = 0, fwd = 0, to_client = 0, dropped = 0, unsent = 0, cycles = 0;
  const uint16_t burst = static_cast<uint16_t>(burst_);
  const uint64_t now_tsc = rte_rdtsc_precise();
  for (const uint64_t deadline = now_tsc + second; received < loaded && rte_rdtsc() < deadline;) {
    const uint64_t t0 = rte_rdtsc();
    const uint16_t n = rte_eth_rx_burst(xdp_->work, 0, rx, burst);
    if (n == 0) continue;
    received += n;
    if (f == Forwarder::kSluice) {
      dp::process_burst(world.ctx(), rx, n, now_tsc, out);
      const uint16_t sent = rte_eth_tx_burst(xdp_->work, 0, out.to_backend, out.n_to_backend);
      unsent += out.n_to_backend - sent;
      rte_pktmbuf_free_bulk(out.to_backend + sent, out.n_to_backend - sent);
      rte_pktmbuf_free_bulk(out.to_client, out.n_to_client);
      rte_pktmbuf_free_bulk(out.dropped, out.n_dropped);
      fwd += out.n_to_backend;
      to_client += out.n_to_client;
      dropped += out.n_dropped;
    } else {
      rte_mbuf* fout[dp::kMaxBurst];
      floor_burst(rx, n, r.floor, fout);
      const uint16_t sent = rte_eth_tx_burst(xdp_->work, 0, fout, n);
      unsent += n - sent;
      rte_pktmbuf_free_bulk(fout + sent, n - sent);
      fwd += n;
    }
    cycles += rte_rdtsc() - t0;
  }
  r.to_backend += fwd;
  r.to_client += to_client;
  r.dropped += dropped;
  // Outside again: the results come back, in order (one queue each way).
  uint32_t returned = 0;
  for (const uint64_t deadline = rte_rdtsc() + second; returned < k && rte_rdtsc() < deadline;) {
    returned += rte_eth_rx_burst(xdp_->load, 0, pkts + returned, take(k - returned, 64));
  }
  // Slots nothing came back for get fresh mbufs, so that the window stays
  // whole (the round fails below).
  if (returned < k && rte_pktmbuf_alloc_bulk(pool_, pkts + returned, k - returned) != 0) {
    throw std::runtime_error("xdp-loop: cannot refill the window after a failed round");
  }
  if (loaded != k || received != k || unsent != 0 || returned != k) {
    throw VerdictError("xdp-loop: " + std::to_string(k) + " packets, " + std::to_string(loaded) +
                       " loaded, " + std::to_string(received) + " received, " +
                       std::to_string(unsent) + " not sent, " + std::to_string(returned) +
                       " came back");
  }
  return cycles;
}

void Engine::check_round(World& world, const Traffic& t, uint32_t k, Forwarder f) const {
  const uint8_t bf = world.backend_family();
  const Encap encap = world.spec().encap;
  const uint16_t outer_type = bf == 4 ? net::kEtherTypeIpv4 : net::kEtherTypeIpv6;
  for (uint32_t i = 0; i < k; ++i) {
    const FrameTemplate& tmpl = alt_[i] ? t.alt : t.primary;
    const Path path = alt_[i] ? t.alt_path : t.primary_path;
    const rte_mbuf* m = mbufs_[i];
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t len = rte_pktmbuf_pkt_len(m);
    if (f == Forwarder::kFloor) {
      if (len != tmpl.len || std::memcmp(p, kClientSideMac, 6) != 0 ||
          std::memcmp(p + 6, kPortMac, 6) != 0) {
        mismatch(i, "the floor did not swap the MACs of a " + std::to_string(tmpl.len) +
                        "-byte frame");
      }
      continue;
    }
    if (!path_forwards(path)) {
      if (len != tmpl.len || std::memcmp(p, kPortMac, 6) != 0) {
        mismatch(i, std::string("path ") + path_name(path) + " must leave the frame as it was");
      }
      continue;
    }
    const uint32_t want = tmpl.l2_len + tmpl.l3_len + dp::encap_overhead(bf, encap);
    const uint16_t type = static_cast<uint16_t>(p[12] << 8 | p[13]);
    const uint8_t proto = bf == 4 ? p[14 + 9] : p[14 + 6];
    const uint8_t want_proto = encap == Encap::kGue ? net::kIpProtoUdp
                               : tmpl.family == 4   ? net::kIpProtoIpip
                                                    : net::kIpProtoIpv6;
    // The outer checksums must hold: IPv4 header, and UDP over IPv6 (GUE).
    const auto* outer = p + tmpl.l2_len;
    const bool cksum_ok =
        bf == 4 ? rte_raw_cksum(outer, sizeof(rte_ipv4_hdr)) == 0xFFFF
                : encap != Encap::kGue ||
                      rte_ipv6_udptcp_cksum_verify(
                          reinterpret_cast<const rte_ipv6_hdr*>(outer),
                          reinterpret_cast<const rte_udp_hdr*>(outer + sizeof(rte_ipv6_hdr))) == 0;
    if (!cksum_ok) mismatch(i, "the outer checksum is wrong");
    if (len != want || std::memcmp(p, kNextHopMac, 6) != 0 || type != outer_type ||
        proto != want_proto) {
      mismatch(i, std::string("path ") + path_name(path) + " wants an encapsulated frame of " +
                      std::to_string(want) + " bytes (outer type " + std::to_string(outer_type) +
                      ", protocol " + std::to_string(want_proto) + "), got " +
                      std::to_string(len) + " bytes, type " + std::to_string(type) +
                      ", protocol " + std::to_string(proto));
    }
  }
}

PassResult Engine::run(World& world, Traffic& t, uint64_t packets, Forwarder f, Io io) {
  if (t.sequence.empty()) throw std::logic_error("traffic without packets");
  if (io == Io::kRing && ring_ == nullptr) throw std::logic_error("no ring ports");
  if (io == Io::kXdp && xdp_ == nullptr) throw std::logic_error("no AF_XDP ports");
  if (t.restart_each_pass) t.pos = 0;
  uint32_t round = window();
  if (io == Io::kRing && round > ring_->capacity) round = ring_->capacity;
  if (io == Io::kXdp && round > xdp_->capacity) round = xdp_->capacity;
  PassResult r;
  while (r.packets < packets) {
    const uint32_t k = take(packets - r.packets, round);
    prepare(world, t, k);
    for (uint32_t i = 0; i < k; ++i) r.alt_packets += alt_[i];
    const uint64_t switches = context_switches();
    const uint64_t cycles = io == Io::kDirect ? timed_direct(world, k, f, r)
                            : io == Io::kRing ? timed_ring(world, k, f, r)
                                              : timed_xdp(world, k, f, r);
    const bool preempted = context_switches() != switches;
    r.cycles += cycles;
    ++r.rounds;
    if (preempted) {
      ++r.preempted_rounds;
    } else {
      r.clean_cycles += cycles;
      r.clean_packets += k;
    }
    check_round(world, t, k, f);
    r.packets += k;
  }
  return r;
}

}  // namespace sluice::bench
