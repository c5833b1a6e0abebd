// The PMD pair of the xdp-loop scenario, ring-loop's AF_XDP counterpart:
// a veth pair in a network namespace of lb-bench's own, each end driven by
// a net_af_xdp port with the PMD's default program (every packet to the
// socket). Port `load` transmits a round into the veth; in the timed loop
// port `work` receives it, process_burst runs, and `work` transmits the
// results back through the veth, from which `load` receives them outside
// the timed region. Both directions cross the kernel (copy mode: veth has
// no zero-copy AF_XDP), which is what an AF_XDP port costs on a veth.
//
// The namespace is made with unshare(CLONE_NEWNET | CLONE_NEWNS) by the
// main thread, after the EAL started: only that thread (and the `ip`
// commands it runs) lives in it, and the kernel removes it, with the veth
// pair, when the process ends, however it ends. Needs CAP_SYS_ADMIN and
// CAP_NET_ADMIN. Created once at start-up; main lcore only.
#pragma once

#include <cstdint>
#include <string>

#include <rte_mempool.h>

namespace sluice::bench {

struct XdpPorts {
  uint16_t load = 0;
  uint16_t work = 0;
  uint32_t capacity = 0;  // packets one round may hold: 256, a veth's queue
  // Each port's own pool: the PMD makes its umem of the RX queue's pool.
  rte_mempool* load_pool = nullptr;
  rte_mempool* work_pool = nullptr;
};

// Returns an empty string on success, else why not (for the report).
std::string make_xdp_ports(uint32_t capacity, XdpPorts& ports);
void close_xdp_ports(const XdpPorts& ports);

}  // namespace sluice::bench
