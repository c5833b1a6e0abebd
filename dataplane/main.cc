// lb-dataplane: starts the EAL, sets up the ports, runs one worker per EAL
// worker lcore and keeps the main lcore for table publication and
// reclamation, fed by the control channel in shared memory (DESIGN.md
// sections 1 and 4). Stops cleanly on SIGINT/SIGTERM and
// prints the summed counters as one JSON line on stdout.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "common/control_segment.h"
#include "dataplane/control_channel.h"
#include "dataplane/options.h"
#include "dataplane/program_start.h"
#include "dataplane/ports.h"
#include "dataplane/stats_report.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "dataplane/worker_loop.h"

namespace {

using namespace sluice;
using namespace sluice::dp;

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

[[noreturn]] void fatal(const std::string& msg) {
  std::fprintf(stderr, "lb-dataplane: %s\n", msg.c_str());
  rte_eal_cleanup();
  std::exit(1);
}

std::string read_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  // --help works without starting DPDK (no hugepages or ports needed).
  if (argv_has(argc, argv, {"--help", "-h"})) {
    std::cout << options_help();
    return 0;
  }
  const int eal_args = start_eal("lb-dataplane", argc, argv, "--no-huge -m 512 --no-shconf");
  if (eal_args < 0) return 1;
  int exit_code = 0;
  auto parsed = parse_options(argc - eal_args, argv + eal_args, exit_code);
  if (!parsed) {
    rte_eal_cleanup();
    return exit_code;
  }
  DataplaneOptions opt = std::move(*parsed);

  const uint32_t workers = rte_lcore_count() - 1;
  if (workers == 0) fatal("no worker lcore: give the EAL at least two lcores, e.g. -l 0,1");

  ForwardingConfig& fwd = opt.forwarding;
  fwd.tsc_hz = rte_get_tsc_hz();

  // Tables first: with --static-config every packet the ports deliver meets
  // them (a net_pcap port starts reading as soon as it is started).
  TableLimits limits;
  limits.max_vips = fwd.max_vips;
  limits.max_backend_id = fwd.max_backend_id;
  limits.outer_v4 = fwd.outer_src_v4.family == 4;
  limits.outer_v6 = fwd.outer_src_v6.family == 6;
  limits.table_memory_budget =
      opt.table_memory_mb != 0 ? opt.table_memory_mb << 20 : default_table_memory_budget();
  TablePublisher tables(limits, workers);
  tables.builder().set_faults(BuildFaults{uint64_t{opt.test_build_delay_ms} * 1000000,
                                          opt.test_alloc_fail_mb << 20});
  tables.builder().set_threads(opt.build_threads);

  if (!opt.static_config.empty()) {
    std::string error;
    const std::string text = read_file(opt.static_config, error);
    if (!error.empty()) fatal("--static-config: " + error);
    // The one configuration document: lbctl config export's output, the
    // control plane's state file, or the same with ids.
    ConfigDocument doc;
    error = parse_config_document(text, doc);
    if (!error.empty()) fatal("--static-config " + opt.static_config + ": " + error);
    TableConfig& config = doc.config;
    if (!doc.has_ids) number_in_order(config);
    const ApplyResult r = tables.apply(config);
    if (!r.ok) fatal("--static-config " + opt.static_config + ": " + r.error);
    std::fprintf(stderr, "lb-dataplane: installed %zu VIPs, generation %lu, built in %.3f ms\n",
                 config.vips.size(), static_cast<unsigned long>(r.generation),
                 static_cast<double>(r.build_ns) / 1e6);
  }

  const bool separate_egress = opt.egress_port != opt.port;
  const uint32_t ports_used = separate_egress ? 2 : 1;
  uint32_t mbufs = opt.mbufs;
  if (mbufs == 0) {
    mbufs = ports_used * workers * (opt.rx_desc + opt.tx_desc + 2u * kMaxBurst) + 1024;
  }
  // Room for the largest frame at --mtu plus VLAN tag, Ethernet header and
  // the outer headers prepended into headroom.
  const uint32_t data_room = RTE_PKTMBUF_HEADROOM + fwd.mtu + 64 > RTE_MBUF_DEFAULT_BUF_SIZE
                                 ? RTE_PKTMBUF_HEADROOM + fwd.mtu + 64
                                 : RTE_MBUF_DEFAULT_BUF_SIZE;
  rte_mempool* pool = rte_pktmbuf_pool_create("sluice_pkts", mbufs, 256, 0,
                                              static_cast<uint16_t>(data_room), rte_socket_id());
  if (pool == nullptr) {
    fatal("cannot create a pool of " + std::to_string(mbufs) +
          " mbufs: " + rte_strerror(rte_errno) + " (raise -m, or lower --mbufs/--rx-desc)");
  }
  std::vector<uint16_t> ports = {opt.port};
  if (separate_egress) ports.push_back(opt.egress_port);
  for (uint16_t port : ports) {
    const std::string err = start_port(PortSetup{port, static_cast<uint16_t>(workers),
                                                 opt.rx_desc, opt.tx_desc, fwd.mtu, pool});
    if (!err.empty()) fatal(err);
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(opt.egress_port, &mac);
  std::memcpy(fwd.port_mac, mac.addr_bytes, 6);

  SegmentParams seg_params;
  seg_params.hash_seed = fwd.hash_seed;
  seg_params.worker_lcores = workers;
  seg_params.max_vips = fwd.max_vips;
  seg_params.max_backend_id = fwd.max_backend_id;
  std::string seg_error;
  auto segment = ControlSegment::create(opt.instance, seg_params, seg_error);
  if (!segment) fatal(seg_error);
  ControlChannel channel(*segment, tables);

  std::vector<std::unique_ptr<WorkerContext>> contexts;
  std::vector<WorkerLoopParams> params(workers);
  try {
    for (uint32_t i = 0; i < workers; ++i) {
      const CounterStorage storage{segment->lcore_counters(i), segment->vip_counters(i),
                                   segment->backend_counters(i)};
      contexts.push_back(std::make_unique<WorkerContext>(fwd, tables, i, storage));
    }
  } catch (const std::exception& e) {
    segment->unlink();
    fatal(e.what());
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  uint32_t w = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    WorkerLoopParams& p = params[w];
    p.ctx = contexts[w].get();
    p.tables = &tables;
    p.rx_ports[0] = opt.port;
    p.rx_ports[1] = opt.egress_port;
    p.n_rx_ports = static_cast<uint16_t>(ports_used);
    p.egress_port = opt.egress_port;
    p.queue = static_cast<uint16_t>(w);
    p.burst = opt.burst;
    p.idle_backoff_us = opt.idle_backoff_us;
    p.stop = &g_stop;
    rte_eal_remote_launch(worker_loop, &p, lcore);
    ++w;
  }
  std::fprintf(stderr,
               "lb-dataplane: instance %s forwarding with %u workers on port %u; control "
               "segment %s\n",
               opt.instance.c_str(), workers, opt.port, segment->name().c_str());

  // The main lcore applies what arrives on the command ring, publishes, and
  // frees retired tables once their grace period is over. A short sleep
  // when idle keeps it off the CPU without adding more than ~100 us to an
  // apply.
  while (!g_stop.load(std::memory_order_relaxed)) {
    const bool worked = channel.poll();
    tables.reclaim();
    if (!worked) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  rte_eal_mp_wait_lcore();
  tables.reclaim();

  std::printf("%s\n", counters_json(contexts, *tables.current()).c_str());
  std::fflush(stdout);
  segment->unlink();
  for (uint16_t port : ports) stop_port(port);
  rte_eal_cleanup();
  return 0;
}
