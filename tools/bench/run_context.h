// What every group of figures needs: the options, the engine with its mbuf
// window, a seeded random source, and the results being collected. A figure
// whose verdict check fails is recorded as failed and the run goes on; the
// exit status says so at the end. Main lcore.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "tools/bench/engine.h"
#include "tools/bench/measure.h"
#include "tools/bench/options.h"
#include "tools/bench/results.h"

namespace sluice::bench {

struct Variant {
  uint8_t family = 4;
  Encap encap = Encap::kIpip;
  std::string name() const;  // "v4/ipip"
  const char* family_name() const { return family == 4 ? "v4" : "v6"; }
};

class RunContext {
 public:
  RunContext(const BenchOptions& options, Engine& engine, bool have_ring, Results& results,
             bool have_xdp = false);

  const BenchOptions& opt;
  Engine& engine;
  const bool have_ring;
  const bool have_xdp;  // the xdp-loop's AF_XDP ports exist
  Results& results;
  std::mt19937_64 rng;

  // A figure of `section`/`name` for `v` over world `w` (sizes filled in).
  Figure figure(const std::string& section, const std::string& name, const Variant& v,
                World& w) const;
  // Measures and records `fig`; a failure is recorded, not thrown.
  void run(Figure fig, World& world, Traffic& t, const MeasureSpec& spec);
  // Runs `setup`; if it throws, records the failure against `what`.
  bool guarded(const std::string& what, const std::function<void()>& setup);

  // Floor medians by (family, io), for the ratios.
  std::map<std::pair<uint8_t, std::string>, double> floor_ns;

  void progress(const std::string& line) const;
};

}  // namespace sluice::bench
