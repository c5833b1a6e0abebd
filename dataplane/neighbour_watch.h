// The next hop's MAC from the kernel (--next-hop-ip; DESIGN.md section 6):
// the kernel's neighbour table, read and followed over rtnetlink.
//
// At start a dump (RTM_GETNEIGH) gives the entries there are; the socket is
// subscribed to RTNLGRP_NEIGH, so every later change (a router failover's
// gratuitous ARP or unsolicited NA, an entry that fails or is deleted)
// arrives as an event and is passed to the workers at once through
// NextHopMacs (dataplane/worker.h), which they load once per burst. A lost
// event (ENOBUFS) triggers a fresh dump.
//
// Our forwarded traffic never passes through the kernel, so the kernel never
// "uses" the entry: it would go STALE and stay there, and an unknown one
// would never be resolved. So the watch asks the kernel (RTM_NEWNEIGH with
// NTF_USE, see neighbour_watch.cc for why that and not a datagram) to
// resolve an unknown next hop once a second, and to re-confirm a known one
// every 5 seconds (a STALE entry then goes DELAY -> PROBE and comes back
// REACHABLE, or FAILED if the router left without a word).
//
// The parsing and the decision what an entry means are pure functions,
// tested without sockets (tests/unit/neighbour_watch_test.cc).
//
// Main lcore only (its loop calls poll(); never blocks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/control_segment.h"
#include "common/ip_address.h"
#include "dataplane/worker.h"

namespace sluice::dp {

// One RTM_NEWNEIGH / RTM_DELNEIGH message, as far as the watch needs it.
struct NeighbourMessage {
  bool deleted = false;  // RTM_DELNEIGH
  int ifindex = 0;
  IpAddress address;     // NDA_DST
  bool has_lladdr = false;
  uint8_t lladdr[6] = {};
  uint16_t state = 0;    // NUD_* bits
  uint8_t flags = 0;     // NTF_* bits
};

// Parses one netlink message of `len` bytes (its header included). False if
// it is no neighbour message of IPv4 or IPv6 or is malformed (lengths that
// do not add up, an address of the wrong size); never reads past `len`.
bool parse_neighbour_message(const void* msg, size_t len, NeighbourMessage& out);

// Whether an entry in `state` has a MAC to send to: REACHABLE, STALE,
// DELAY, PROBE (the kernel still sends to the old MAC while it re-checks
// it), PERMANENT, NOARP. INCOMPLETE, FAILED and NONE have none.
bool neighbour_state_usable(uint16_t state);

// The packed MAC (common/next_hop_mac.h) a message gives a next hop: its
// lladdr if the state is usable and it carries an Ethernet address; 0
// (unknown) for a deletion or an unusable state.
uint64_t neighbour_packed_mac(const NeighbourMessage& m);

// Whether `m` is about `address` on `ifindex` (0: the interface is not
// known yet, any interface). Proxy entries (NTF_PROXY: this host answers
// for the address) are never the router's.
bool neighbour_matches(const NeighbourMessage& m, const IpAddress& address, int ifindex);

// A short name of a NUD state for the log ("REACHABLE", "STALE|...").
std::string neighbour_state_name(uint16_t state);

class NeighbourWatch {
 public:
  // One next hop per family: `address` (family 0: none), the workers'
  // word it sets (macs->packed[index]) and the segment's status.
  struct Target {
    IpAddress address;
    std::atomic<uint64_t>* worker_mac = nullptr;
    NextHopStatus* status = nullptr;
    int ifindex = 0;               // of the route to address (0: unknown)
    bool on_link = false;          // that route has no gateway: ours to resolve
    uint64_t mac = 0;              // packed, as the workers have it
    uint64_t next_ask_ns = 0;      // when to send the next NTF_USE
    uint64_t last_ask_ns = 0;      // when the last one went (0: never)
    uint64_t next_route_ns = 0;    // when to look the route up again
    uint32_t ask_seq = 0;          // netlink sequence number of the last NTF_USE
    std::string last_error;        // logged once until it changes
  };

  NeighbourWatch() = default;
  ~NeighbourWatch();
  NeighbourWatch(const NeighbourWatch&) = delete;
  NeighbourWatch& operator=(const NeighbourWatch&) = delete;

  // Opens the socket, subscribes, looks up the routes and starts the first
  // dump. Empty on success; a message otherwise (no netlink socket). A
  // next hop without a route is no error: it is logged and retried.
  std::string start(const IpAddress next_hop[2], NextHopMacs& macs, NextHopStatus status[2]);

  // Reads what arrived (non-blocking) and sends what is due. True if it
  // did something (the main loop then does not sleep).
  bool poll(uint64_t now_ns);

  bool active() const { return fd_ >= 0; }

  static constexpr uint64_t kAskUnknownNs = 1'000'000'000;  // resolve: once a second
  static constexpr uint64_t kRefreshKnownNs = 5'000'000'000;  // re-confirm: every 5 s

 private:
  void apply(const NeighbourMessage& m, uint64_t now_ns);
  void set_mac(Target& t, uint64_t packed, const char* why, uint64_t now_ns);
  void ask(Target& t, uint64_t now_ns);
  void lookup_route(Target& t, uint64_t now_ns);
  bool send_dump();
  void log_error(Target& t, const std::string& error);

  int fd_ = -1;
  uint32_t seq_ = 0;
  bool dump_wanted_ = false;
  bool dump_running_ = false;
  bool dump_refused_ = false;    // the last dump was refused (logged once)
  uint64_t next_dump_ns_ = 0;    // no dump before this (after a refusal)
  Target targets_[2];
};

}  // namespace sluice::dp
