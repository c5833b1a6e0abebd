// Parsing and classification of one received packet (DESIGN.md section 2,
// steps 2 and 3). Inline, allocation-free, bounds-checked against the first
// segment: any header that does not fit ends in a drop reason, never a read
// past the data. Worker lcores only (it reads the worker's table snapshot).
//
// Link-layer admission comes first: a frame is ours only if its destination
// MAC is the port's or one of --accept-mac's (all unicast), so group-addressed
// frames (broadcast, multicast) never reach a backend and are never answered
// (RFC 1122 3.2.2, RFC 4443 2.4 e.2). Echo requests are classified as such
// only with code 0, and answered only when icmp_checksum_ok() finds the
// checksum right over the whole message (the ICMPv6 pseudo-header
// included); fragments never get this far.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "common/counters.h"
#include "common/flow_key.h"
#include "common/hash.h"
#include "common/net_headers.h"
#include "dataplane/tables.h"

namespace sluice::dp {

enum class Action : uint8_t {
  kDrop,         // counted by `drop_reason`
  kForward,      // TCP/UDP to a VIP: schedule and encapsulate
  kIcmpError,    // ICMP error quoting a VIP flow: to the owning backend
  kEchoRequest,  // echo request to a VIP address: answer it
};

struct PacketMeta {
  FlowKey key;                // client -> VIP direction (swapped for ICMP errors)
  FlowHash hash;
  const VipEntry* vip;
  Counter drop_reason;
  Action action;
  uint8_t family;             // of the received packet's IP header
  uint8_t dont_fragment;      // IPv4 DF bit; 1 for IPv6 (never fragmented en route)
  uint8_t tos;                // IPv4 TOS / IPv6 traffic class, copied to the outer header
  uint8_t tcp_flags;          // of a TCP packet to a VIP (kForward); 0 otherwise
  uint16_t l2_len;            // 14, or 18 with a VLAN tag
  uint16_t l3_len;            // IP datagram length (Ethernet padding excluded)
  uint16_t l4_offset;         // from the start of the frame
};

// Destination MACs besides the port's own that a worker accepts (--accept-mac).
inline constexpr uint32_t kMaxAcceptMacs = 16;

// The MACs a frame may be addressed to, each split into its first four and
// last two bytes as loaded from the frame (memory order), so that the check
// of the common case is two loads and two compares (CONVENTIONS.md item 5).
struct MacAdmission {
  struct Mac {
    uint32_t head;
    uint16_t tail;
  };
  Mac port;
  uint32_t n_extra = 0;
  Mac extra[kMaxAcceptMacs];

  static Mac split(const uint8_t* mac) {
    Mac m;
    std::memcpy(&m.head, mac, 4);
    std::memcpy(&m.tail, mac + 4, 2);
    return m;
  }
};

// Which frames are the host's own rather than dropped traffic: those for
// no VIP (the host's addresses, ARP and other non-IP frames, IPv4 options
// and fragments to other addresses) and group-addressed ones (ARP
// requests, neighbour discovery, multicast). With an exception interface
// (ForwardingConfig::kernel_path) the worker hands exactly these to the
// kernel; frames to another station's MAC and malformed VIP traffic are
// never the kernel's.
inline bool belongs_to_kernel(Counter reason) {
  return reason == Counter::not_for_us || reason == Counter::not_our_mac_group;
}

namespace parse_detail {

inline bool drop(PacketMeta& m, Counter reason) {
  m.action = Action::kDrop;
  m.drop_reason = reason;
  return false;
}

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Is the frame (at least 14 bytes) addressed to us? The port's MAC first
// (passed by value: it stays in registers across a burst), then the group
// bit (I/G, the first byte's lowest bit), then the extra MACs.
inline bool admit(MacAdmission::Mac port, const MacAdmission& a, PacketMeta& m,
                  const uint8_t* frame) {
  uint32_t head;
  uint16_t tail;
  std::memcpy(&head, frame, 4);
  std::memcpy(&tail, frame + 4, 2);
  if (((head ^ port.head) | static_cast<uint32_t>(tail ^ port.tail)) == 0) [[likely]] {
    return true;
  }
  if ((frame[0] & 0x01) != 0) return drop(m, Counter::not_our_mac_group);
  for (uint32_t i = 0; i < a.n_extra; ++i) {
    if (head == a.extra[i].head && tail == a.extra[i].tail) return true;
  }
  return drop(m, Counter::not_our_mac);
}

// The flow key's word stores are the contract's (common/flow_key.h): flow
// explain and lb-bench build their keys with the same ones.
using flow_key::load_u32;
using flow_key::store_address;
using flow_key::store_tail;
inline uint32_t swap_ports(uint32_t ports) { return ports >> 16 | ports << 16; }

inline uint32_t l4_header_size(uint8_t protocol) {
  return protocol == net::kIpProtoTcp ? sizeof(net::TcpHeader) : sizeof(net::UdpHeader);
}

// Reads the packet quoted by an ICMP error (starting at `inner`, `avail`
// bytes) and sets meta.key to the client->VIP flow it belongs to.
inline bool parse_quoted(const TableSnapshot& t, PacketMeta& m, const uint8_t* inner,
                         uint32_t avail) {
  uint8_t protocol;
  const uint8_t *src, *dst, *l4;
  if (m.family == 4) {
    if (avail < sizeof(net::Ipv4Header)) return drop(m, Counter::drop_icmp_error_no_flow);
    const auto* ip = reinterpret_cast<const net::Ipv4Header*>(inner);
    const uint32_t ihl = (ip->version_ihl & 0x0F) * 4u;
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(net::Ipv4Header) || avail < ihl + 4) {
      return drop(m, Counter::drop_icmp_error_no_flow);
    }
    protocol = ip->protocol;
    src = inner + offsetof(net::Ipv4Header, src);
    dst = inner + offsetof(net::Ipv4Header, dst);
    l4 = inner + ihl;
  } else {
    if (avail < sizeof(net::Ipv6Header) + 4) return drop(m, Counter::drop_icmp_error_no_flow);
    const auto* ip = reinterpret_cast<const net::Ipv6Header*>(inner);
    if ((inner[0] >> 4) != 6) return drop(m, Counter::drop_icmp_error_no_flow);
    protocol = ip->next_header;
    src = ip->src;
    dst = ip->dst;
    l4 = inner + sizeof(net::Ipv6Header);
  }
  if (protocol != net::kIpProtoTcp && protocol != net::kIpProtoUdp) {
    return drop(m, Counter::drop_icmp_error_no_flow);
  }
  // The quoted packet went VIP -> client; the flow is client -> VIP.
  store_address(m.key.src, m.family, dst);
  store_address(m.key.dst, m.family, src);
  store_tail(m.key, swap_ports(static_cast<uint32_t>(load_u32(l4))), protocol, m.family);
  m.vip = t.find_vip(m.family, m.key.dst, m.key.dst_port, protocol);
  if (m.vip == nullptr) return drop(m, Counter::drop_icmp_error_no_flow);
  m.tcp_flags = 0;
  m.action = Action::kIcmpError;
  return true;
}

// Common tail for both families once the L4 protocol and offset are known.
inline bool classify_l4(const TableSnapshot& t, PacketMeta& m, const uint8_t* frame,
                        uint32_t data_len, uint8_t protocol, uint8_t ttl) {
  const uint32_t l4_off = m.l4_offset;
  const uint32_t l3_end = m.l2_len + m.l3_len;
  const uint32_t avail = (l3_end < data_len ? l3_end : data_len) - l4_off;
  const uint8_t* l4 = frame + l4_off;
  const bool icmp = m.family == 4 ? protocol == net::kIpProtoIcmp
                                  : protocol == net::kIpProtoIcmpv6;
  if (protocol == net::kIpProtoTcp || protocol == net::kIpProtoUdp) {
    if (avail < l4_header_size(protocol)) return drop(m, Counter::drop_truncated);
    store_tail(m.key, static_cast<uint32_t>(load_u32(l4)), protocol, m.family);
    m.vip = t.find_vip(m.family, m.key.dst, m.key.dst_port, protocol);
    if (m.vip == nullptr) return drop(m, Counter::not_for_us);
    m.tcp_flags = protocol == net::kIpProtoTcp ? l4[offsetof(net::TcpHeader, flags)] : 0;
    if (ttl <= 1) return drop(m, Counter::drop_ttl_expired);
    m.action = Action::kForward;
    return true;
  }
  if (!icmp) return drop(m, Counter::not_for_us);
  if (avail < sizeof(net::IcmpHeader)) return drop(m, Counter::drop_truncated);
  if (!t.is_vip_address(m.family, m.key.dst)) return drop(m, Counter::not_for_us);
  const uint8_t type = l4[0];
  if (m.family == 4 ? type == net::kIcmpEchoRequest : type == net::kIcmpv6EchoRequest) {
    if (l4[1] != 0) return drop(m, Counter::drop_icmp_bad_code);
    m.action = Action::kEchoRequest;  // answered once its checksum verifies
    return true;
  }
  const bool error = m.family == 4
                         ? (type == net::kIcmpDestUnreachable || type == net::kIcmpTimeExceeded)
                         : (type == net::kIcmpv6DestUnreachable || type == net::kIcmpv6PacketTooBig ||
                            type == net::kIcmpv6TimeExceeded);
  if (!error) return drop(m, Counter::drop_icmp_unsupported);
  if (ttl <= 1) return drop(m, Counter::drop_ttl_expired);
  return parse_quoted(t, m, l4 + sizeof(net::IcmpHeader), avail - sizeof(net::IcmpHeader));
}

inline bool parse_ipv4(const TableSnapshot& t, PacketMeta& m, const uint8_t* frame,
                       uint32_t data_len, uint32_t pkt_len) {
  const uint32_t l2 = m.l2_len;
  if (data_len < l2 + sizeof(net::Ipv4Header)) return drop(m, Counter::drop_truncated);
  const auto* ip = reinterpret_cast<const net::Ipv4Header*>(frame + l2);
  const uint32_t ihl = (ip->version_ihl & 0x0F) * 4u;
  const uint32_t total = net::be16_to_host(ip->total_length);
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(net::Ipv4Header) || total < ihl) {
    return drop(m, Counter::drop_bad_l3_header);
  }
  if (total > pkt_len - l2) return drop(m, Counter::drop_truncated);
  m.family = 4;
  store_address(m.key.src, 4, reinterpret_cast<const uint8_t*>(&ip->src));
  store_address(m.key.dst, 4, reinterpret_cast<const uint8_t*>(&ip->dst));
  store_tail(m.key, 0, 0, 4);
  m.l3_len = static_cast<uint16_t>(total);
  m.tos = ip->tos;
  const uint16_t frag = net::be16_to_host(ip->fragment);
  m.dont_fragment = (frag & net::kIpv4FlagDontFragment) != 0;
  const bool fragment = (frag & (net::kIpv4FlagMoreFragments | net::kIpv4FragmentOffsetMask)) != 0;
  if (ihl != sizeof(net::Ipv4Header) || fragment) {
    // Only the address is trustworthy here: tell VIP traffic we refuse from
    // traffic that is simply not ours.
    if (!t.is_vip_address(4, m.key.dst)) return drop(m, Counter::not_for_us);
    return drop(m, fragment ? Counter::drop_ipv4_fragment : Counter::drop_ipv4_options);
  }
  m.l4_offset = static_cast<uint16_t>(l2 + ihl);
  return classify_l4(t, m, frame, data_len, ip->protocol, ip->ttl);
}

inline bool parse_ipv6(const TableSnapshot& t, PacketMeta& m, const uint8_t* frame,
                       uint32_t data_len, uint32_t pkt_len) {
  const uint32_t l2 = m.l2_len;
  if (data_len < l2 + sizeof(net::Ipv6Header)) return drop(m, Counter::drop_truncated);
  const auto* ip = reinterpret_cast<const net::Ipv6Header*>(frame + l2);
  if ((frame[l2] >> 4) != 6) return drop(m, Counter::drop_bad_l3_header);
  const uint32_t total = sizeof(net::Ipv6Header) + net::be16_to_host(ip->payload_length);
  if (total > pkt_len - l2) return drop(m, Counter::drop_truncated);
  m.family = 6;
  store_address(m.key.src, 6, ip->src);
  store_address(m.key.dst, 6, ip->dst);
  store_tail(m.key, 0, 0, 6);
  m.l3_len = static_cast<uint16_t>(total);
  m.tos = static_cast<uint8_t>(net::be32_to_host(ip->version_class_flow) >> 20);
  m.dont_fragment = 1;
  // Skip hop-by-hop and destination options; refuse fragments and routing
  // headers (their ports are not where a flow's are, or the destination is
  // not final). A bounded walk: at most 4 skippable headers.
  uint8_t next = ip->next_header;
  uint32_t off = l2 + sizeof(net::Ipv6Header);
  const uint32_t end = (l2 + total < data_len) ? l2 + total : data_len;
  for (int i = 0; i < 4 && (next == net::kIpv6ExtHopByHop || next == net::kIpv6ExtDestOpts); ++i) {
    if (off + 8 > end) return drop(m, Counter::drop_truncated);
    const auto* ext = reinterpret_cast<const net::Ipv6ExtHeader*>(frame + off);
    next = ext->next_header;
    off += (ext->length + 1u) * 8u;
  }
  if (off > end) return drop(m, Counter::drop_truncated);
  if (next == net::kIpv6ExtFragment || next == net::kIpv6ExtRouting ||
      next == net::kIpv6ExtHopByHop || next == net::kIpv6ExtDestOpts) {
    if (!t.is_vip_address(6, m.key.dst)) return drop(m, Counter::not_for_us);
    return drop(m, next == net::kIpv6ExtFragment ? Counter::drop_ipv6_fragment
                                                 : Counter::drop_ipv6_ext_header);
  }
  m.l4_offset = static_cast<uint16_t>(off);
  return classify_l4(t, m, frame, data_len, next, ip->hop_limit);
}

// Ethernet (one VLAN tag at most), then IPv4 or IPv6 and what they carry.
inline bool parse_l2_l3(const TableSnapshot& t, PacketMeta& m, const uint8_t* frame,
                        uint32_t data_len, uint32_t pkt_len) {
  uint16_t type = load_be16(frame + 12);
  m.l2_len = sizeof(net::EthernetHeader);
  if (type == net::kEtherTypeVlan || type == 0x88A8) {
    if (data_len < sizeof(net::EthernetHeader) + sizeof(net::VlanTag)) {
      return drop(m, Counter::drop_truncated);
    }
    const uint16_t inner = load_be16(frame + 16);
    if (type == 0x88A8 || inner == net::kEtherTypeVlan || inner == 0x88A8) {
      return drop(m, Counter::drop_vlan_stacked);
    }
    type = inner;
    m.l2_len += sizeof(net::VlanTag);
  }
  if (type == net::kEtherTypeIpv4) return parse_ipv4(t, m, frame, data_len, pkt_len);
  if (type == net::kEtherTypeIpv6) return parse_ipv6(t, m, frame, data_len, pkt_len);
  return drop(m, Counter::not_for_us);
}

}  // namespace parse_detail

// Classifies `mbuf` against snapshot `t`, filling `m`. Returns false when
// the packet is to be dropped (m.drop_reason says why). An echo request
// still needs icmp_checksum_ok() before it is answered.
inline bool parse_packet(const TableSnapshot& t, MacAdmission::Mac port_mac,
                         const MacAdmission& macs, const rte_mbuf* mbuf, PacketMeta& m) {
  using namespace parse_detail;
  std::memset(&m.key, 0, sizeof m.key);
  m.vip = nullptr;
  const auto* frame = rte_pktmbuf_mtod(mbuf, const uint8_t*);
  const uint32_t data_len = rte_pktmbuf_data_len(mbuf);
  const uint32_t pkt_len = rte_pktmbuf_pkt_len(mbuf);
  if (data_len < sizeof(net::EthernetHeader)) return drop(m, Counter::drop_truncated);
  if (!admit(port_mac, macs, m, frame)) return false;
  return parse_l2_l3(t, m, frame, data_len, pkt_len);
}

namespace parse_detail {

// One's-complement sum (folded, raw memory-order words) of `len` bytes from
// `off` across the chain; false if the chain is shorter. A segment that
// starts at an odd offset of the range sums byte-swapped, which swapping
// its folded sum undoes (RFC 1071 2(B)). Not rte_raw_cksum_mbuf: DPDK
// 22.11's truncates a segment's unfolded sum to 16 bits before that swap.
inline bool raw_sum_chain(const rte_mbuf* seg, uint32_t off, uint32_t len, uint32_t& out) {
  while (seg != nullptr && off >= seg->data_len) {
    off -= seg->data_len;
    seg = seg->next;
  }
  uint32_t sum = 0, done = 0;
  for (; seg != nullptr && done < len; seg = seg->next, off = 0) {
    const uint32_t avail = seg->data_len - off;
    const uint32_t n = avail < len - done ? avail : len - done;
    uint32_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), n);
    if ((done & 1) != 0) part = rte_bswap16(static_cast<uint16_t>(part));
    sum += part;
    done += n;
  }
  out = sum;
  return done == len;
}

}  // namespace parse_detail

// Does the ICMP / ICMPv6 message (from m.l4_offset to the end of the
// datagram, possibly across segments) carry a correct checksum? For echo
// requests, after parse_packet: off the forwarding path, and out of line.
[[gnu::noinline, gnu::cold]] inline bool icmp_checksum_ok(const rte_mbuf* mbuf,
                                                          const PacketMeta& m) {
  const uint32_t len = m.l2_len + m.l3_len - m.l4_offset;
  uint32_t sum = 0;
  if (m.l2_len + m.l3_len <= rte_pktmbuf_data_len(mbuf)) {
    sum = rte_raw_cksum(rte_pktmbuf_mtod_offset(mbuf, const uint8_t*, m.l4_offset), len);
  } else if (!parse_detail::raw_sum_chain(mbuf, m.l4_offset, len, sum)) {
    return false;
  }
  if (m.family == 6) {
    // RFC 8200 section 8.1: source, destination, upper-layer length, next
    // header; all as raw (memory-order) words, like the message's sum.
    const auto* ip = rte_pktmbuf_mtod_offset(mbuf, const uint8_t*, m.l2_len);
    sum += rte_raw_cksum(ip + offsetof(net::Ipv6Header, src), 32);
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(len));
    sum += rte_cpu_to_be_16(net::kIpProtoIcmpv6);
  }
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return sum == 0xFFFF;
}

}  // namespace sluice::dp
