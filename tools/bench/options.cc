#include "tools/bench/options.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <iostream>
#include <sstream>

#include "dataplane/program_start.h"
#include "dataplane/worker.h"

namespace sluice::bench {

namespace po = boost::program_options;

namespace {

struct RawOptions {
  std::string family = "all";
  std::string encap = "all";
};

po::options_description describe(BenchOptions& o, RawOptions& raw) {
  po::options_description general("General");
  general.add_options()
      ("help,h", "Print this help and exit (works without the EAL).")
      ("json", po::bool_switch(&o.json),
       "Print the results as one JSON document on stdout; the human table goes to stderr.")
      ("quick", po::bool_switch(&o.quick),
       "Short run (small packet counts, fewer sweep points, 2 repetitions) that still checks "
       "every verdict. For scripts/test: it never judges speed.")
      ("list", po::bool_switch(&o.list), "Print the scenario and section names and exit.")
      ("scenario", po::value(&o.scenarios)->composing(),
       "Run only this scenario or section; repeatable. The floor always runs (every figure is "
       "also given as a ratio to it). See --list.");
  po::options_description run("Measurement");
  run.add_options()
      ("reps", po::value(&o.reps)->default_value(o.reps),
       "Repetitions per figure (median, min and max are reported); at least 1. --quick: 2.")
      ("packets", po::value(&o.packets)->default_value(0),
       "Packets per repetition (0: 1048576, --quick: 16384).")
      ("burst", po::value(&o.burst)->default_value(o.burst),
       "Packets per process_burst call (1..64), as lb-dataplane's --burst.")
      ("window", po::value(&o.window)->default_value(o.window),
       "Mbufs prepared per timed round (64..4096). Preparation is outside the timed region.")
      ("seed", po::value(&o.seed)->default_value(o.seed), "Seed for packet order.")
      ("family", po::value(&raw.family)->default_value(raw.family),
       "Client address family: 4, 6 or all.")
      ("encap", po::value(&raw.encap)->default_value(raw.encap),
       "Encapsulation: ipip, gue or all.")
      ("max-sweep-flows", po::value(&o.max_sweep_flows)->default_value(0),
       "Largest point of the flows-in-table sweep (0: 10000000, --quick: 100000).");
  po::options_description all;
  all.add(general).add(run);
  return all;
}

}  // namespace

uint64_t default_packets(bool quick) { return quick ? 16384 : 1048576; }

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> names = {
      "floor",          "established-hot", "established-1M",  "new-flow",
      "new-flow-full",  "mixed",           "flood",           "second-chance",
      "not-for-us",     "icmp-error",      "ring-loop",       "sweep-flows",
      "sweep-vips",     "sweep-backends",  "maglev-build",    "conn-memory",
      "table-change",   "new-flow-schedulers", "xdp-loop"};
  return names;
}

bool selected(const BenchOptions& o, const std::string& name) {
  if (name == "floor") return true;
  // Needs root and makes a namespace and a veth pair: only when asked for.
  if (name == "xdp-loop") {
    return std::find(o.scenarios.begin(), o.scenarios.end(), name) != o.scenarios.end();
  }
  return o.scenarios.empty() ||
         std::find(o.scenarios.begin(), o.scenarios.end(), name) != o.scenarios.end();
}

std::string options_help() {
  BenchOptions o;
  RawOptions raw;
  std::ostringstream out;
  out << "Usage: lb-bench [EAL options] -- [options]\n\n"
         "Drives sluice::dp::process_burst, the function lb-dataplane's workers run, on one\n"
         "lcore over pre-built mbufs, and reports ns, cycles and Mpps per packet for each\n"
         "scenario (IPv4/IPv6 clients, IPIP/GUE), scaling sweeps (flows, VIPs, backends),\n"
         "Maglev build time, connection-table memory and table changes at 1, 100 and 4,096 VIPs. Every measured\n"
         "pass is checked against the verdict counters; a mismatch makes the exit status 1.\n"
         "The ring-loop ports (net_ring) are created by lb-bench itself. xdp-loop (only with\n"
         "--scenario xdp-loop; needs root) runs the same traffic through two net_af_xdp ports\n"
         "on a veth pair that lb-bench makes in a network namespace of its own.\n\n"
         "Example (no hugepages, one lcore):\n"
         "  lb-bench --no-huge -m 2048 --no-pci --no-shconf -l 0 --log-level lib.eal:error "
         "-- --json\n"
      << describe(o, raw);
  return out.str();
}

std::optional<BenchOptions> parse_options(int argc, char** argv, int& exit_code) {
  BenchOptions o;
  RawOptions raw;
  const auto desc = describe(o, raw);
  po::variables_map vm;
  if (!dp::read_command_line("lb-bench", desc, argc, argv, vm)) {
    exit_code = 2;
    return std::nullopt;
  }
  const auto fail = [&exit_code](const std::string& msg) -> std::optional<BenchOptions> {
    std::cerr << "lb-bench: " << msg << " (see lb-bench --help)\n";
    exit_code = 2;
    return std::nullopt;
  };
  if (vm.count("help")) {
    std::cout << options_help();
    exit_code = 0;
    return std::nullopt;
  }
  for (const std::string& s : o.scenarios) {
    const auto& names = scenario_names();
    if (std::find(names.begin(), names.end(), s) == names.end()) {
      std::string all;
      for (const std::string& n : names) all += " " + n;
      return fail("--scenario '" + s + "' is unknown; known:" + all);
    }
  }
  if (o.quick && vm["reps"].defaulted()) o.reps = 2;
  if (o.reps == 0 || o.reps > 1000) return fail("--reps must be in [1, 1000]");
  if (o.packets == 0) o.packets = default_packets(o.quick);
  if (o.packets > (uint64_t{1} << 32)) return fail("--packets must be at most 4294967296");
  if (o.burst == 0 || o.burst > dp::kMaxBurst) {
    return fail("--burst must be in [1, " + std::to_string(dp::kMaxBurst) + "]");
  }
  if (o.window < 64 || o.window > 4096) return fail("--window must be in [64, 4096]");
  if (raw.family == "4") {
    o.v6 = false;
  } else if (raw.family == "6") {
    o.v4 = false;
  } else if (raw.family != "all") {
    return fail("--family '" + raw.family + "' is not 4, 6 or all");
  }
  if (raw.encap == "ipip") {
    o.gue = false;
  } else if (raw.encap == "gue") {
    o.ipip = false;
  } else if (raw.encap != "all") {
    return fail("--encap '" + raw.encap + "' is not ipip, gue or all");
  }
  if (o.max_sweep_flows == 0) o.max_sweep_flows = o.quick ? 100000 : 10000000;
  if (o.max_sweep_flows > 12000000) return fail("--max-sweep-flows must be at most 12000000");
  exit_code = 0;
  return o;
}

}  // namespace sluice::bench
