#include "tools/bench/targets.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "tools/bench/report.h"

namespace sluice::bench {

namespace {

void ns_target(Results& r, const std::string& scenario, double limit) {
  for (const Figure& f : r.figures) {
    if (f.section != "scenarios" || f.name != scenario || !f.error.empty()) continue;
    r.targets.push_back(TargetResult{scenario + " ns/packet", f.variant,
                                     "<= " + fmt("%.0f", limit) + " ns", f.ns.median, "ns",
                                     f.ns.median <= limit, ""});
  }
}

void floor_ratio_target(Results& r, const std::string& scenario, double limit) {
  for (const Figure& f : r.figures) {
    if (f.section != "scenarios" || f.name != scenario || !f.error.empty() || f.floor_ns <= 0) {
      continue;
    }
    const double ratio = f.ns.median / f.floor_ns;
    r.targets.push_back(TargetResult{scenario + " / floor", f.variant,
                                     "<= " + fmt("%.0f", limit) + "x", ratio, "x",
                                     ratio <= limit, ""});
  }
}

// Spread (max/min of the medians) of the points of a sweep, per variant
// and workload.
void flat_target(Results& r, const std::string& section, const std::string& what,
                 double limit) {
  std::set<std::pair<std::string, std::string>> keys;
  for (const Figure& f : r.figures) {
    if (f.section == section && f.error.empty()) keys.insert({f.variant, f.name});
  }
  for (const auto& [variant, name] : keys) {
    double lo = 0, hi = 0;
    int n = 0;
    for (const Figure& f : r.figures) {
      if (f.section != section || f.variant != variant || f.name != name || !f.error.empty()) {
        continue;
      }
      lo = n == 0 ? f.ns.median : std::min(lo, f.ns.median);
      hi = n == 0 ? f.ns.median : std::max(hi, f.ns.median);
      ++n;
    }
    if (n < 2 || lo <= 0) continue;
    const double spread = hi / lo;
    r.targets.push_back(TargetResult{what + " (" + name + ")", variant,
                                     "max/min <= " + fmt("%.2f", limit), spread, "x",
                                     spread <= limit, std::to_string(n) + " points"});
  }
}

void growth_target(Results& r) {
  std::set<std::string> variants;
  for (const Figure& f : r.figures) {
    if (f.section == "sweep-flows" && f.error.empty()) variants.insert(f.variant);
  }
  for (const std::string& v : variants) {
    const Figure* first = nullptr;
    const Figure* last = nullptr;
    for (const Figure& f : r.figures) {
      if (f.section != "sweep-flows" || f.variant != v || !f.error.empty()) continue;
      if (first == nullptr || f.flows_in_table < first->flows_in_table) first = &f;
      if (last == nullptr || f.flows_in_table > last->flows_in_table) last = &f;
    }
    if (first == nullptr || first == last) continue;
    const double growth = last->ns.median / first->ns.median;
    const std::string note = last->flows_in_table == 10000000
                                 ? ""
                                 : "largest point " + std::to_string(last->flows_in_table) +
                                       " flows, not 10M";
    r.targets.push_back(TargetResult{"growth 1k -> 10M flows", v, "< 2x", growth, "x",
                                     growth < 2.0, note});
  }
}

}  // namespace

void evaluate_targets(Results& r) {
  ns_target(r, "established-hot", 30);
  floor_ratio_target(r, "established-hot", 2);
  ns_target(r, "established-1M", 80);
  ns_target(r, "new-flow", 130);
  ns_target(r, "new-flow-full", 250);
  ns_target(r, "not-for-us", 15);
  growth_target(r);
  flat_target(r, "sweep-vips", "flat 1 -> 10,000 VIPs", 1.10);
  flat_target(r, "sweep-backends", "flat 10 -> 10,000 backends", 1.10);
  for (const MaglevFigure& m : r.maglev) {
    if (m.table_size != 65537 || m.backends != 1000) continue;
    r.targets.push_back(TargetResult{"Maglev build M=65537, 1,000 backends", "", "< 1 ms",
                                     m.ms.median, "ms", m.ms.median < 1.0, ""});
  }
}

}  // namespace sluice::bench
