#include "tools/bench/frames.h"

#include <cstring>

#include "common/net_headers.h"

namespace sluice::bench {

namespace {

using namespace sluice::net;

// Offsets inside the template, by family.
constexpr uint32_t kL2 = sizeof(EthernetHeader);
constexpr uint32_t kV4Src = kL2 + offsetof(Ipv4Header, src);
constexpr uint32_t kV4Dst = kL2 + offsetof(Ipv4Header, dst);
constexpr uint32_t kV6Src = kL2 + offsetof(Ipv6Header, src);
constexpr uint32_t kV6Dst = kL2 + offsetof(Ipv6Header, dst);

uint8_t* put_ethernet(uint8_t* p, uint16_t type) {
  auto* eth = reinterpret_cast<EthernetHeader*>(p);
  std::memcpy(eth->dst, kPortMac, 6);
  std::memcpy(eth->src, kClientSideMac, 6);
  eth->ether_type = host_to_be16(type);
  return p + sizeof(EthernetHeader);
}

uint8_t* put_ipv4(uint8_t* p, uint16_t total, uint8_t protocol) {
  auto* ip = reinterpret_cast<Ipv4Header*>(p);
  ip->version_ihl = 0x45;
  ip->total_length = host_to_be16(total);
  ip->fragment = host_to_be16(kIpv4FlagDontFragment);
  ip->ttl = 64;
  ip->protocol = protocol;
  return p + sizeof(Ipv4Header);
}

uint8_t* put_ipv6(uint8_t* p, uint16_t payload, uint8_t next) {
  auto* ip = reinterpret_cast<Ipv6Header*>(p);
  ip->version_class_flow = host_to_be32(6u << 28);
  ip->payload_length = host_to_be16(payload);
  ip->next_header = next;
  ip->hop_limit = 64;
  return p + sizeof(Ipv6Header);
}

uint8_t* put_tcp(uint8_t* p, uint8_t flags) {
  auto* tcp = reinterpret_cast<TcpHeader*>(p);
  tcp->seq = host_to_be32(0x12345678);
  tcp->ack = flags & kTcpAck ? host_to_be32(0x9abcdef0) : 0;
  tcp->data_offset = 0x50;
  tcp->flags = flags;
  tcp->window = host_to_be16(65535);
  return p + sizeof(TcpHeader);
}

}  // namespace

FrameTemplate make_template(FrameKind kind, uint8_t family) {
  FrameTemplate t;
  t.kind = kind;
  t.family = family;
  uint8_t* p = t.bytes;
  const uint16_t ether = family == 4 ? kEtherTypeIpv4 : kEtherTypeIpv6;
  const uint32_t ip_len = family == 4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  p = put_ethernet(p, ether);
  if (kind != FrameKind::kIcmpFragNeeded) {
    const uint8_t flags = kind == FrameKind::kTcpSyn ? kTcpSyn : kTcpAck;
    t.l3_len = static_cast<uint16_t>(ip_len + sizeof(TcpHeader));
    p = family == 4 ? put_ipv4(p, t.l3_len, kIpProtoTcp)
                    : put_ipv6(p, sizeof(TcpHeader), kIpProtoTcp);
    p = put_tcp(p, flags);
  } else {
    // The quoted packet: the VIP's reply of 1500 bytes, IP header plus the
    // first 8 bytes of TCP (RFC 792's minimum; RFC 4443 would allow more).
    const uint32_t quoted = ip_len + 8;
    t.l3_len = static_cast<uint16_t>(ip_len + sizeof(IcmpHeader) + quoted);
    if (family == 4) {
      p = put_ipv4(p, t.l3_len, kIpProtoIcmp);
      auto* icmp = reinterpret_cast<IcmpHeader*>(p);
      icmp->type = kIcmpDestUnreachable;
      icmp->code = kIcmpCodeFragNeeded;
      icmp->word1 = host_to_be16(1400);
      p = put_ipv4(p + sizeof(IcmpHeader), 1500, kIpProtoTcp);
    } else {
      p = put_ipv6(p, static_cast<uint16_t>(t.l3_len - ip_len), kIpProtoIcmpv6);
      auto* icmp = reinterpret_cast<IcmpHeader*>(p);
      icmp->type = kIcmpv6PacketTooBig;
      icmp->word1 = host_to_be16(1400);  // low half of the 32-bit MTU
      p = put_ipv6(p + sizeof(IcmpHeader), 1460, kIpProtoTcp);
    }
    auto* tcp = reinterpret_cast<TcpHeader*>(p);
    tcp->seq = host_to_be32(0x9abcdef0);
    p += 8;
  }
  t.len = static_cast<uint16_t>(p - t.bytes);
  // Ethernet's minimum frame: 60 bytes before the FCS.
  if (t.len < 60) t.len = 60;
  return t;
}

void stamp_frame(const FrameTemplate& t, const Endpoint& c, const Endpoint& dst, uint8_t* out) {
  std::memcpy(out, t.bytes, t.len);
  const bool v4 = t.family == 4;
  const size_t alen = v4 ? 4 : 16;
  const uint32_t ip_len = v4 ? sizeof(Ipv4Header) : sizeof(Ipv6Header);
  if (t.kind != FrameKind::kIcmpFragNeeded) {
    std::memcpy(out + (v4 ? kV4Src : kV6Src), c.addr, alen);
    std::memcpy(out + (v4 ? kV4Dst : kV6Dst), dst.addr, alen);
    uint8_t* tcp = out + kL2 + ip_len;
    std::memcpy(tcp, &c.port_be, 2);
    std::memcpy(tcp + 2, &dst.port_be, 2);
    return;
  }
  // Outer: router -> VIP. Quoted: VIP -> client.
  const Endpoint router = router_endpoint(t.family);
  std::memcpy(out + (v4 ? kV4Src : kV6Src), router.addr, alen);
  std::memcpy(out + (v4 ? kV4Dst : kV6Dst), dst.addr, alen);
  const uint32_t inner = kL2 + ip_len + sizeof(IcmpHeader);
  std::memcpy(out + inner + (v4 ? offsetof(Ipv4Header, src) : offsetof(Ipv6Header, src)),
              dst.addr, alen);
  std::memcpy(out + inner + (v4 ? offsetof(Ipv4Header, dst) : offsetof(Ipv6Header, dst)),
              c.addr, alen);
  uint8_t* tcp = out + inner + ip_len;
  std::memcpy(tcp, &dst.port_be, 2);
  std::memcpy(tcp + 2, &c.port_be, 2);
}

const char* frame_kind_name(FrameKind kind) {
  switch (kind) {
    case FrameKind::kTcpAck: return "tcp-ack";
    case FrameKind::kTcpSyn: return "tcp-syn";
    case FrameKind::kIcmpFragNeeded: return "icmp-frag-needed";
  }
  return "unknown";
}

}  // namespace sluice::bench
