// lb-bench: starts the EAL on one lcore, creates its own mbuf pool and
// net_ring port pair (and, for xdp-loop, a veth pair with net_af_xdp
// ports in a network namespace of its own), and measures sluice::dp::process_burst (linked from
// the dataplane library, the very function the workers run). Prints the
// human table, or with --json a JSON document on stdout and the table on
// stderr. Exit status: 0 if every verdict check passed, 1 if any failed,
// 2 for usage errors. Speed never changes the exit status.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "dataplane/program_start.h"
#include "tools/bench/engine.h"
#include "tools/bench/micro.h"
#include "tools/bench/table_change.h"
#include "tools/bench/options.h"
#include "tools/bench/report.h"
#include "tools/bench/ring_ports.h"
#include "tools/bench/xdp_ports.h"
#include "tools/bench/run_context.h"
#include "tools/bench/scenarios.h"
#include "tools/bench/sweeps.h"
#include "tools/bench/targets.h"

namespace {

using namespace sluice::bench;
namespace dp = sluice::dp;

[[noreturn]] void fatal(const std::string& msg) {
  std::fprintf(stderr, "lb-bench: %s\n", msg.c_str());
  rte_eal_cleanup();
  std::exit(1);
}

std::map<std::string, std::string> settings_of(const BenchOptions& o) {
  std::string filter;
  for (const std::string& s : o.scenarios) filter += (filter.empty() ? "" : ",") + s;
  return {{"reps", std::to_string(o.reps)},
          {"packets", std::to_string(o.packets)},
          {"burst", std::to_string(o.burst)},
          {"window", std::to_string(o.window)},
          {"seed", std::to_string(o.seed)},
          {"quick", o.quick ? "true" : "false"},
          {"max_sweep_flows", std::to_string(o.max_sweep_flows)},
          {"scenarios", filter.empty() ? "all" : filter}};
}

}  // namespace

int main(int argc, char** argv) {
  // --help and --list work without starting DPDK.
  if (dp::argv_has(argc, argv, {"--help", "-h"})) {
    std::cout << options_help();
    return 0;
  }
  if (dp::argv_has(argc, argv, {"--list"})) {
    for (const std::string& n : scenario_names()) std::cout << n << "\n";
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  const int eal_args =
      dp::start_eal("lb-bench", argc, argv, "--no-huge -m 2048 --no-pci --no-shconf -l 0");
  if (eal_args < 0) return 1;
  int exit_code = 0;
  auto parsed = parse_options(argc - eal_args, argv + eal_args, exit_code);
  if (!parsed) {
    rte_eal_cleanup();
    return exit_code;
  }
  const BenchOptions opt = std::move(*parsed);

  // The window, plus slack; no per-lcore cache: one lcore takes them once.
  rte_mempool* pool = rte_pktmbuf_pool_create("bench_mbufs", opt.window + 63, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    fatal(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno) +
          " (raise -m)");
  }
  RingPorts ring;
  bool have_ring = false;
  if (selected(opt, "ring-loop")) {
    const std::string err = make_ring_ports(pool, opt.window, ring);
    if (!err.empty()) fatal("ring-loop ports: " + err);
    have_ring = true;
  }
  XdpPorts xdp;
  bool have_xdp = false;
  if (selected(opt, "xdp-loop")) {
    const std::string err = make_xdp_ports(opt.window, xdp);
    if (!err.empty()) fatal("xdp-loop ports: " + err);
    have_xdp = true;
  }

  Results results;
  results.machine = describe_machine();
  results.settings = settings_of(opt);
  {
    std::unique_ptr<Engine> engine;
    try {
      engine = std::make_unique<Engine>(pool, opt.window, opt.burst, have_ring ? &ring : nullptr,
                                        have_xdp ? &xdp : nullptr);
    } catch (const std::exception& e) {
      fatal(e.what());
    }
    RunContext rc(opt, *engine, have_ring, results, have_xdp);
    run_scenarios(rc);
    run_sweeps(rc);
    run_micro(rc);
    if (selected(opt, "table-change")) run_table_change(rc);
  }
  evaluate_targets(results);
  results.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::string text = text_report(results);
  if (opt.json) {
    std::fputs(text.c_str(), stderr);
    std::cout << json_report(results) << std::endl;
  } else {
    std::cout << text << std::flush;
  }
  if (have_ring) close_ring_ports(ring);
  if (have_xdp) close_xdp_ports(xdp);
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return results.failures.empty() ? 0 : 1;
}
