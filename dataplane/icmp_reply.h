// ICMP messages the dataplane itself sends to clients, built in place in the
// received mbuf (no allocation): echo replies from a VIP, and "fragmentation
// needed" (ICMPv4 type 3 code 4) / "packet too big" (ICMPv6 type 2) when an
// encapsulated packet would not fit the egress MTU (DESIGN.md section 2,
// step 5). Off the common path; worker lcores only.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "dataplane/packet_parse.h"

namespace sluice::dp {

// TTL / hop limit of packets the dataplane originates.
inline constexpr uint8_t kReplyTtl = 64;

// May we send an ICMP message (echo reply, too big) to the sender of `m`?
// Not when its source does not name a single host (RFC 1122 3.2.2 and
// 3.2.1.3, RFC 1812 4.3.2.7, RFC 4443 2.4 e.6): an IPv4 source in 0/8,
// 127/8, 224/4 (multicast) or 240/4 (reserved, 255.255.255.255 included);
// an IPv6 source ::, ::1 or ff00::/8; or a frame from a group source MAC,
// which no station has. (A subnet's directed broadcast is not knowable
// here: the dataplane has no interface prefixes.) Group-addressed frames
// never get this far (link-layer admission, packet_parse.h).
bool may_answer(const rte_mbuf* m, const PacketMeta& meta);

// Turns a well-formed echo request (parse_packet verified code and
// checksum) into its reply: to the sender's MAC from `port_mac`, addresses
// swapped, type changed, checksum updated incrementally (RFC 1624).
void make_echo_reply(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac);

// Replaces the packet with an ICMP error to its sender that quotes as much
// of it as RFC 1812 (576 bytes) / RFC 4443 (1280 bytes) allow, reporting
// `mtu` as the largest datagram that fits. From the VIP the client addressed
// and from `port_mac`, to the sender's MAC. Returns false if the mbuf lacks
// headroom.
bool make_too_big(rte_mbuf* m, const PacketMeta& meta, uint32_t mtu, const uint8_t* port_mac);

// The answers of a VIP without a usable backend (no_backend, common/
// scheduler.h), built in place like the others:
//
// Destination unreachable quoting the packet as make_too_big does: for UDP
// "port unreachable" (ICMPv4 type 3 code 3, ICMPv6 type 1 code 4), what a
// host without the service answers; for TCP "host unreachable" (ICMPv4
// code 1, ICMPv6 code 3 "address unreachable"): no host behind the VIP is
// there. Returns false if the mbuf lacks headroom.
bool make_unreachable(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac);

// A TCP RST from the VIP, as a kernel answers a segment to a closed port
// (RFC 793, "Reset Generation"; RFC 9293 3.10.7.1): if the segment has ACK,
// seq = its ack and only RST; otherwise seq 0, ack = its seq + its length
// (SYN and FIN count one each) and RST|ACK, so for a SYN ack = ISN + 1.
// Window 0, no options, DF, TTL kReplyTtl; IPv6 extension headers are not
// copied. Never for an RST (the caller's rule). Returns false if the TCP
// header's data offset is malformed.
bool make_tcp_reset(rte_mbuf* m, const PacketMeta& meta, const uint8_t* port_mac);

}  // namespace sluice::dp
