#include "dataplane/icmp_reply.h"

#include <cstring>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "common/net_headers.h"
#include "dataplane/mbuf_chain.h"

namespace sluice::dp {

namespace {

// RFC 1624 incremental update; raw (memory-order) 16-bit words on both
// sides, which keeps the one's-complement sum byte-order neutral.
uint16_t checksum_replace(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~checksum);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  // Eqn. 3 yields 0x0000 where the data sums to +0 (an all-zero echo), and
  // only 0xFFFF verifies there; 0xFFFF is also right wherever 0x0000 is
  // (the data then sums to -0), so never answer 0x0000.
  const auto result = static_cast<uint16_t>(~sum);
  return result == 0 ? 0xFFFF : result;
}

// Back to the sender's MAC, from ours: never a MAC copied from the frame
// (it may be an --accept-mac one, or anything a sender chose).
void address_reply(uint8_t* frame, const uint8_t* port_mac) {
  std::memmove(frame, frame + 6, 6);
  std::memcpy(frame + 6, port_mac, 6);
}

}  // namespace

bool may_answer(const rte_mbuf* m, const PacketMeta& meta) {
  const auto* frame = rte_pktmbuf_mtod(m, const uint8_t*);
  if ((frame[6] & 0x01) != 0) return false;  // group source MAC
  const uint8_t* src = meta.key.src;
  if (meta.family == 4) {
    // 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 reserved.
    return src[0] != 0 && src[0] != 127 && src[0] < 224;
  }
  if (src[0] == 0xFF) return false;  // multicast
  static constexpr uint8_t kZero[15] = {};
  // :: and ::1
  return !(std::memcmp(src, kZero, 15) == 0 && (src[15] == 0 || src[15] == 1));
}

void make_echo_reply(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac) {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  address_reply(frame, port_mac);
  auto* icmp = reinterpret_cast<net::IcmpHeader*>(frame + meta.l4_offset);
  uint16_t old_word;
  std::memcpy(&old_word, icmp, 2);
  icmp->type = meta.family == 4 ? net::kIcmpEchoReply : net::kIcmpv6EchoReply;
  uint16_t new_word;
  std::memcpy(&new_word, icmp, 2);
  // Swapping source and destination leaves the ICMPv6 pseudo-header sum
  // unchanged, so only the type word needs an update in both families.
  icmp->checksum = checksum_replace(icmp->checksum, old_word, new_word);
  if (meta.family == 4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + meta.l2_len);
    const rte_be32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = kReplyTtl;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(frame + meta.l2_len);
    uint8_t tmp[16];
    std::memcpy(tmp, ip->src_addr, 16);
    std::memcpy(ip->src_addr, ip->dst_addr, 16);
    std::memcpy(ip->dst_addr, tmp, 16);
    ip->hop_limits = kReplyTtl;
  }
  // Drop Ethernet padding so the reply is exactly the datagram.
  mbuf_truncate(m, meta.l2_len + meta.l3_len);
}

namespace {

// An ICMP error to the packet's sender quoting as much of it as RFC 1812
// (576 bytes) / RFC 4443 (1280 bytes) allow: ICMPv4 type3 (destination
// unreachable) or ICMPv6 `v6_type`, with `code` and the low word of the
// four bytes after the checksum (too big: the MTU; else 0).
bool make_icmp_error(rte_mbuf* m, const PacketMeta& meta, uint8_t v6_type, uint8_t code,
                     uint16_t word1, const uint8_t* port_mac) {
  const uint32_t l2 = meta.l2_len;
  const bool v4 = meta.family == 4;
  const uint32_t ip_len = v4 ? sizeof(net::Ipv4Header) : sizeof(net::Ipv6Header);
  const uint32_t added = ip_len + sizeof(net::IcmpHeader);
  const uint32_t max_total = v4 ? net::kIcmpv4ErrorMaxIpBytes : net::kIpv6MinMtu;
  uint32_t quoted = meta.l3_len;
  if (quoted > max_total - added) quoted = max_total - added;
  // The quote is read from the first segment: keep it within it.
  if (quoted > rte_pktmbuf_data_len(m) - l2) quoted = rte_pktmbuf_data_len(m) - l2;
  mbuf_truncate(m, l2 + quoted);

  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(added)));
  if (frame == nullptr) return false;
  std::memmove(frame, frame + added, l2);
  address_reply(frame, port_mac);
  const uint8_t* quoted_ip = frame + l2 + added;
  uint8_t* l3 = frame + l2;
  auto* icmp = reinterpret_cast<net::IcmpHeader*>(l3 + ip_len);
  const uint32_t icmp_len = sizeof(net::IcmpHeader) + quoted;
  if (v4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    const auto* orig = reinterpret_cast<const rte_ipv4_hdr*>(quoted_ip);
    ip->version_ihl = 0x45;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len + icmp_len));
    ip->packet_id = 0;
    ip->fragment_offset = 0;
    ip->time_to_live = kReplyTtl;
    ip->next_proto_id = net::kIpProtoIcmp;
    ip->src_addr = orig->dst_addr;
    ip->dst_addr = orig->src_addr;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    icmp->type = net::kIcmpDestUnreachable;
    icmp->code = code;
    icmp->word0 = 0;
    icmp->word1 = rte_cpu_to_be_16(word1);
    icmp->checksum = 0;
    icmp->checksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_len));
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
    const auto* orig = reinterpret_cast<const rte_ipv6_hdr*>(quoted_ip);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(icmp_len));
    ip->proto = net::kIpProtoIcmpv6;
    ip->hop_limits = kReplyTtl;
    std::memcpy(ip->src_addr, orig->dst_addr, 16);
    std::memcpy(ip->dst_addr, orig->src_addr, 16);
    icmp->type = v6_type;
    icmp->code = code;
    // ICMPv6 carries a 32-bit MTU: the high half is zero for any Ethernet MTU.
    icmp->word0 = 0;
    icmp->word1 = rte_cpu_to_be_16(word1);
    icmp->checksum = 0;
    icmp->checksum = rte_ipv6_udptcp_cksum(ip, icmp);
  }
  return true;
}

}  // namespace

bool make_too_big(rte_mbuf* m, const PacketMeta& meta, uint32_t mtu, const uint8_t* port_mac) {
  const uint8_t code = meta.family == 4 ? net::kIcmpCodeFragNeeded : 0;
  return make_icmp_error(m, meta, net::kIcmpv6PacketTooBig, code, static_cast<uint16_t>(mtu),
                         port_mac);
}

bool make_unreachable(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac) {
  const bool udp = meta.key.protocol == net::kIpProtoUdp;
  uint8_t code;
  if (meta.family == 4) {
    code = udp ? net::kIcmpCodePortUnreachable : net::kIcmpCodeHostUnreachable;
  } else {
    code = udp ? net::kIcmpv6CodePortUnreachable : net::kIcmpv6CodeAddressUnreachable;
  }
  return make_icmp_error(m, meta, net::kIcmpv6DestUnreachable, code, 0, port_mac);
}

bool make_tcp_reset(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac) {
  auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t l2 = meta.l2_len;
  const uint32_t l3_end = l2 + meta.l3_len;
  const auto* in = reinterpret_cast<const net::TcpHeader*>(frame + meta.l4_offset);
  const uint32_t header = (in->data_offset >> 4) * 4u;
  if (header < sizeof(net::TcpHeader) || meta.l4_offset + header > l3_end) return false;
  const uint32_t seg_len = l3_end - meta.l4_offset - header + ((in->flags & net::kTcpSyn) != 0) +
                           ((in->flags & net::kTcpFin) != 0);
  net::TcpHeader rst{};
  rst.src_port = in->dst_port;
  rst.dst_port = in->src_port;
  if ((in->flags & net::kTcpAck) != 0) {
    rst.seq = in->ack;
    rst.flags = net::kTcpRst;
  } else {
    rst.ack = rte_cpu_to_be_32(rte_be_to_cpu_32(in->seq) + seg_len);
    rst.flags = net::kTcpRst | net::kTcpAck;
  }
  rst.data_offset = 5 << 4;
  address_reply(frame, port_mac);
  uint8_t* l3 = frame + l2;
  uint32_t ip_len;
  if (meta.family == 4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    ip_len = sizeof(rte_ipv4_hdr);
    const rte_be32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->version_ihl = 0x45;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len + sizeof rst));
    ip->packet_id = 0;
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = kReplyTtl;
    ip->next_proto_id = net::kIpProtoTcp;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    std::memcpy(l3 + ip_len, &rst, sizeof rst);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l3 + ip_len);
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
    ip_len = sizeof(rte_ipv6_hdr);
    uint8_t tmp[16];
    std::memcpy(tmp, ip->src_addr, 16);
    std::memcpy(ip->src_addr, ip->dst_addr, 16);
    std::memcpy(ip->dst_addr, tmp, 16);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(sizeof rst);
    ip->proto = net::kIpProtoTcp;
    ip->hop_limits = kReplyTtl;
    std::memcpy(l3 + ip_len, &rst, sizeof rst);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l3 + ip_len);
    tcp->cksum = rte_ipv6_udptcp_cksum(ip, tcp);
  }
  mbuf_truncate(m, l2 + ip_len + sizeof rst);
  return true;
}

}  // namespace sluice::dp
