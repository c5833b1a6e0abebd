// The one list of dataplane counters (DESIGN.md section 9). Prometheus names,
// lbctl output and tests all come from this list; a counter that is not here
// does not exist. Counters are per lcore, only go up, and are summed by the
// reader: each lcore increments its own block with plain stores, readers on
// other threads load them relaxed and add the blocks up.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

// X(identifier, "help text"). Every way a packet can fail to be forwarded
// has its own counter (CONVENTIONS.md item 9).
#define SLUICE_LCORE_COUNTERS(X)                                                          \
  X(rx_packets, "Packets received by the worker")                                         \
  X(rx_bytes, "Bytes received by the worker")                                             \
  X(fwd_packets, "Packets encapsulated toward a backend")                                 \
  X(fwd_bytes, "Bytes sent toward backends, outer headers included")                      \
  X(fwd_icmp_errors, "ICMP errors about a VIP flow forwarded to the owning backend")       \
  X(icmp_echo_replies, "Echo requests to a VIP answered")                                 \
  X(icmp_too_big_sent, "ICMP fragmentation-needed / packet-too-big sent to clients")      \
  X(no_backend_rst_sent, "TCP RSTs sent to clients of a VIP without a usable backend "     \
    "(no_backend reset)")                                                                 \
  X(no_backend_unreachable_sent, "ICMP / ICMPv6 destination unreachable sent to clients "  \
    "of a VIP without a usable backend (no_backend unreachable)")                         \
  X(not_for_us, "Packets not addressed to a VIP (left to the kernel, not an error)")      \
  X(not_our_mac, "Frames to another host's unicast MAC (a promiscuous port sees them)")   \
  X(not_our_mac_group, "Frames to a broadcast or multicast MAC: never forwarded or answered") \
  X(drop_truncated, "Dropped: a header is cut short by the end of the packet")            \
  X(drop_bad_l3_header, "Dropped: IP version, IHL or length fields inconsistent")         \
  X(drop_ipv4_options, "Dropped: IPv4 header carries options")                            \
  X(drop_ipv4_fragment, "Dropped: IPv4 fragment")                                         \
  X(drop_ipv6_fragment, "Dropped: IPv6 fragment header")                                  \
  X(drop_ipv6_ext_header, "Dropped: IPv6 extension header not skipped (routing, unknown)")\
  X(drop_ttl_expired, "Dropped: TTL or hop limit 0 or 1")                                 \
  X(drop_vlan_stacked, "Dropped: more than one VLAN tag")                                 \
  X(drop_no_backend, "Dropped: the VIP has no backend that takes the flow")               \
  X(drop_icmp_unsupported, "Dropped: ICMP type to a VIP that Sluice does not handle")     \
  X(drop_icmp_error_no_flow, "Dropped: ICMP error quoting a packet that is no VIP flow")   \
  X(drop_icmp_bad_checksum, "Dropped: echo request whose ICMP / ICMPv6 checksum is wrong")  \
  X(drop_icmp_bad_code, "Dropped: echo request with a code other than 0")                 \
  X(drop_icmp_bad_source, "Dropped: no ICMP or RST reply to a source that is no single host " \
    "(multicast, broadcast, unspecified, loopback address or a group source MAC)")        \
  X(drop_too_big, "Dropped: encapsulated packet would exceed the egress MTU")             \
  X(drop_too_big_may_fragment, "Dropped: too big, DF clear (outer fragmentation unsupported)") \
  X(drop_icmp_rate_limited, "Dropped: ICMP reply suppressed by the rate limit")            \
  X(drop_no_backend_rate_limited, "Dropped: no usable backend, and its answer (RST or "    \
    "unreachable) suppressed by the rate limit of replies")                               \
  X(drop_no_headroom, "Dropped: no mbuf headroom for the outer headers")                  \
  X(drop_no_neighbour, "Dropped: the next hop's MAC is not known (no usable neighbour "      \
    "entry for --next-hop-ip of the backend's family)")                                   \
  X(drop_tx_full, "Dropped: the TX queue did not take the packet")                        \
  X(conn_hits, "Connection table lookups that found the flow with a usable backend")      \
  X(conn_misses, "Connection table misses of a TCP SYN or a UDP packet (a new flow)")     \
  X(conn_misses_non_syn, "Connection table misses of a flow under way (TCP without SYN, "\
    "ICMP errors): sent by the existing-flows table")                                     \
  X(conn_stale_backend, "Connection entries whose backend left the VIP (re-picked)")      \
  X(conn_reopened, "SYNs on a closing entry: a new connection on the tuple, re-picked")   \
  X(conn_inserts, "Connection table inserts")                                             \
  X(conn_insert_failed, "Half-open entries not made: bucket full of established flows")   \
  X(conn_insert_capped, "Flows not entered: the per-lcore insert rate cap (flood guard)") \
  X(conn_expired_reused, "Inserts that took an expired entry's place")                    \
  X(conn_replaced_half_open, "Inserts that took a live half-open entry's place")          \
  X(conn_replaced_closing, "Inserts that took a live closing entry's place")              \
  X(conn_replaced_lru, "Inserts that took the least recently used established entry's place") \
  X(new_flows, "New flows (a TCP SYN or a UDP packet without an entry), each counted once")  \
  X(new_flows_unentered_to_draining, "New flows not entered (bucket of established flows, " \
    "flood guard) sent by the existing-flows table to a draining backend, where their " \
    "later packets go too") \
  X(new_flows_unentered_to_maglev, "New flows of a host-local scheduler's VIP not " \
    "entered (bucket of established flows, flood guard), sent by the existing-flows " \
    "Maglev table, where their later packets go too") \
  X(tx_packets, "Packets the TX queues took (toward backends and replies to clients)")   \
  X(to_kernel_packets, "Frames handed to the kernel through the exception interface "     \
                       "(ARP, neighbour discovery, the host's own traffic)")               \
  X(from_kernel_packets, "Frames the kernel sent through the exception interface, "        \
                         "transmitted on the port")                                          \
  X(drop_to_kernel_full, "Dropped: the exception interface's TX queue did not take a "     \
                         "frame for the kernel")                                             \
  X(drop_from_kernel_full, "Dropped: the port's TX queue did not take a frame the kernel "  \
                           "sent")                                                           \
  X(worker_polls, "Worker loop passes (one RX poll of each port; counted per loop)")      \
  X(worker_empty_polls, "Worker loop passes that received nothing")                       \
  X(worker_busy_cycles, "TSC cycles spent in worker loop passes that received packets")

enum class Counter : uint32_t {
#define SLUICE_COUNTER_ENUM(name, help) name,
  SLUICE_LCORE_COUNTERS(SLUICE_COUNTER_ENUM)
#undef SLUICE_COUNTER_ENUM
      kCount
};

inline constexpr size_t kCounterCount = static_cast<size_t>(Counter::kCount);

struct CounterInfo {
  const char* name;
  const char* help;
};

inline constexpr CounterInfo kCounterInfo[kCounterCount] = {
#define SLUICE_COUNTER_INFO(name, help) {#name, help},
    SLUICE_LCORE_COUNTERS(SLUICE_COUNTER_INFO)
#undef SLUICE_COUNTER_INFO
};

// One lcore's block. Written only by its lcore.
struct alignas(64) LcoreCounters {
  uint64_t value[kCounterCount];

  void add(Counter c, uint64_t n = 1) { value[static_cast<size_t>(c)] += n; }
  uint64_t get(Counter c) const { return value[static_cast<size_t>(c)]; }
};

// The drop reasons that can happen once a packet's VIP is known: each is
// also counted per VIP (VipDropCounters), on the drop path only.
inline constexpr Counter kVipDropReasons[] = {
    Counter::drop_ttl_expired,        Counter::drop_no_backend,
    Counter::drop_icmp_error_no_flow, Counter::drop_too_big,
    Counter::drop_too_big_may_fragment, Counter::drop_icmp_bad_source,
    Counter::drop_icmp_rate_limited,  Counter::drop_no_headroom,
    Counter::drop_no_backend_rate_limited, Counter::drop_no_neighbour,
};
inline constexpr size_t kVipDropReasonCount = sizeof kVipDropReasons / sizeof kVipDropReasons[0];

inline const char* counter_name(Counter c) { return kCounterInfo[static_cast<size_t>(c)].name; }

// Where `c` is in kVipDropReasons; kVipDropReasonCount if it is not there.
constexpr size_t vip_drop_index(Counter c) {
  for (size_t i = 0; i < kVipDropReasonCount; ++i) {
    if (kVipDropReasons[i] == c) return i;
  }
  return kVipDropReasonCount;
}

// One VIP's drops by reason, in kVipDropReasons order; per lcore.
struct VipDropCounters {
  uint64_t value[kVipDropReasonCount];
};

// Per-VIP and per-backend traffic, indexed by VIP slot and backend id. One
// cache line each, so that the packet and byte counts a forwarded packet
// adds to never straddle two.
struct alignas(64) TrafficCounters {
  uint64_t packets;
  uint64_t bytes;
  uint64_t new_flows;
  // Passive health signals, per backend (DESIGN.md section 5): SYNs that
  // found their flow's entry still half-open (the client retries: the
  // backend does not answer), and packets without SYN of flows the table
  // did not hold, counted against the backend they were sent to.
  uint64_t syn_retries;
  uint64_t non_syn_misses;
  // Per backend, the worker's connection-table entries that entered and
  // left each class (DESIGN.md section 3; IPVS's counts in direct-routing
  // mode): established entries are active; half-open, closing and UDP ones
  // inactive. An entry leaves when it changes state or backend, is
  // replaced, or is found expired (on reuse, or by the worker's sweep).
  // Counters only go up: a backend's entries of a class are in - out,
  // summed over the lcores. What least-connections and power-of-two count.
  // 32 bits, taken modulo 2^32 (they wrap): in - out stays exact while a
  // backend has fewer than 2^31 entries of a class, and the struct fits
  // its line.
  uint32_t active_in;
  uint32_t active_out;
  uint32_t inactive_in;
  uint32_t inactive_out;
};
static_assert(sizeof(TrafficCounters) == 64);

// Entries of a class from its in and out counts (modulo 2^32, as they wrap).
inline uint32_t entries_of_class(uint32_t in, uint32_t out) {
  const uint32_t n = in - out;
  // A reader that saw an out newer than its in (it reads out first, so only
  // a torn sum could) would get a wrapped difference: none then.
  return n > (1u << 31) ? 0 : n;
}

}  // namespace sluice
