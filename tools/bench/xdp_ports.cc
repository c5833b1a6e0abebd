#include "tools/bench/xdp_ports.h"

#include <rte_dev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <sched.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "dataplane/mbuf_pool.h"

namespace sluice::bench {

namespace {

constexpr const char* kLoadIface = "sbx0";
constexpr const char* kWorkIface = "sbx1";
// Per port: the PMD fills its fill ring (2,048 frames) at set-up, and a
// round of up to 4,096 packets may be in flight on top.
constexpr uint32_t kPoolMbufs = 8192;
constexpr uint16_t kDescriptors = 2048;
constexpr uint32_t kVethRing = 256;

std::string run(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  if (rc != 0) return "'" + command + "' failed (exit status " + std::to_string(rc) + ")";
  return {};
}

// A namespace of our own, with /sys showing its interfaces and a bpffs
// of its own (libxdp reads the interface's sysfs entries and pins its
// dispatcher in /sys/fs/bpf, as under `ip netns exec`).
std::string enter_namespace() {
  if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return std::string("unshare(CLONE_NEWNET | CLONE_NEWNS): ") + std::strerror(errno) +
           " (xdp-loop needs root: CAP_SYS_ADMIN and CAP_NET_ADMIN)";
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      umount2("/sys", MNT_DETACH) != 0 || mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0 ||
      mount("bpffs", "/sys/fs/bpf", "bpf", 0, nullptr) != 0) {
    return std::string("remounting /sys and /sys/fs/bpf in the namespace: ") +
           std::strerror(errno);
  }
  return {};
}

std::string make_port(const char* iface, rte_mempool* pool, uint16_t& port) {
  const std::string name = std::string("net_af_xdp_") + iface;
  const std::string args = std::string("iface=") + iface + ",start_queue=0,queue_count=1";
  // The vdev bus knows the driver by its name's prefix.
  const std::string devargs = name + "," + args;
  if (int rc = rte_dev_probe(devargs.c_str()); rc != 0) {
    return "rte_dev_probe " + devargs + ": " + std::strerror(rc < 0 ? -rc : rc);
  }
  if (int rc = rte_eth_dev_get_port_by_name(name.c_str(), &port); rc != 0) {
    return "rte_eth_dev_get_port_by_name " + name + ": " + std::strerror(-rc);
  }
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(port, 1, 1, &conf); rc != 0) {
    return "rte_eth_dev_configure " + name + ": " + std::strerror(-rc);
  }
  const int socket = rte_eth_dev_socket_id(port);
  if (int rc = rte_eth_rx_queue_setup(port, 0, kDescriptors, socket, nullptr, pool); rc != 0) {
    return "rte_eth_rx_queue_setup " + name + ": " + std::strerror(-rc);
  }
  if (int rc = rte_eth_tx_queue_setup(port, 0, kDescriptors, socket, nullptr); rc != 0) {
    return "rte_eth_tx_queue_setup " + name + ": " + std::strerror(-rc);
  }
  if (int rc = rte_eth_dev_start(port); rc != 0) {
    return "rte_eth_dev_start " + name + ": " + std::strerror(-rc);
  }
  return {};
}

// The PMD makes its umem of the pool's memory: one chunk (dataplane/mbuf_pool.h).
rte_mempool* make_pool(const char* name) {
  return dp::make_contiguous_pktmbuf_pool(name, kPoolMbufs, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                          static_cast<int>(rte_socket_id()));
}

}  // namespace

std::string make_xdp_ports(uint32_t capacity, XdpPorts& ports) {
  // A veth queues at most 256 frames for its peer's NAPI (VETH_RING_SIZE)
  // and drops the rest; when the softirq is deferred to ksoftirqd (a busy
  // 2-core host) a larger round would lose packets in the kernel.
  ports.capacity = std::min(capacity, kVethRing);
  if (std::string e = enter_namespace(); !e.empty()) return e;
  const std::string link = std::string("ip link add ") + kLoadIface + " type veth peer name " +
                           kWorkIface;
  // No IPv6 (and no addresses): the kernel sends nothing of its own (router
  // solicitations, MLD) into the veth, so only the bench's packets cross it.
  for (const std::string& c : {std::string("sysctl -qw net.ipv6.conf.all.disable_ipv6=1"),
                               std::string("sysctl -qw net.ipv6.conf.default.disable_ipv6=1"),
                               link, std::string("ip link set lo up"),
                               std::string("ip link set ") + kLoadIface + " up",
                               std::string("ip link set ") + kWorkIface + " up"}) {
    if (std::string e = run(c); !e.empty()) return e;
  }
  ports.load_pool = make_pool("bench_xdp_load");
  ports.work_pool = make_pool("bench_xdp_work");
  if (ports.load_pool == nullptr || ports.work_pool == nullptr) {
    return std::string("cannot create the AF_XDP ports' pools: ") + rte_strerror(rte_errno) +
           " (raise -m)";
  }
  if (std::string e = make_port(kLoadIface, ports.load_pool, ports.load); !e.empty()) return e;
  if (std::string e = make_port(kWorkIface, ports.work_pool, ports.work); !e.empty()) return e;
  // Anything that crossed while the ports came up is not a round's.
  rte_mbuf* stray[64];
  for (int pass = 0; pass < 100; ++pass) {
    for (uint16_t p : {ports.load, ports.work}) {
      const uint16_t n = rte_eth_rx_burst(p, 0, stray, 64);
      rte_pktmbuf_free_bulk(stray, n);
    }
    rte_delay_ms(1);
  }
  return {};
}

void close_xdp_ports(const XdpPorts& ports) {
  for (uint16_t p : {ports.load, ports.work}) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  rte_mempool_free(ports.load_pool);
  rte_mempool_free(ports.work_pool);
}

}  // namespace sluice::bench
