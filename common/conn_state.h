// What a client packet does to its flow's connection-table entry, and which
// Maglev table a flow without a usable entry goes by (DESIGN.md section 3).
// Written once: the worker forwards by these rules, flow explain and the
// tests name their outcomes with them.
//
// States come from the client's direction only, since with DSR the backend's
// packets never pass here. This is IPVS's direct-routing ("input only")
// state table reduced to what the client's flags can tell: a SYN opens a
// half-open entry, any later segment without SYN confirms it, FIN or RST
// from the client closes it. Half-open and closing entries expire fast (a
// spoofed SYN or a finished flow should not hold a slot for the idle
// timeout); established ones keep the idle timeout. UDP has one state.
#pragma once

#include <cstdint>

#include "common/net_headers.h"
#include "common/table_config.h"

namespace sluice {

enum class ConnState : uint8_t {
  kUdp = 0,
  kHalfOpen = 1,     // a SYN seen, nothing after it yet
  kEstablished = 2,  // a segment without SYN followed the SYN (or a flow met mid-way)
  kClosing = 3,      // the client sent FIN or RST
};
inline constexpr uint32_t kConnStateCount = 4;

// Established and UDP entries: a packet without SYN, FIN or RST leaves them
// as they are (the worker's fast path). The even states, so one bit test.
inline bool conn_state_is_steady(ConnState s) { return (static_cast<uint8_t>(s) & 1) == 0; }
static_assert(static_cast<uint8_t>(ConnState::kUdp) % 2 == 0 &&
              static_cast<uint8_t>(ConnState::kEstablished) % 2 == 0 &&
              static_cast<uint8_t>(ConnState::kHalfOpen) % 2 == 1 &&
              static_cast<uint8_t>(ConnState::kClosing) % 2 == 1);

inline const char* conn_state_name(ConnState s) {
  switch (s) {
    case ConnState::kUdp: return "udp";
    case ConnState::kHalfOpen: return "half-open";
    case ConnState::kEstablished: return "established";
    case ConnState::kClosing: return "closing";
  }
  return "unknown";
}

// The kinds of client packet the rules tell apart.
enum class FlowPacket : uint8_t {
  kUdp,
  kSyn,    // SYN without ACK: a client opening a connection
  kRst,    // RST (whatever else is set)
  kFin,    // FIN without RST
  kOther,  // any other TCP segment: ACK, data, SYN+ACK
};

inline FlowPacket classify_flow_packet(uint8_t protocol, uint8_t tcp_flags) {
  if (protocol != net::kIpProtoTcp) return FlowPacket::kUdp;
  if ((tcp_flags & net::kTcpRst) != 0) return FlowPacket::kRst;
  if ((tcp_flags & net::kTcpFin) != 0) return FlowPacket::kFin;
  if ((tcp_flags & (net::kTcpSyn | net::kTcpAck)) == net::kTcpSyn) return FlowPacket::kSyn;
  return FlowPacket::kOther;
}

// A packet whose flow has no usable entry (none, or its backend left):
// which table picks the backend, whether it is a new flow (counted in
// new_flows), and the state of the entry it makes, if any.
struct MissRule {
  MaglevTurns turns;
  bool new_flow;
  bool creates_entry;
  ConnState state;
};

// `udp_may_predate_start`: the worker started less than a UDP idle timeout
// ago, so a UDP flow it has no entry for may be one a previous dataplane
// carried (a restart): it goes by the existing-flows table. Later every
// UDP miss is a new flow: otherwise a draining UDP backend (DNS) would
// never stop receiving new flows.
inline MissRule miss_rule(FlowPacket p, bool udp_may_predate_start) {
  switch (p) {
    case FlowPacket::kSyn:
      return {MaglevTurns::kNewFlows, true, true, ConnState::kHalfOpen};
    case FlowPacket::kUdp:
      return {udp_may_predate_start ? MaglevTurns::kExistingFlows : MaglevTurns::kNewFlows, true,
              true, ConnState::kUdp};
    // A flow under way that we do not know (its entry expired or was
    // replaced, the table was full, the dataplane restarted): it goes where
    // it went before, and is remembered from here on.
    case FlowPacket::kOther:
      return {MaglevTurns::kExistingFlows, false, true, ConnState::kEstablished};
    case FlowPacket::kFin:
      return {MaglevTurns::kExistingFlows, false, true, ConnState::kClosing};
    // An RST ends a flow: it reaches the flow's backend but never takes a
    // slot (RST floods cannot fill the table).
    case FlowPacket::kRst:
      return {MaglevTurns::kExistingFlows, false, false, ConnState::kClosing};
  }
  return {MaglevTurns::kNewFlows, true, false, ConnState::kUdp};
}

// A packet of a flow that has a usable entry: the entry's next state, or
// `reopen` when a SYN arrives on a closed connection's entry (the client
// reuses the tuple for a new connection): then it is scheduled afresh as a
// new flow, as IPVS does for a SYN in its CLOSE and TIME_WAIT states.
struct HitRule {
  ConnState state;
  bool reopen;
};

inline HitRule hit_rule(ConnState s, FlowPacket p) {
  if (s == ConnState::kUdp) return {ConnState::kUdp, false};
  switch (p) {
    case FlowPacket::kRst:
    case FlowPacket::kFin:
      return {ConnState::kClosing, false};
    case FlowPacket::kSyn:
      // A retransmitted SYN leaves a half-open entry as it is (the passive
      // health signal counts it); a SYN on an established entry keeps it.
      if (s == ConnState::kClosing) return {ConnState::kHalfOpen, true};
      return {s, false};
    case FlowPacket::kOther:
      return {s == ConnState::kHalfOpen ? ConnState::kEstablished : s, false};
    case FlowPacket::kUdp:
      break;
  }
  return {s, false};
}

}  // namespace sluice
