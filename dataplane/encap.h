// Encapsulation toward a backend (DESIGN.md section 2, step 5): IPIP
// (v4-in-v4, v6-in-v6, v4-in-v6) or GUE variant 1 (the inner IP packet
// directly in UDP, RFC draft-ietf-intarea-gue section 4), then the Ethernet
// rewrite of step 6. The inner packet is not touched. One template per
// (outer family, encapsulation); the caller picks the instance with a switch
// on two bytes it already holds, never through a pointer.
// Worker lcores only.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_mbuf.h>

#include "common/net_headers.h"
#include "common/table_config.h"
#include "dataplane/mbuf_chain.h"
#include "dataplane/packet_parse.h"
#include "dataplane/tables.h"

namespace sluice::dp {

inline constexpr uint8_t kOuterTtl = 64;

constexpr uint32_t encap_overhead(uint8_t outer_family, Encap encap) {
  return (outer_family == 4 ? sizeof(net::Ipv4Header) : sizeof(net::Ipv6Header)) +
         (encap == Encap::kGue ? sizeof(net::UdpHeader) : 0);
}

struct EncapParams {
  const uint8_t* port_mac;
  const uint8_t* next_hop_mac;
  const uint8_t* outer_src;  // 4 or 16 bytes, by outer family
  uint16_t gue_port_be;
};

// Prepends the outer headers for a packet whose Ethernet (+VLAN) header is
// `meta.l2_len` bytes and whose IP datagram is `meta.l3_len` bytes (padding
// already trimmed). Returns false only if the mbuf lacks headroom.
template <uint8_t OuterFamily, Encap E>
inline bool encapsulate(rte_mbuf* m, const PacketMeta& meta, const BackendEntry& backend,
                        const EncapParams& p) {
  constexpr uint32_t kOuterIp =
      OuterFamily == 4 ? sizeof(net::Ipv4Header) : sizeof(net::Ipv6Header);
  constexpr uint32_t kOverhead = encap_overhead(OuterFamily, E);
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kOverhead));
  if (frame == nullptr) return false;
  const uint32_t l2 = meta.l2_len;
  // Move the (possibly VLAN-tagged) Ethernet header to the new front; the
  // outer headers go between it and the untouched inner packet.
  std::memmove(frame, frame + kOverhead, l2);
  std::memcpy(frame, p.next_hop_mac, 6);
  std::memcpy(frame + 6, p.port_mac, 6);
  const uint16_t outer_type = OuterFamily == 4 ? net::kEtherTypeIpv4 : net::kEtherTypeIpv6;
  frame[l2 - 2] = static_cast<uint8_t>(outer_type >> 8);
  frame[l2 - 1] = static_cast<uint8_t>(outer_type & 0xFF);

  const uint8_t inner_proto = meta.family == 4 ? net::kIpProtoIpip : net::kIpProtoIpv6;
  const uint8_t outer_proto = E == Encap::kGue ? net::kIpProtoUdp : inner_proto;
  const uint32_t outer_len = kOverhead + meta.l3_len;
  uint8_t* l3 = frame + l2;
  if constexpr (OuterFamily == 4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    ip->version_ihl = 0x45;
    ip->type_of_service = meta.tos;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(outer_len));
    ip->packet_id = 0;
    // DF on the outer header: oversize packets were already answered with
    // ICMP before we got here, so nothing downstream should fragment.
    ip->fragment_offset = rte_cpu_to_be_16(net::kIpv4FlagDontFragment);
    ip->time_to_live = kOuterTtl;
    ip->next_proto_id = outer_proto;
    uint32_t src, dst;
    std::memcpy(&src, p.outer_src, 4);
    std::memcpy(&dst, backend.address, 4);
    ip->src_addr = src;
    ip->dst_addr = dst;
    // The checksum from the values still in registers: reading the header
    // back (rte_ipv4_cksum) right after writing it in small pieces defeats
    // store-to-load forwarding and stalls until the stores retire (lb-bench:
    // 34 -> 26 ns established-hot). One's-complement sums do not depend on
    // byte order (RFC 1071 2.(B)), so network-order words are summed as is.
    uint32_t sum = rte_cpu_to_be_16(static_cast<uint16_t>(0x4500 | meta.tos)) +
                   rte_cpu_to_be_16(static_cast<uint16_t>(outer_len)) +
                   rte_cpu_to_be_16(net::kIpv4FlagDontFragment) +
                   rte_cpu_to_be_16(static_cast<uint16_t>(kOuterTtl << 8 | outer_proto)) +
                   (src & 0xFFFF) + (src >> 16) + (dst & 0xFFFF) + (dst >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    ip->hdr_checksum = static_cast<uint16_t>(~sum);
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
    // Flow label from the flow hash so that ECMP between us and the backend
    // keeps a flow on one path and spreads different flows.
    const uint32_t flow_label = static_cast<uint32_t>(meta.hash.hash) & 0xFFFFF;
    ip->vtc_flow = rte_cpu_to_be_32((6u << 28) | (uint32_t{meta.tos} << 20) | flow_label);
    ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(outer_len - kOuterIp));
    ip->proto = outer_proto;
    ip->hop_limits = kOuterTtl;
    std::memcpy(ip->src_addr, p.outer_src, 16);
    std::memcpy(ip->dst_addr, backend.address, 16);
  }
  if constexpr (E == Encap::kGue) {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(l3 + kOuterIp);
    // Source port from the flow hash (high bits: independent of the bucket
    // and Maglev bits) in 32768-65535, so the backend's RSS spreads flows.
    const uint16_t src_port =
        rte_cpu_to_be_16(static_cast<uint16_t>(0x8000 | (meta.hash.hash >> 49)));
    const uint16_t udp_len = rte_cpu_to_be_16(static_cast<uint16_t>(outer_len - kOuterIp));
    udp->src_port = src_port;
    udp->dst_port = p.gue_port_be;
    udp->dgram_len = udp_len;
    udp->dgram_cksum = 0;
    if constexpr (OuterFamily == 6) {
      // IPv6 requires a UDP checksum (RFC 8200 section 8.1). Sum the inner
      // packet (received bytes, untouched) and add the pseudo-header and UDP
      // header from the values, for the same reason as the IPv4 header.
      const uint32_t inner_off = l2 + kOuterIp + sizeof(rte_udp_hdr);
      uint32_t sum = m->nb_segs == 1
                         ? __rte_raw_cksum(l3 + kOuterIp + sizeof(rte_udp_hdr), meta.l3_len, 0)
                         : mbuf_raw_cksum(m, inner_off, meta.l3_len);
      sum = __rte_raw_cksum(p.outer_src, 16, sum);
      sum = __rte_raw_cksum(backend.address, 16, sum);
      sum += udp_len + rte_cpu_to_be_16(net::kIpProtoUdp);  // pseudo-header length, next header
      sum += src_port + p.gue_port_be + udp_len;            // the UDP header, checksum 0
      const uint16_t cksum = static_cast<uint16_t>(~__rte_raw_cksum_reduce(sum));
      udp->dgram_cksum = cksum == 0 ? 0xFFFF : cksum;
    }
    // Over IPv4 a zero UDP checksum means "none" (RFC 768), which is what
    // tunnels use: the inner packet carries its own.
  }
  return true;
}

}  // namespace sluice::dp
