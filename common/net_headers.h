// Wire formats Sluice parses and writes: Ethernet (with one 802.1Q tag),
// IPv4, IPv6, TCP, UDP, ICMP, ICMPv6 and the GUE variant 1 outer UDP header.
//
// Plain packed structs with fields in network byte order, no DPDK dependency,
// so that the control plane, tools and tests share them with the dataplane.
// Any thread may use them; they hold no state.
#pragma once

#include <cstdint>

namespace sluice::net {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;

inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoIpip = 4;  // IPv4 payload (RFC 2003)
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIpv6 = 41;  // IPv6 payload (RFC 2473)
inline constexpr uint8_t kIpProtoIcmpv6 = 58;

// IPv6 extension headers (RFC 8200 section 4).
inline constexpr uint8_t kIpv6ExtHopByHop = 0;
inline constexpr uint8_t kIpv6ExtRouting = 43;
inline constexpr uint8_t kIpv6ExtFragment = 44;
inline constexpr uint8_t kIpv6ExtDestOpts = 60;
inline constexpr uint8_t kIpv6NoNextHeader = 59;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpCodeFragNeeded = 4;
inline constexpr uint8_t kIcmpCodeHostUnreachable = 1;
inline constexpr uint8_t kIcmpCodePortUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;

inline constexpr uint8_t kIcmpv6DestUnreachable = 1;
inline constexpr uint8_t kIcmpv6CodeAddressUnreachable = 3;
inline constexpr uint8_t kIcmpv6CodePortUnreachable = 4;
inline constexpr uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;

inline constexpr uint16_t kIpv4FlagDontFragment = 0x4000;
inline constexpr uint16_t kIpv4FlagMoreFragments = 0x2000;
inline constexpr uint16_t kIpv4FragmentOffsetMask = 0x1FFF;

inline constexpr uint32_t kIpv6MinMtu = 1280;
// RFC 792/1812: an ICMPv4 error should not exceed 576 bytes of IP datagram.
inline constexpr uint32_t kIcmpv4ErrorMaxIpBytes = 576;

struct __attribute__((packed)) EthernetHeader {
  uint8_t dst[6];
  uint8_t src[6];
  uint16_t ether_type;
};
static_assert(sizeof(EthernetHeader) == 14);

struct __attribute__((packed)) VlanTag {
  uint16_t tci;
  uint16_t ether_type;  // the encapsulated type
};
static_assert(sizeof(VlanTag) == 4);

struct __attribute__((packed)) Ipv4Header {
  uint8_t version_ihl;
  uint8_t tos;
  uint16_t total_length;
  uint16_t id;
  uint16_t fragment;  // flags (3 bits) and offset (13 bits)
  uint8_t ttl;
  uint8_t protocol;
  uint16_t checksum;
  uint32_t src;
  uint32_t dst;
};
static_assert(sizeof(Ipv4Header) == 20);

struct __attribute__((packed)) Ipv6Header {
  uint32_t version_class_flow;
  uint16_t payload_length;
  uint8_t next_header;
  uint8_t hop_limit;
  uint8_t src[16];
  uint8_t dst[16];
};
static_assert(sizeof(Ipv6Header) == 40);

struct __attribute__((packed)) Ipv6ExtHeader {
  uint8_t next_header;
  uint8_t length;  // in 8-octet units, not counting the first 8 octets
};

struct __attribute__((packed)) TcpHeader {
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t seq;
  uint32_t ack;
  uint8_t data_offset;
  uint8_t flags;
  uint16_t window;
  uint16_t checksum;
  uint16_t urgent;
};
static_assert(sizeof(TcpHeader) == 20);

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

struct __attribute__((packed)) UdpHeader {
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t length;
  uint16_t checksum;
};
static_assert(sizeof(UdpHeader) == 8);

// ICMP and ICMPv6 share this layout: type, code, checksum, then four bytes
// whose meaning depends on the type (echo id/sequence, next-hop MTU, unused).
struct __attribute__((packed)) IcmpHeader {
  uint8_t type;
  uint8_t code;
  uint16_t checksum;
  uint16_t word0;  // echo: identifier; frag-needed: unused
  uint16_t word1;  // echo: sequence;   frag-needed: next-hop MTU
};
static_assert(sizeof(IcmpHeader) == 8);

// Byte order helpers usable without DPDK.
constexpr uint16_t host_to_be16(uint16_t v) { return __builtin_bswap16(v); }
constexpr uint16_t be16_to_host(uint16_t v) { return __builtin_bswap16(v); }
constexpr uint32_t host_to_be32(uint32_t v) { return __builtin_bswap32(v); }
constexpr uint32_t be32_to_host(uint32_t v) { return __builtin_bswap32(v); }

}  // namespace sluice::net
