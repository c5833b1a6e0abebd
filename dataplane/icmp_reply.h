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

// Turns an echo request into its reply: addresses and MACs swapped, type
// changed, checksums updated.
void make_echo_reply(rte_mbuf* m, const PacketMeta& meta);

// Replaces the packet with an ICMP error to its sender that quotes as much
// of it as RFC 1812 (576 bytes) / RFC 4443 (1280 bytes) allow, reporting
// `mtu` as the largest datagram that fits. Source is the VIP (and the MAC)
// the client addressed. Returns false if the mbuf lacks headroom.
bool make_too_big(rte_mbuf* m, const PacketMeta& meta, uint32_t mtu);

}  // namespace sluice::dp
