#include "dataplane/ports.h"

#include <rte_ethdev.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::dp {

namespace {

// "port 0 (net_af_packet0)": the id the options use and the name DPDK gave it.
std::string port_label(uint16_t port) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port, name) != 0) return "port " + std::to_string(port);
  return "port " + std::to_string(port) + " (" + name + ")";
}

std::string failed(const char* what, uint16_t port, int rc) {
  return std::string(what) + " failed on " + port_label(port) + ": " +
         std::strerror(rc < 0 ? -rc : rc);
}

// NUL-terminated, cut to fit.
void copy_text(char* out, size_t size, const char* text) {
  std::memset(out, 0, size);
  if (text != nullptr) std::memcpy(out, text, std::min(std::strlen(text), size - 1));
}

uint64_t pack_link(const rte_eth_link& link) {
  const uint64_t speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
  return speed << 32 | uint64_t{link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX} << 1 |
         uint64_t{link.link_status == RTE_ETH_LINK_UP};
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
    return port_label(s.port_id) + ", driver " + info.driver_name + ", has at most " +
           std::to_string(info.max_rx_queues) + " RX / " + std::to_string(info.max_tx_queues) +
           " TX queues; " + std::to_string(s.queues) +
           " workers need one each (use fewer lcores, or e.g. qpairs= for net_af_packet)";
  }
  rte_eth_conf conf{};
  if (s.queues > 1 && s.rss) {
    const uint64_t wanted = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
    const uint64_t rss = wanted & info.flow_type_rss_offloads;
    if (rss != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = rss;
    } else {
      std::fprintf(stderr,
                   "lb-dataplane: %s (%s) has no RSS; the driver spreads packets over its "
                   "queues itself\n",
                   port_label(s.port_id).c_str(), info.driver_name);
    }
  }
  if (int rc = rte_eth_dev_configure(s.port_id, s.queues, s.queues, &conf); rc != 0) {
    return failed("rte_eth_dev_configure", s.port_id, rc);
  }
  uint16_t rx_desc = s.rx_desc, tx_desc = s.tx_desc;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(s.port_id, &rx_desc, &tx_desc); rc != 0) {
    return failed("rte_eth_dev_adjust_nb_rx_tx_desc", s.port_id, rc);
  }
  // SOCKET_ID_ANY (-1) for ports without NUMA affinity is a valid answer.
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
    // Virtual ports (pcap, ring, null) cannot set it, and an af_packet port
    // without CAP_NET_ADMIN may not: they keep theirs, and the dataplane
    // still enforces --mtu itself on what it sends. Anything else (an MTU
    // out of the device's range) is a start-up error.
    if (rc != -ENOTSUP && rc != -EPERM) return failed("rte_eth_dev_set_mtu", s.port_id, rc);
    uint16_t mtu = 0;
    if (int get = rte_eth_dev_get_mtu(s.port_id, &mtu); get != 0) {
      return failed("rte_eth_dev_get_mtu", s.port_id, get);
    }
    std::fprintf(stderr, "lb-dataplane: %s keeps its own MTU %u (rte_eth_dev_set_mtu %u: %s)\n",
                 port_label(s.port_id).c_str(), mtu, s.mtu, std::strerror(-rc));
  }
  if (int rc = rte_eth_dev_start(s.port_id); rc != 0) {
    return failed("rte_eth_dev_start", s.port_id, rc);
  }
  // Frames for --accept-mac addresses are not for the port's own MAC, so
  // take everything; the workers admit only ours and count the rest
  // (not_our_mac). A driver without a promiscuous mode delivers what it
  // delivers: said once, not an error.
  if (int rc = rte_eth_promiscuous_enable(s.port_id); rc == -ENOTSUP) {
    std::fprintf(stderr,
                 "lb-dataplane: %s has no promiscuous mode (rte_eth_promiscuous_enable: %s); "
                 "it receives what its driver delivers\n",
                 port_label(s.port_id).c_str(), std::strerror(-rc));
  } else if (rc != 0) {
    return failed("rte_eth_promiscuous_enable", s.port_id, rc);
  }
  return {};
}

std::string stop_port(uint16_t port_id) {
  std::string error;
  if (int rc = rte_eth_dev_stop(port_id); rc != 0) error = failed("rte_eth_dev_stop", port_id, rc);
  if (int rc = rte_eth_dev_close(port_id); rc != 0) {
    error += (error.empty() ? "" : "; ") + failed("rte_eth_dev_close", port_id, rc);
  }
  return error;
}

std::string port_mac(uint16_t port_id, uint8_t mac[6]) {
  rte_ether_addr addr{};
  if (int rc = rte_eth_macaddr_get(port_id, &addr); rc != 0) {
    return failed("rte_eth_macaddr_get", port_id, rc);
  }
  std::memcpy(mac, addr.addr_bytes, 6);
  return {};
}

std::string set_port_mac(uint16_t port_id, const uint8_t mac[6]) {
  rte_ether_addr addr{};
  std::memcpy(addr.addr_bytes, mac, 6);
  if (int rc = rte_eth_dev_default_mac_addr_set(port_id, &addr); rc != 0) {
    return failed("rte_eth_dev_default_mac_addr_set", port_id, rc);
  }
  return {};
}

std::string describe_port(uint16_t port_id, PortStatus& out) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (int rc = rte_eth_dev_get_name_by_port(port_id, name); rc != 0) {
    return failed("rte_eth_dev_get_name_by_port", port_id, rc);
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return failed("rte_eth_dev_info_get", port_id, rc);
  }
  copy_text(out.name, sizeof out.name, name);
  copy_text(out.driver, sizeof out.driver, info.driver_name);
  out.port_id = port_id;
  if (std::string e = port_mac(port_id, out.mac); !e.empty()) return e;
  rte_eth_link link{};
  if (int rc = rte_eth_link_get_nowait(port_id, &link); rc != 0) {
    return failed("rte_eth_link_get_nowait", port_id, rc);
  }
  uint16_t mtu = 0;
  if (int rc = rte_eth_dev_get_mtu(port_id, &mtu); rc != 0) {
    return failed("rte_eth_dev_get_mtu", port_id, rc);
  }
  out.link.store(pack_link(link), std::memory_order_relaxed);
  out.mtu.store(mtu, std::memory_order_relaxed);
  return {};
}

bool refresh_port_status(uint16_t port_id, PortStatus& out) {
  rte_eth_link link{};
  uint16_t mtu = 0;
  bool ok = true;
  if (rte_eth_link_get_nowait(port_id, &link) == 0) {
    out.link.store(pack_link(link), std::memory_order_relaxed);
  } else {
    ok = false;
  }
  if (rte_eth_dev_get_mtu(port_id, &mtu) == 0) {
    out.mtu.store(mtu, std::memory_order_relaxed);
  } else {
    ok = false;
  }
  // The metrics' port statistics (SLUICE_PORT_STATS): missed packets and
  // mbuf allocation failures show a dataplane that cannot keep up.
  rte_eth_stats st{};
  if (rte_eth_stats_get(port_id, &st) == 0) {
#define SLUICE_PORT_STAT_COPY(field, metric, help) \
  out.stats[static_cast<size_t>(PortStat::field)].store(st.field, std::memory_order_relaxed);
    SLUICE_PORT_STATS(SLUICE_PORT_STAT_COPY)
#undef SLUICE_PORT_STAT_COPY
  } else {
    ok = false;
  }
  if (!ok) out.query_errors.fetch_add(1, std::memory_order_relaxed);
  return ok;
}

}  // namespace sluice::dp
