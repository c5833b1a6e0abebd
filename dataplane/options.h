// lb-dataplane's own command-line options (after EAL's, past "--"), read
// with Boost.Program_options. Start-up only; main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/worker.h"

namespace sluice::dp {

struct DataplaneOptions {
  std::string instance = "sluice";
  std::string static_config;       // JSON tables applied at start; empty = none
  std::string liveness_iface;      // TUN device held while we live; empty = none
  uint16_t port = 0;               // ingress DPDK port id
  uint16_t egress_port = 0;        // defaults to `port`
  // The kernel's interface for a port it does not see (net_tap,
  // virtio_user): non-VIP frames go there, what the kernel sends there
  // leaves by `port` (DESIGN.md section 6).
  std::optional<uint16_t> exception_port;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  uint32_t mbufs = 0;              // 0 = sized from queues and workers
  uint16_t burst = 32;
  uint32_t idle_backoff_us = 0;    // 0 = busy poll
  uint64_t table_memory_mb = 0;    // 0 = derived from the memory the process may use
  uint32_t build_threads = 1;      // threads building Maglev tables in parallel
  bool xdp_steering = false;       // --xdp-steering (dataplane/xdp_steering.h)
  std::string xdp_program;         // --xdp-program; empty = the default object
  // Test hooks (documented in --help under "Testing"; never for production).
  uint32_t test_build_delay_ms = 0;   // per VIP whose Maglev table is built
  uint64_t test_alloc_fail_mb = 0;    // a build that allocates more fails as out of memory
  uint64_t test_channel_exception = 0;  // the Nth committed transaction throws in poll()
  // --next-hop-ip per family (index 0 IPv4, 1 IPv6; family 0: not given):
  // resolved from the kernel's neighbour table (dataplane/neighbour_watch.h).
  IpAddress next_hop_ip[2];
  // --next-hop-mac was given: forwarding.next_hop_mac serves the families
  // without a --next-hop-ip.
  bool static_next_hop = false;
  ForwardingConfig forwarding;     // MACs other than next hop are filled from the port
};

// Everything after "--". Returns the options, or nullopt after printing a
// message (to stderr for errors, stdout for --help); `exit_code` says how
// the program should end then.
std::optional<DataplaneOptions> parse_options(int argc, char** argv, int& exit_code);

// The --help text (also printed when no EAL has been started).
std::string options_help();

// Why `a` cannot be a next hop (unspecified, loopback, multicast or
// broadcast), empty if it can. A phrase after the address: "is a ...".
std::string next_hop_address_problem(const IpAddress& a);

// The default table memory budget: half of what the process may use (the
// smaller of physical memory and RLIMIT_AS / RLIMIT_DATA), leaving room for
// the connection tables, mbufs and the old tables during a change.
uint64_t default_table_memory_budget();

}  // namespace sluice::dp
