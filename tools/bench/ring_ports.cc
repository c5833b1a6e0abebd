#include "tools/bench/ring_ports.h"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <cstring>

namespace sluice::bench {

namespace {

std::string make_port(const char* name, rte_mempool* pool, uint32_t capacity, uint16_t& port) {
  // A power of two strictly above `capacity`: a ring holds size - 1.
  uint32_t size = 1;
  while (size <= capacity) size <<= 1;
  rte_ring* ring = rte_ring_create(name, size, static_cast<int>(rte_socket_id()),
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (ring == nullptr) return std::string("rte_ring_create ") + name + ": " + rte_strerror(rte_errno);
  const int id = rte_eth_from_rings(name, &ring, 1, &ring, 1, rte_socket_id());
  if (id < 0) return std::string("rte_eth_from_rings ") + name + ": " + rte_strerror(rte_errno);
  port = static_cast<uint16_t>(id);
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(port, 1, 1, &conf); rc != 0) {
    return std::string("rte_eth_dev_configure ") + name + ": " + std::strerror(-rc);
  }
  const int socket = rte_eth_dev_socket_id(port);
  if (int rc = rte_eth_rx_queue_setup(port, 0, 1024, socket, nullptr, pool); rc != 0) {
    return std::string("rte_eth_rx_queue_setup ") + name + ": " + std::strerror(-rc);
  }
  if (int rc = rte_eth_tx_queue_setup(port, 0, 1024, socket, nullptr); rc != 0) {
    return std::string("rte_eth_tx_queue_setup ") + name + ": " + std::strerror(-rc);
  }
  if (int rc = rte_eth_dev_start(port); rc != 0) {
    return std::string("rte_eth_dev_start ") + name + ": " + std::strerror(-rc);
  }
  return {};
}

}  // namespace

std::string make_ring_ports(rte_mempool* pool, uint32_t capacity, RingPorts& ports) {
  ports.capacity = capacity;
  if (std::string e = make_port("bench_ring_in", pool, capacity, ports.in); !e.empty()) return e;
  return make_port("bench_ring_out", pool, capacity, ports.out);
}

void close_ring_ports(const RingPorts& ports) {
  for (uint16_t p : {ports.in, ports.out}) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
}

}  // namespace sluice::bench
