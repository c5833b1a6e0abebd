// lb-dataplane: starts the EAL, sets up the ports, runs one worker per EAL
// worker lcore and keeps the main lcore for table publication and
// reclamation, fed by the control channel in shared memory (DESIGN.md
// sections 1 and 4).
//
// One process per instance name: the name (its segment) is claimed before
// any port is touched, so a second lb-dataplane with the same --instance
// refuses to start while the first lives, and a segment a killed one left
// is reclaimed (common/control_segment.h). SIGINT/SIGTERM stop it within a
// second whatever it does: the main loop sleeps 100 us at a time, workers
// look at the stop flag every loop and sleep at most --idle-backoff-us
// (bounded), and a running build is cancelled before its next VIP (and not
// waited for beyond 300 ms: one VIP's table may take longer). A clean stop
// removes the segment and prints the summed counters as one JSON line on
// stdout. Every DPDK call's result is checked: at start a failure names
// the call, the port and the error and ends the process with exit code 1;
// at run time (link and MTU queries) it is counted per port.
//
// With --exception-port the frames that belong to the kernel go to its
// exception interface and what it sends there leaves by the ingress port
// (worker_loop.h; DESIGN.md section 6).
//
// With --liveness-iface it holds a TUN device that BIRD's VIP routes hang
// on, so the routes go when the process does (dataplane/liveness_iface.h).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "common/control_segment.h"
#include "dataplane/channel_test_hook.h"
#include "dataplane/control_channel.h"
#include "dataplane/liveness_iface.h"
#include "dataplane/mbuf_pool.h"
#include "dataplane/neighbour_watch.h"
#include "dataplane/options.h"
#include "dataplane/program_start.h"
#include "dataplane/ports.h"
#include "dataplane/stats_report.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "dataplane/worker_loop.h"
#include "dataplane/xdp_steering.h"

namespace {

using namespace sluice;
using namespace sluice::dp;

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

// What a failed start must undo: ports it started, the segment it claimed.
struct StartUndo {
  std::vector<uint16_t> ports;
  ControlSegment* segment = nullptr;
};
StartUndo g_undo;

[[noreturn]] void fatal(const std::string& msg) {
  std::fprintf(stderr, "lb-dataplane: %s\n", msg.c_str());
  for (uint16_t port : g_undo.ports) {
    if (std::string e = stop_port(port); !e.empty()) {
      std::fprintf(stderr, "lb-dataplane: %s\n", e.c_str());
    }
  }
  if (g_undo.segment != nullptr) g_undo.segment->unlink();
  if (rte_eal_cleanup() != 0) {
    std::fprintf(stderr, "lb-dataplane: rte_eal_cleanup failed: %s\n", rte_strerror(rte_errno));
  }
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

bool same_mac(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, 6) == 0; }

// With a separate egress port, clients' frames arrive at the ingress port
// addressed to its MAC, which is not the one replies leave from (the egress
// port's): it is accepted as if given with --accept-mac. options.cc keeps a
// slot free for it.
void accept_ingress_mac(ForwardingConfig& fwd, const uint8_t* ingress_mac) {
  if (same_mac(ingress_mac, fwd.port_mac)) return;
  for (uint32_t i = 0; i < fwd.n_accept_macs; ++i) {
    if (same_mac(ingress_mac, fwd.accept_macs[i])) return;
  }
  std::memcpy(fwd.accept_macs[fwd.n_accept_macs++], ingress_mac, 6);
}

}  // namespace

int main(int argc, char** argv) {
  // --help works without starting DPDK (no hugepages or ports needed).
  if (argv_has(argc, argv, {"--help", "-h"})) {
    std::cout << options_help();
    return 0;
  }
  // --xdp-steering names the steering program in the net_af_xdp --vdev,
  // which the EAL reads (dataplane/xdp_steering.h).
  EalArgs eal;
  if (std::string e = add_steering_program(argc, argv, eal); !e.empty()) {
    std::fprintf(stderr, "lb-dataplane: %s\n", e.c_str());
    return 1;
  }
  argc = eal.argc();
  argv = eal.argv();
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

  // From here on a stop request is a flag the start-up and the loops look at.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, nullptr) != 0 || sigaction(SIGTERM, &sa, nullptr) != 0) {
    fatal(std::string("cannot install the SIGINT/SIGTERM handlers: ") + std::strerror(errno));
  }

  // The instance's name first, before any port: a second lb-dataplane of
  // the same instance stops here, having touched nothing.
  std::string seg_error, reclaimed;
  std::unique_ptr<ControlSegment> segment =
      ControlSegment::claim(opt.instance, seg_error, &reclaimed);
  if (!segment) fatal(seg_error);
  g_undo.segment = segment.get();
  if (!reclaimed.empty()) std::fprintf(stderr, "lb-dataplane: %s\n", reclaimed.c_str());

  // The liveness device next, also before any port: a name in use is a
  // start-up error. It comes up with the first tables (main loop) and goes
  // with the process (dataplane/liveness_iface.h).
  LivenessIface liveness;
  if (!opt.liveness_iface.empty()) {
    if (std::string e = liveness.create(opt.liveness_iface); !e.empty()) fatal(e);
  }

  ForwardingConfig& fwd = opt.forwarding;
  fwd.tsc_hz = rte_get_tsc_hz();
  // Every worker's connection table starts empty now.
  fwd.start_tsc = rte_rdtsc();
  // Idle timeouts and the ICMP rate limit count TSC ticks.
  if (fwd.tsc_hz == 0) fatal("rte_get_tsc_hz returned 0: the EAL could not calibrate the TSC");

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
  g_channel_test_hook.throw_at_commit = opt.test_channel_exception;

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
  // The ports in the order the segment lists them, with what each is for.
  std::vector<uint16_t> ports = {opt.port};
  std::vector<PortRole> roles = {PortRole::kIngress};
  if (separate_egress) {
    ports.push_back(opt.egress_port);
    roles.push_back(PortRole::kEgress);
  }
  if (opt.exception_port) {
    ports.push_back(*opt.exception_port);
    roles.push_back(PortRole::kException);
  }
  const auto ports_used = static_cast<uint32_t>(ports.size());
  uint32_t mbufs = opt.mbufs;
  if (mbufs == 0) {
    mbufs = ports_used * workers * (opt.rx_desc + opt.tx_desc + 2u * kMaxBurst) + 1024;
  }
  // Room for the largest frame at --mtu plus VLAN tag, Ethernet header and
  // the outer headers prepended into headroom.
  const uint32_t data_room = RTE_PKTMBUF_HEADROOM + fwd.mtu + 64 > RTE_MBUF_DEFAULT_BUF_SIZE
                                 ? RTE_PKTMBUF_HEADROOM + fwd.mtu + 64
                                 : RTE_MBUF_DEFAULT_BUF_SIZE;
  // net_af_xdp makes its umem of the pool, which must be one packed chunk
  // (dataplane/mbuf_pool.h), and keeps each queue's fill ring full of its
  // mbufs.
  const bool af_xdp = is_af_xdp_port(opt.port) || is_af_xdp_port(opt.egress_port);
  if (af_xdp && opt.mbufs == 0) mbufs += ports_used * workers * kAfXdpFillMbufs;
  rte_mempool* pool =
      af_xdp ? make_contiguous_pktmbuf_pool("sluice_pkts", mbufs, 256,
                                            static_cast<uint16_t>(data_room), rte_socket_id())
             : rte_pktmbuf_pool_create("sluice_pkts", mbufs, 256, 0,
                                       static_cast<uint16_t>(data_room), rte_socket_id());
  if (pool == nullptr) {
    fatal("cannot create a pool of " + std::to_string(mbufs) +
          " mbufs: " + rte_strerror(rte_errno) + " (raise -m, or lower --mbufs/--rx-desc)");
  }
  XdpSteering steering(opt.port, opt.xdp_steering);
  if (std::string e = steering.prepare(); !e.empty()) fatal(e);
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string err =
        start_port(PortSetup{ports[i], static_cast<uint16_t>(workers), opt.rx_desc, opt.tx_desc,
                             fwd.mtu, pool, roles[i] != PortRole::kException});
    if (!err.empty()) fatal(err);
    g_undo.ports.push_back(ports[i]);
  }
  if (std::string e = steering.attach(); !e.empty()) fatal(e);
  // --static-config's VIPs are steered before the workers start.
  steering.follow(*tables.current(), monotonic_ns());
  if (std::string e = port_mac(opt.egress_port, fwd.port_mac); !e.empty()) fatal(e);
  uint8_t ingress_mac[6];
  if (std::string e = port_mac(opt.port, ingress_mac); !e.empty()) fatal(e);
  if (separate_egress) accept_ingress_mac(fwd, ingress_mac);
  if (opt.exception_port) {
    // The kernel answers ARP and neighbour solicitations for the host's
    // addresses from the exception interface: with the wire's MAC.
    if (std::string e = set_port_mac(*opt.exception_port, ingress_mac); !e.empty()) fatal(e);
  }

  SegmentParams seg_params;
  seg_params.hash_seed = fwd.hash_seed;
  seg_params.tsc_hz = fwd.tsc_hz;
  seg_params.worker_lcores = workers;
  seg_params.max_vips = fwd.max_vips;
  seg_params.max_backend_id = fwd.max_backend_id;
  if (!segment->init(seg_params, seg_error)) fatal(seg_error);
  SegmentHeader& header = segment->header();
  for (size_t i = 0; i < ports.size(); ++i) {
    if (std::string e = describe_port(ports[i], header.ports[i]); !e.empty()) fatal(e);
    header.ports[i].role = static_cast<uint32_t>(roles[i]);
  }
  steering.refresh(header.ports[0]);
  // Release: the names, drivers and MACs above are visible to a control
  // plane that reads the count.
  header.port_count.store(static_cast<uint32_t>(ports.size()), std::memory_order_release);
  // The next hop per family: --next-hop-ip (unknown until the kernel says),
  // else --next-hop-mac, else none (that family's packets are dropped as
  // drop_no_neighbour). The workers read `next_hops`, which lives until
  // main returns, after they have stopped.
  NextHopMacs next_hops;
  bool watch_kernel = false;
  for (int i = 0; i < 2; ++i) {
    NextHopStatus& s = header.next_hops[i];
    s.family = i == 0 ? 4 : 6;
    NextHopSource source = NextHopSource::kNone;
    if (opt.next_hop_ip[i].family != 0) {
      std::memcpy(s.address, opt.next_hop_ip[i].bytes, 16);
      source = NextHopSource::kKernel;
      watch_kernel = true;
    } else if (opt.static_next_hop) {
      const uint64_t packed = pack_mac(fwd.next_hop_mac);
      next_hops.packed[i].store(packed, std::memory_order_relaxed);
      s.mac.store(packed, std::memory_order_relaxed);
      source = NextHopSource::kStatic;
    }
    // Release: family and address are visible to a reader of the source.
    s.source.store(static_cast<uint32_t>(source), std::memory_order_release);
  }
  fwd.next_hops = &next_hops;
  NeighbourWatch neighbours;
  if (watch_kernel) {
    if (std::string e = neighbours.start(opt.next_hop_ip, next_hops, header.next_hops);
        !e.empty()) {
      fatal(e);
    }
  }
  // Owned here so that the stop can end a running build first.
  auto channel = std::make_unique<ControlChannel>(*segment, tables);

  std::vector<std::unique_ptr<WorkerContext>> contexts;
  std::vector<WorkerLoopParams> params(workers);
  try {
    for (uint32_t i = 0; i < workers; ++i) {
      const CounterStorage storage{segment->lcore_counters(i), segment->vip_counters(i),
                                   segment->backend_counters(i),
                                   segment->vip_drop_counters(i)};
      contexts.push_back(std::make_unique<WorkerContext>(fwd, tables, i, storage));
    }
  } catch (const std::exception& e) {
    fatal(e.what());
  }
  // Every worker reads every worker's per-backend counters (the connection
  // counts of least-connections and power-of-two).
  std::vector<const TrafficCounters*> peer_backends(workers);
  for (uint32_t i = 0; i < workers; ++i) peer_backends[i] = segment->backend_counters(i);
  for (auto& ctx : contexts) ctx->set_peers(peer_backends.data(), workers);
  // The metrics' connection-table fill ratio is entries over this.
  header.conn_capacity_per_lcore.store(contexts.front()->conn().capacity(),
                                       std::memory_order_relaxed);

  std::vector<std::atomic<int>> started(workers);
  std::vector<unsigned> launched;
  uint32_t w = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    WorkerLoopParams& p = params[w];
    p.ctx = contexts[w].get();
    p.tables = &tables;
    p.rx_ports[0] = opt.port;
    p.rx_ports[1] = opt.egress_port;
    p.n_rx_ports = static_cast<uint16_t>(separate_egress ? 2 : 1);
    p.has_exception_port = opt.exception_port.has_value();
    p.exception_port = opt.exception_port.value_or(0);
    p.egress_port = opt.egress_port;
    p.queue = static_cast<uint16_t>(w);
    p.burst = opt.burst;
    p.idle_backoff_us = opt.idle_backoff_us;
    p.flow_lookup = &header.flow_lookup;
    p.stop = &g_stop;
    p.started = &started[w];
    if (const int rc = rte_eal_remote_launch(worker_loop, &p, lcore); rc != 0) {
      // The workers launched so far stop before the ports and memory go.
      g_stop.store(true, std::memory_order_relaxed);
      for (unsigned l : launched) rte_eal_wait_lcore(l);
      fatal("rte_eal_remote_launch failed on lcore " + std::to_string(lcore) + ": " +
            std::strerror(rc < 0 ? -rc : rc));
    }
    launched.push_back(lcore);
    ++w;
  }
  // Every worker registers as an RCU reader before it touches a packet; one
  // that could not would read tables the main lcore may free.
  for (uint32_t i = 0; i < workers; ++i) {
    int state;
    // Acquire: pairs with the worker's release store of its outcome.
    while ((state = started[i].load(std::memory_order_acquire)) == kWorkerStarting) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (state < 0) {
      g_stop.store(true, std::memory_order_relaxed);
      for (unsigned l : launched) rte_eal_wait_lcore(l);
      fatal("rte_rcu_qsbr_thread_register failed for worker " + std::to_string(i) + ": " +
            std::strerror(-state));
    }
  }
  std::fprintf(stderr,
               "lb-dataplane: instance %s forwarding with %u workers on port %u%s; control "
               "segment %s\n",
               opt.instance.c_str(), workers, opt.port,
               opt.exception_port
                   ? (", exception port " + std::to_string(*opt.exception_port)).c_str()
                   : "",
               segment->name().c_str());

  // The main lcore applies what arrives on the command ring, publishes, and
  // frees retired tables once their grace period is over. A short sleep
  // when idle keeps it off the CPU without adding more than ~100 us to an
  // apply. About once a second it refreshes the ports' link state, MTU and
  // statistics (rte_eth_stats) in the segment (never per packet).
  // The liveness device comes up with the first published generation; a
  // failure to set it up is logged and retried once a second.
  constexpr uint64_t kPortRefreshNs = 1'000'000'000;
  uint64_t next_port_refresh = monotonic_ns() + kPortRefreshNs;
  uint64_t next_liveness_try = 0;
  // The neighbour socket is read every millisecond: a router's change
  // reaches the workers within about that (and their next burst).
  constexpr uint64_t kNeighbourPollNs = 1'000'000;
  uint64_t next_neighbour_poll = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    bool worked = channel->poll();
    tables.reclaim();
    const uint64_t now = monotonic_ns();
    if (neighbours.active() && now >= next_neighbour_poll) {
      worked |= neighbours.poll(now);
      next_neighbour_poll = now + kNeighbourPollNs;
    }
    // The steering program's VIP map follows each publication (channel or
    // --static-config).
    steering.follow(*tables.current(), now);
    if (now >= next_port_refresh) {
      for (size_t i = 0; i < ports.size(); ++i) refresh_port_status(ports[i], header.ports[i]);
      steering.refresh(header.ports[0]);
      next_port_refresh = now + kPortRefreshNs;
    }
    if (liveness.created() && !liveness.is_up() && tables.generation() != 0 &&
        now >= next_liveness_try) {
      if (std::string e = liveness.set_up(); !e.empty()) {
        std::fprintf(stderr, "lb-dataplane: %s (retrying in 1 s)\n", e.c_str());
        next_liveness_try = now + kPortRefreshNs;
      } else {
        std::fprintf(stderr, "lb-dataplane: liveness device %s is up (generation %lu)\n",
                     liveness.name().c_str(), static_cast<unsigned long>(tables.generation()));
      }
    }
    if (!worked) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }

  // Stop. The channel goes first, on a thread of its own: its destructor
  // cancels a running build, which ends before its next VIP, and joins the
  // builder. Meanwhile the workers leave their loops, the counters are
  // printed, the segment is removed and the ports are stopped. One VIP's
  // Maglev table can take about a second at the largest table size, so the
  // stop waits for the builder only briefly and then exits without it: the
  // builder touches its own heap memory and the segment's mapping (its name
  // is gone already), never a port or the EAL's memory.
  std::fprintf(stderr, "lb-dataplane: stopping\n");
  // The routes held by the liveness device go first.
  liveness.close();
  exit_code = 0;
  std::atomic<bool> channel_closed{false};
  std::thread closer([&] {
    channel.reset();
    // Release: pairs with the acquire load below; nothing of the channel
    // is used after it.
    channel_closed.store(true, std::memory_order_release);
  });
  w = 0;
  for (unsigned l : launched) {
    if (const int rc = rte_eal_wait_lcore(l); rc != 0) {
      std::fprintf(stderr, "lb-dataplane: worker %u (lcore %u) ended with: %s\n", w, l,
                   std::strerror(-rc));
      exit_code = 1;
    }
    ++w;
  }
  tables.reclaim();

  std::printf("%s\n", counters_json(contexts, *tables.current()).c_str());
  std::fflush(stdout);
  segment->unlink();
  for (uint16_t port : ports) {
    if (std::string e = stop_port(port); !e.empty()) {
      std::fprintf(stderr, "lb-dataplane: %s\n", e.c_str());
      exit_code = 1;
    }
  }
  constexpr auto kBuilderWait = std::chrono::milliseconds(300);
  const auto give_up = std::chrono::steady_clock::now() + kBuilderWait;
  while (!channel_closed.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const bool builder_done = channel_closed.load(std::memory_order_acquire);
  if (builder_done) closer.join();
  if (rte_eal_cleanup() != 0) {
    std::fprintf(stderr, "lb-dataplane: rte_eal_cleanup failed: %s\n", rte_strerror(rte_errno));
    exit_code = 1;
  }
  if (!builder_done) {
    // The cancelled build is still inside one VIP's table: its result
    // would be dropped anyway. No destructor may run under it.
    std::fprintf(stderr,
                 "lb-dataplane: stopped without waiting for the cancelled build (one VIP's "
                 "table was still being built)\n");
    std::_Exit(exit_code);
  }
  std::fprintf(stderr, "lb-dataplane: stopped\n");
  return exit_code;
}
