// Port set-up for lb-dataplane: one RX and one TX queue per worker on every
// port used, RSS where the port has it; what `lbctl status` shows of each
// port (name, driver, MAC, link, MTU). start_port/stop_port/describe_port:
// start-up and exit, main thread; refresh_port_status: the main lcore's
// loop, about once a second (never per packet).
#pragma once

#include <cstdint>
#include <string>

#include <rte_mempool.h>

#include "common/control_segment.h"

namespace sluice::dp {

struct PortSetup {
  uint16_t port_id;
  uint16_t queues;   // one RX and one TX queue per worker
  uint16_t rx_desc;
  uint16_t tx_desc;
  uint32_t mtu;      // IP MTU wanted on the port; drivers that cannot set it keep theirs
  rte_mempool* pool;
  // Spread flows over the queues with RSS where the port has it. The
  // exception interface does without: the kernel picks its queue.
  bool rss = true;
};

// Configures and starts the port. Returns an empty string on success or a
// message naming the DPDK call that failed, the port and the error.
std::string start_port(const PortSetup& setup);
// Stops and closes the port; a message as above if either call fails.
std::string stop_port(uint16_t port_id);

// The port's MAC address; a message naming the call, the port and the
// error if the driver cannot say.
std::string port_mac(uint16_t port_id, uint8_t mac[6]);

// Gives the port this MAC (the exception interface takes the ingress
// port's, so that the kernel answers ARP and neighbour solicitations for
// the host's addresses with the MAC the wire knows); a message naming the
// call, the port and the error otherwise.
std::string set_port_mac(uint16_t port_id, const uint8_t mac[6]);

// Fills `out` with the port's name, driver, MAC, link and MTU; a message
// naming the call that failed otherwise. Start-up.
std::string describe_port(uint16_t port_id, PortStatus& out);
// Link state, MTU and rte_eth_stats again, without waiting for the link; a
// failed query keeps the last values and counts in out.query_errors.
// Returns false then.
bool refresh_port_status(uint16_t port_id, PortStatus& out);

}  // namespace sluice::dp
