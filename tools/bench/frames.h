// Client frames for the benchmark: a template per (kind, family) built once,
// then stamped with a flow's addresses and ports into an mbuf before each
// timed round. IP and TCP checksums are left zero: the dataplane does not
// check them, and the benchmark never sends to a real host.
//
// Sizes (without FCS): IPv4 TCP 60 bytes (64 on the wire, the IP datagram
// is 40 bytes, the rest Ethernet padding); IPv6 TCP 74 bytes (the smallest
// IPv6 TCP frame); ICMP errors quote the IP header and 8 bytes of TCP:
// 70 bytes (IPv4) and 110 bytes (IPv6). Main thread; plain data.
#pragma once

#include <cstdint>

#include "tools/bench/addresses.h"

namespace sluice::bench {

enum class FrameKind : uint8_t {
  kTcpAck,          // an established flow's packet
  kTcpSyn,          // a new flow's first packet
  kIcmpFragNeeded,  // ICMPv4 3/4 or ICMPv6 packet-too-big quoting a VIP->client packet
};

struct FrameTemplate {
  FrameKind kind = FrameKind::kTcpAck;
  uint8_t family = 4;
  uint16_t len = 0;     // frame bytes in the mbuf
  uint16_t l2_len = 14;
  uint16_t l3_len = 0;  // IP datagram, without Ethernet padding
  uint8_t bytes[128] = {};
};

FrameTemplate make_template(FrameKind kind, uint8_t family);

// Writes the frame for client `c` talking to `dst` (a VIP, or any address
// for not-for-us traffic) at `out` (at least t.len bytes).
void stamp_frame(const FrameTemplate& t, const Endpoint& c, const Endpoint& dst, uint8_t* out);

const char* frame_kind_name(FrameKind kind);

}  // namespace sluice::bench
