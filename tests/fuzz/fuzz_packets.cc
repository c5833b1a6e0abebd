// Fuzz target: received frames through the real burst function,
// sluice::dp::process_burst, on real mbufs (tests/dpdk_test_env.h: EAL with
// --no-huge, no NIC), against tables with a few VIPs so that every path is
// reachable: IPIP and GUE, both families and the mixed ones, all-ports VIPs,
// a VIP without backends, echo requests, ICMP errors, too-big replies.
//
// Input: one control byte, then the frame bytes.
//   bit 0     the frame's bytes sit in a malloc'd buffer of exactly their
//             size (an external mbuf buffer): under ASan a read past the
//             frame is a heap overflow. Otherwise mempool mbufs, their
//             tailroom filled with 0xFF, as a NIC would deliver them.
//   bits 1-2  segments per frame, 1..4, of equal length give or take a
//             byte (so odd lengths too; more if a segment would not fit).
//   bits 3-5  the burst holds each frame 1..8 times (flows repeat in a burst).
//   bit 6     the bytes are several frames, each a 16-bit big-endian length
//             and that many bytes (the last may be short).
//   bit 7     a second burst of fresh copies 31 s later, after a table
//             change (fuzz_tables.h): TCP flows hit the connection table,
//             UDP flows have expired, some flows' backends have gone.
// Each input gets a fresh WorkerContext (empty connection table, counters
// at zero, full ICMP token bucket), so every input reproduces on its own.
//
// Invariants: every packet ends in exactly one output list; no mbuf or
// external buffer leaks or is freed twice; every output chain is sound;
// counters add up (rx = n, one drop reason per dropped packet, one verdict
// counter per sent packet); a packet to a backend carries our MACs, outer
// source, an installed backend as outer destination, exact outer lengths,
// valid outer checksums and the received datagram unchanged; a reply to a
// client has exact lengths and valid checksums, goes back to the sender's
// MAC from the port's, never to a group MAC, and answers only a frame that
// was addressed to the port's MAC (no --accept-mac here) from a unicast MAC.
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/counters.h"
#include "common/ip_address.h"
#include "common/table_config.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "tests/dpdk_test_env.h"
#include "tests/fixtures/packet_builder.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_tables.h"

namespace {

using sluice::BackendConfig;
using sluice::Counter;
using sluice::LcoreCounters;
using sluice::TableConfig;
using sluice::VipConfig;
using sluice::test::Bytes;
namespace dp = sluice::dp;
namespace st = sluice::test;

constexpr uint64_t kTscHz = 1'000'000'000;
constexpr uint64_t kT0 = 1'000 * kTscHz;
constexpr uint16_t kGuePort = 6080;
constexpr size_t kMaxFrame = 9216;  // jumbo; bigger inputs are cut
constexpr uint16_t kFirstHeadroom = RTE_PKTMBUF_HEADROOM;
constexpr uint16_t kPoolSegment = RTE_MBUF_DEFAULT_DATAROOM;

struct World {
  rte_mempool* pool;
  dp::ForwardingConfig config;
  std::unique_ptr<dp::TablePublisher> publisher;
  std::set<std::array<uint8_t, 17>> backend_addresses;  // family, then 16 bytes
  unsigned pool_free_at_rest = 0;
  const TableConfig base = sluice::fuzz::packet_tables();
  const TableConfig changed = sluice::fuzz::packet_tables_changed();

  void apply(const TableConfig& tables) {
    const dp::ApplyResult r = publisher->apply(tables);
    FUZZ_CHECK(r.ok, "the fuzz tables were refused: " + r.error);
  }

  World() : pool(st::test_mbuf_pool()) {
    std::memcpy(config.port_mac, st::mac("02:00:5e:00:00:01").data(), 6);
    std::memcpy(config.next_hop_mac, st::mac("02:00:5e:00:00:fe").data(), 6);
    config.outer_src_v4 = st::ip("192.0.2.1");
    config.outer_src_v6 = st::ip("2001:db8::1");
    config.mtu = 1500;
    config.gue_port = kGuePort;
    config.hash_seed = 0x5eed;
    config.tsc_hz = kTscHz;
    config.icmp_rate_per_s = 100;
    config.icmp_burst = 4;        // a burst of oversize packets runs out of tokens
    config.flows_per_lcore = 16;  // four buckets: a burst can fill one
    config.max_vips = 16;
    config.max_backend_id = 64;
    sluice::TableLimits limits;
    limits.max_vips = config.max_vips;
    limits.max_backend_id = config.max_backend_id;
    publisher = std::make_unique<dp::TablePublisher>(limits, 1);
    publisher->register_reader(0);
    apply(base);
    for (const VipConfig& v : base.vips) {
      for (const BackendConfig& b : v.backends) {
        std::array<uint8_t, 17> key{};
        key[0] = b.address.family;
        std::memcpy(key.data() + 1, b.address.bytes, 16);
        backend_addresses.insert(key);
      }
    }
    pool_free_at_rest = rte_mempool_avail_count(pool);
  }
};

// Every counter summed over all inputs, printed at exit: which paths the
// run reached (a seed corpus that stops reaching a path shows here).
LcoreCounters g_totals{};

void print_totals() {
  std::string line;
  for (size_t c = 0; c < sluice::kCounterCount; ++c) {
    if (g_totals.value[c] == 0) continue;
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on " " + std::string.
    line.append(" ").append(sluice::kCounterInfo[c].name).append("=");
    line.append(std::to_string(g_totals.value[c]));
  }
  std::fprintf(stderr, "fuzz_packets: counters over all inputs:%s\n", line.c_str());
}

World& world() {
  static World* w = [] {
    auto* created = new World();  // lives as long as the process
    std::atexit(print_totals);
    return created;
  }();
  return *w;
}

// External buffers: their shared info is the callback's argument, and both
// go when the last reference does.
long g_ext_live = 0;

void free_ext(void* addr, void* opaque) {
  std::free(addr);
  delete static_cast<rte_mbuf_ext_shared_info*>(opaque);
  --g_ext_live;
}

rte_mbuf* segment(rte_mempool* pool, const uint8_t* data, uint16_t len, bool first, bool ext) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  FUZZ_CHECK(m != nullptr, "mbuf pool empty: mbufs leak");
  if (ext) {
    const uint16_t headroom = first ? kFirstHeadroom : 0;
    auto* buf = static_cast<uint8_t*>(std::malloc(size_t{headroom} + len + (len == 0 ? 1 : 0)));
    auto* shinfo = new rte_mbuf_ext_shared_info{};
    shinfo->free_cb = free_ext;
    shinfo->fcb_opaque = shinfo;
    rte_mbuf_ext_refcnt_set(shinfo, 1);
    ++g_ext_live;
    rte_pktmbuf_attach_extbuf(m, buf, RTE_BAD_IOVA, static_cast<uint16_t>(headroom + len), shinfo);
    m->data_off = headroom;
  }
  if (len != 0) std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), data, len);
  m->data_len = len;
  m->pkt_len = len;
  if (!ext) std::memset(rte_pktmbuf_mtod_offset(m, uint8_t*, len), 0xFF, rte_pktmbuf_tailroom(m));
  return m;
}

rte_mbuf* make_packet(rte_mempool* pool, const Bytes& frame, unsigned segs, bool ext) {
  const size_t len = frame.size();
  const size_t room = ext ? 60000 : kPoolSegment;
  if (segs > len) segs = len == 0 ? 1 : static_cast<unsigned>(len);
  while ((len + segs - 1) / segs > room) ++segs;
  rte_mbuf* head = nullptr;
  rte_mbuf* last = nullptr;
  for (unsigned k = 0; k < segs; ++k) {
    const size_t from = len * k / segs, to = len * (k + 1) / segs;
    rte_mbuf* m =
        segment(pool, frame.data() + from, static_cast<uint16_t>(to - from), head == nullptr, ext);
    if (head == nullptr) {
      head = m;
    } else {
      last->next = m;
      head->nb_segs++;
      head->pkt_len += m->data_len;
    }
    last = m;
  }
  return head;
}

uint16_t get16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}

// What the harness itself reads from a received frame, independently of the
// dataplane's parser: enough to know what a correct output looks like.
struct Received {
  size_t l2 = 14;
  uint16_t type = 0;
  size_t l3_len = 0;  // 0: not an IP datagram that fits the frame
};

Received look_at(const Bytes& f) {
  Received r;
  if (f.size() < 14) return r;
  r.type = get16(f, 12);
  if (r.type == 0x8100 && f.size() >= 18) {
    r.l2 = 18;
    r.type = get16(f, 16);
  }
  if (r.type == 0x0800 && f.size() >= r.l2 + 20) {
    r.l3_len = get16(f, r.l2 + 2);
  } else if (r.type == 0x86DD && f.size() >= r.l2 + 40) {
    r.l3_len = 40u + get16(f, r.l2 + 4);
  }
  if (r.l2 + r.l3_len > f.size()) r.l3_len = 0;
  return r;
}

bool same_bytes(const Bytes& a, size_t a_off, const uint8_t* b, size_t n) {
  return a.size() >= a_off + n && std::memcmp(a.data() + a_off, b, n) == 0;
}

std::string describe(const Bytes& in, const Bytes& out) {
  return "\nreceived:\n" + st::hex(in) + "sent:\n" + st::hex(out);
}

void check_to_backend(const World& w, const Bytes& in, const Bytes& out) {
  const Received r = look_at(in);
  FUZZ_CHECK(r.l3_len != 0,
             "forwarded a frame that holds no whole IP datagram" + describe(in, out));
  FUZZ_CHECK(same_bytes(out, 0, w.config.next_hop_mac, 6), "destination MAC" + describe(in, out));
  FUZZ_CHECK(same_bytes(out, 6, w.config.port_mac, 6), "source MAC" + describe(in, out));
  const size_t l2 = r.l2;
  FUZZ_CHECK(out.size() >= l2 + 40, "too short for outer headers" + describe(in, out));
  if (l2 == 18) FUZZ_CHECK(same_bytes(out, 12, in.data() + 12, 4), "VLAN tag" + describe(in, out));
  const uint16_t type = get16(out, l2 - 2);
  size_t outer_len, outer_hdr;
  uint8_t protocol;
  std::array<uint8_t, 17> dst{};
  if (type == 0x0800) {
    outer_hdr = 20;
    FUZZ_CHECK(out[l2] == 0x45, "outer IPv4 version/IHL" + describe(in, out));
    outer_len = get16(out, l2 + 2);
    protocol = out[l2 + 9];
    FUZZ_CHECK(same_bytes(out, l2 + 12, w.config.outer_src_v4.bytes, 4),
               "outer IPv4 source" + describe(in, out));
    dst[0] = 4;
    std::memcpy(dst.data() + 1, &out[l2 + 16], 4);
  } else {
    FUZZ_CHECK(type == 0x86DD, "outer ethertype" + describe(in, out));
    outer_hdr = 40;
    outer_len = 40u + get16(out, l2 + 4);
    protocol = out[l2 + 6];
    FUZZ_CHECK(same_bytes(out, l2 + 8, w.config.outer_src_v6.bytes, 16),
               "outer IPv6 source" + describe(in, out));
    dst[0] = 6;
    std::memcpy(dst.data() + 1, &out[l2 + 24], 16);
  }
  FUZZ_CHECK(w.backend_addresses.count(dst) == 1,
             "outer destination is no installed backend" + describe(in, out));
  FUZZ_CHECK(l2 + outer_len <= out.size(), "outer IP length " + std::to_string(outer_len) +
                                               " runs past the frame" + describe(in, out));
  FUZZ_CHECK(l2 + outer_len == out.size(),
             "outer IP length " + std::to_string(outer_len) + " + L2 " + std::to_string(l2) +
                 " != frame length " + std::to_string(out.size()) + describe(in, out));
  size_t overhead = outer_hdr;
  if (protocol == 17) {
    overhead += 8;
    FUZZ_CHECK(get16(out, l2 + outer_hdr + 2) == kGuePort, "GUE port" + describe(in, out));
    FUZZ_CHECK(get16(out, l2 + outer_hdr + 4) == outer_len - outer_hdr,
               "UDP length" + describe(in, out));
  } else {
    FUZZ_CHECK(protocol == (r.type == 0x0800 ? 4 : 41), "outer protocol" + describe(in, out));
  }
  FUZZ_CHECK(outer_len == overhead + r.l3_len, "inner length" + describe(in, out));
  FUZZ_CHECK(same_bytes(out, l2 + overhead, in.data() + r.l2, r.l3_len),
             "the inner datagram changed" + describe(in, out));
  const std::string bad = st::verify_checksums(out);
  FUZZ_CHECK(bad.empty(), "outer checksum: " + bad + describe(in, out));
}

void check_to_client(const World& w, const Bytes& in, const Bytes& out) {
  const Received r = look_at(in);
  FUZZ_CHECK(r.l3_len != 0,
             "replied to a frame that holds no whole IP datagram" + describe(in, out));
  const bool v4 = r.type == 0x0800;
  // Where the reply's ICMP header is: an echo reply keeps the request's
  // IPv6 hop-by-hop and destination options headers.
  size_t icmp_at = r.l2 + (v4 ? 20 : 40);
  if (!v4 && out.size() >= icmp_at) {
    uint8_t next = out[r.l2 + 6];
    while ((next == 0 || next == 60) && out.size() >= icmp_at + 8) {
      next = out[icmp_at];
      icmp_at += (out[icmp_at + 1] + 1u) * 8u;
    }
  }
  FUZZ_CHECK(out.size() >= icmp_at + 8, "reply shorter than its ICMP header" + describe(in, out));
  FUZZ_CHECK(same_bytes(in, 0, w.config.port_mac, 6),
             "replied to a frame not addressed to the port's MAC" + describe(in, out));
  FUZZ_CHECK(same_bytes(out, 0, in.data() + 6, 6) && same_bytes(out, 6, w.config.port_mac, 6),
             "reply MACs" + describe(in, out));
  FUZZ_CHECK((out[0] & 0x01) == 0, "reply to a group MAC" + describe(in, out));
  const uint8_t icmp_type = out[icmp_at];
  const bool echo = icmp_type == (v4 ? 0 : 129);
  const Received o = look_at(out);
  FUZZ_CHECK(o.l3_len != 0 && o.l2 == r.l2 && o.type == r.type,
             "the reply is no IP datagram of the request's family" + describe(in, out));
  FUZZ_CHECK(o.l2 + o.l3_len == out.size(), "reply length" + describe(in, out));
  if (echo) {
    FUZZ_CHECK(o.l3_len == r.l3_len, "echo reply length" + describe(in, out));
    FUZZ_CHECK(in[icmp_at + 1] == 0, "echo reply to a request with code != 0" + describe(in, out));
    // Only requests whose checksum verifies are answered, so every reply's does.
    const std::string bad = st::verify_checksums(out);
    FUZZ_CHECK(bad.empty(), "echo reply checksum: " + bad + describe(in, out));
  } else {
    FUZZ_CHECK(icmp_type == (v4 ? 3 : 2), "reply ICMP type" + describe(in, out));
    FUZZ_CHECK(o.l3_len <= (v4 ? 576u : 1280u), "too-big reply size" + describe(in, out));
    const std::string bad = st::verify_checksums(out);
    FUZZ_CHECK(bad.empty(), "too-big reply checksum: " + bad + describe(in, out));
  }
}

void check_chain(const rte_mbuf* m) {
  const char* reason = nullptr;
  FUZZ_CHECK(rte_mbuf_check(m, 1, &reason) == 0, std::string("unsound mbuf: ") + reason);
}

// One burst of `frames` at `now`; checks and frees everything.
void run_burst(World& w, dp::WorkerContext& ctx, const std::vector<Bytes>& frames, unsigned segs,
               bool ext, uint64_t now) {
  const auto n = static_cast<uint16_t>(frames.size());
  rte_mbuf* in[dp::kMaxBurst];
  for (uint16_t i = 0; i < n; ++i) in[i] = make_packet(w.pool, frames[i], segs, ext);
  const LcoreCounters before = ctx.counters();
  uint64_t rx_bytes = 0;
  for (uint16_t i = 0; i < n; ++i) rx_bytes += rte_pktmbuf_pkt_len(in[i]);

  dp::BurstOutput out;
  dp::process_burst(ctx, in, n, now, out);
  w.publisher->report_quiescent(0);

  FUZZ_CHECK(out.n_to_backend + out.n_to_client + out.n_dropped == n,
             "outputs do not add up to the burst");
  int seen[dp::kMaxBurst] = {};
  auto index_of = [&](const rte_mbuf* m) {
    for (uint16_t i = 0; i < n; ++i) {
      if (in[i] == m) return i;
    }
    sluice::fuzz::check_failed(__FILE__, __LINE__, "index_of(m)",
                               "an output mbuf was not in the burst");
  };
  for (uint16_t k = 0; k < out.n_to_backend; ++k) {
    const uint16_t i = index_of(out.to_backend[k]);
    ++seen[i];
    check_chain(in[i]);
    check_to_backend(w, frames[i], st::from_mbuf(in[i]));
  }
  for (uint16_t k = 0; k < out.n_to_client; ++k) {
    const uint16_t i = index_of(out.to_client[k]);
    ++seen[i];
    check_chain(in[i]);
    check_to_client(w, frames[i], st::from_mbuf(in[i]));
  }
  for (uint16_t k = 0; k < out.n_dropped; ++k) {
    const uint16_t i = index_of(out.dropped[k]);
    ++seen[i];
    check_chain(in[i]);
  }
  for (uint16_t i = 0; i < n; ++i) {
    FUZZ_CHECK(seen[i] == 1, "packet " + std::to_string(i) + " is in " + std::to_string(seen[i]) +
                                 " output lists");
  }

  const LcoreCounters& after = ctx.counters();
  auto delta = [&](Counter c) { return after.get(c) - before.get(c); };
  FUZZ_CHECK(delta(Counter::rx_packets) == n);
  FUZZ_CHECK(delta(Counter::rx_bytes) == rx_bytes);
  FUZZ_CHECK(delta(Counter::fwd_packets) + delta(Counter::fwd_icmp_errors) == out.n_to_backend);
  FUZZ_CHECK(delta(Counter::icmp_echo_replies) + delta(Counter::icmp_too_big_sent) ==
             out.n_to_client);
  uint64_t drops = delta(Counter::not_for_us) + delta(Counter::not_our_mac) +
                   delta(Counter::not_our_mac_group);
  for (size_t c = static_cast<size_t>(Counter::drop_truncated);
       c <= static_cast<size_t>(Counter::drop_no_neighbour); ++c) {
    drops += after.value[c] - before.value[c];
  }
  FUZZ_CHECK(drops == out.n_dropped, "drop counters " + std::to_string(drops) + " != dropped " +
                                         std::to_string(out.n_dropped));

  for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(in[i]);
  FUZZ_CHECK(rte_mempool_avail_count(w.pool) == w.pool_free_at_rest,
             "mbufs leaked or freed twice: " + std::to_string(rte_mempool_avail_count(w.pool)) +
                 " free, " + std::to_string(w.pool_free_at_rest) + " expected");
  FUZZ_CHECK(g_ext_live == 0, "external buffers leaked or freed twice");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  if (size == 0) return 0;
  const uint8_t ctl = data[0];
  const bool ext = ctl & 0x01;
  const unsigned segs = 1 + ((ctl >> 1) & 0x3);
  const unsigned repeats = 1 + ((ctl >> 3) & 0x7);
  const bool several = ctl & 0x40;
  const bool second = ctl & 0x80;

  std::vector<Bytes> distinct;
  const uint8_t* p = data + 1;
  const uint8_t* end = data + size;
  if (several) {
    while (end - p >= 2 && distinct.size() < dp::kMaxBurst) {
      size_t len = size_t{p[0]} << 8 | p[1];
      p += 2;
      if (len > static_cast<size_t>(end - p)) len = static_cast<size_t>(end - p);
      distinct.emplace_back(p, p + std::min(len, kMaxFrame));
      p += len;
    }
  } else {
    distinct.emplace_back(p, p + std::min(static_cast<size_t>(end - p), kMaxFrame));
  }
  std::vector<Bytes> frames;
  for (const Bytes& f : distinct) {
    for (unsigned r = 0; r < repeats && frames.size() < dp::kMaxBurst; ++r) frames.push_back(f);
  }
  if (frames.empty()) return 0;

  auto ctx = std::make_unique<dp::WorkerContext>(w.config, *w.publisher, 0);
  run_burst(w, *ctx, frames, segs, ext, kT0);
  if (second) {
    w.apply(w.changed);
    run_burst(w, *ctx, frames, segs, ext, kT0 + 31 * kTscHz);
    w.apply(w.base);
  }
  for (size_t c = 0; c < sluice::kCounterCount; ++c) g_totals.value[c] += ctx->counters().value[c];
  return 0;
}
