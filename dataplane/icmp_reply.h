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

}  // namespace sluice::dp
