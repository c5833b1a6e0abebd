#include "dataplane/ports.h"

#include <rte_ethdev.h>

#include <cstdio>
#include <cstring>

namespace sluice::dp {

namespace {

std::string failed(const char* what, uint16_t port, int rc) {
  return std::string(what) + " failed on port " + std::to_string(port) + ": " +
         std::strerror(rc < 0 ? -rc : rc);
}

}  // namespace

std::string start_port(const PortSetup& s) {
  if (!rte_eth_dev_is_valid_port(s.port_id)) {
    return "port " + std::to_string(s.port_id) + " does not exist (" +
           std::to_string(rte_eth_dev_count_avail()) +
           " ports available; add one with the EAL option --vdev or -a)";
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(s.port_id, &info); rc != 0) {
    return failed("rte_eth_dev_info_get", s.port_id, rc);
  }
  if (s.queues > info.max_rx_queues || s.queues > info.max_tx_queues) {
    return "port " + std::to_string(s.port_id) + " (" + info.driver_name + ") has at most " +
           std::to_string(info.max_rx_queues) + " RX / " + std::to_string(info.max_tx_queues) +
           " TX queues; " + std::to_string(s.queues) +
           " workers need one each (use fewer lcores, or e.g. qpairs= for net_af_packet)";
  }
  rte_eth_conf conf{};
  if (s.queues > 1) {
    const uint64_t wanted = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
    const uint64_t rss = wanted & info.flow_type_rss_offloads;
    if (rss != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = rss;
    } else {
      std::fprintf(stderr,
                   "lb-dataplane: port %u (%s) has no RSS; the driver spreads packets over "
                   "its queues itself\n",
                   s.port_id, info.driver_name);
    }
  }
  if (int rc = rte_eth_dev_configure(s.port_id, s.queues, s.queues, &conf); rc != 0) {
    return failed("rte_eth_dev_configure", s.port_id, rc);
  }
  uint16_t rx_desc = s.rx_desc, tx_desc = s.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(s.port_id, &rx_desc, &tx_desc); rc != 0) {
    return failed("rte_eth_dev_adjust_nb_rx_tx_desc", s.port_id, rc);
  }
  const int socket = rte_eth_dev_socket_id(s.port_id);
  for (uint16_t q = 0; q < s.queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(s.port_id, q, rx_desc, socket, nullptr, s.pool); rc != 0) {
      return failed("rte_eth_rx_queue_setup", s.port_id, rc);
    }
    if (int rc = rte_eth_tx_queue_setup(s.port_id, q, tx_desc, socket, nullptr); rc != 0) {
      return failed("rte_eth_tx_queue_setup", s.port_id, rc);
    }
  }
  if (int rc = rte_eth_dev_set_mtu(s.port_id, static_cast<uint16_t>(s.mtu)); rc != 0) {
    // Virtual ports (pcap, ring, af_packet) take the MTU from elsewhere; the
    // dataplane still enforces --mtu itself on what it sends.
    std::fprintf(stderr, "lb-dataplane: port %u keeps its own MTU (%s)\n", s.port_id,
                 std::strerror(-rc));
  }
  if (int rc = rte_eth_dev_start(s.port_id); rc != 0) {
    return failed("rte_eth_dev_start", s.port_id, rc);
  }
  // Clients' packets are addressed to the VIPs, not to us: take everything.
  rte_eth_promiscuous_enable(s.port_id);
  return {};
}

void stop_port(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

}  // namespace sluice::dp
