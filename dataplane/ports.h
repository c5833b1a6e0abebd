// Port set-up for lb-dataplane: one RX and one TX queue per worker on every
// port used, RSS where the port has it. Start-up only; main thread.
#pragma once

#include <cstdint>
#include <string>

#include <rte_mempool.h>

namespace sluice::dp {

struct PortSetup {
  uint16_t port_id;
  uint16_t queues;   // one RX and one TX queue per worker
  uint16_t rx_desc;
  uint16_t tx_desc;
  uint32_t mtu;      // IP MTU wanted on the port; drivers that cannot set it keep theirs
  rte_mempool* pool;
};

// Configures and starts the port. Returns an empty string on success or a
// message saying what failed and what to check.
std::string start_port(const PortSetup& setup);
void stop_port(uint16_t port_id);

}  // namespace sluice::dp
