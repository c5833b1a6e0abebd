#include "tools/bench/run_context.h"

#include <cstdio>
#include <exception>

namespace sluice::bench {

std::string Variant::name() const {
  std::string s = family_name();
  s += "/";
  s += encap_name(encap);
  return s;
}

RunContext::RunContext(const BenchOptions& options, Engine& e, bool ring, Results& r, bool xdp)
    : opt(options), engine(e), have_ring(ring), have_xdp(xdp), results(r), rng(options.seed) {}

Figure RunContext::figure(const std::string& section, const std::string& name, const Variant& v,
                          World& w) const {
  Figure f;
  f.section = section;
  f.name = name;
  f.variant = v.name();
  f.family = v.family;
  f.encap = encap_name(v.encap);
  f.vips = w.spec().vips;
  f.backends_per_vip = w.spec().backends_per_vip;
  f.maglev_size = w.spec().table_size;
  f.table_entries = w.conn_capacity();
  return f;
}

void RunContext::run(Figure fig, World& world, Traffic& t, const MeasureSpec& spec) {
  fig.io = spec.io == Io::kRing ? "ring" : spec.io == Io::kXdp ? "xdp" : "direct";
  if (fig.flows == 0) fig.flows = t.sequence.size();
  try {
    measure(engine, world, t, spec, fig);
  } catch (const std::exception& e) {
    fig.error = e.what();
    results.failures.push_back(fig.section + " " + fig.name + " " + fig.variant + ": " + e.what());
  }
  if (spec.forwarder == Forwarder::kFloor && fig.error.empty()) {
    floor_ns[{fig.family, fig.io}] = fig.ns.median;
  }
  const auto floor = floor_ns.find({fig.family, fig.io});
  if (floor != floor_ns.end()) fig.floor_ns = floor->second;
  char line[256];
  if (fig.error.empty()) {
    std::snprintf(line, sizeof line, "%-15s %-16s %-8s %6.1f ns/packet (%.1f-%.1f)",
                  fig.section.c_str(), fig.name.c_str(), fig.variant.c_str(), fig.ns.median,
                  fig.ns.min, fig.ns.max);
  } else {
    std::snprintf(line, sizeof line, "%-15s %-16s %-8s VERDICT FAILED", fig.section.c_str(),
                  fig.name.c_str(), fig.variant.c_str());
  }
  progress(line);
  results.figures.push_back(std::move(fig));
}

bool RunContext::guarded(const std::string& what, const std::function<void()>& setup) {
  try {
    setup();
    return true;
  } catch (const std::exception& e) {
    results.failures.push_back(what + ": " + e.what());
    progress(what + ": FAILED: " + e.what());
    return false;
  }
}

void RunContext::progress(const std::string& line) const {
  std::fprintf(stderr, "lb-bench: %s\n", line.c_str());
}

}  // namespace sluice::bench
