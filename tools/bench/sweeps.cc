#include "tools/bench/sweeps.h"

#include <algorithm>
#include <memory>

#include "tools/bench/flows.h"
#include "tools/bench/scenarios.h"

namespace sluice::bench {

namespace {

Traffic established_traffic(RunContext& rc, uint8_t family, const std::vector<uint32_t>& flows) {
  Traffic t;
  t.primary = make_template(FrameKind::kTcpAck, family);
  t.alt = t.primary;
  t.sequence = shuffled(flows, rc.rng);
  return t;
}

// One variant per family: IPIP unless only GUE was asked for.
std::vector<Variant> sweep_variants(const BenchOptions& o) {
  std::vector<Variant> out;
  for (const Variant& v : selected_variants(o)) {
    if (std::none_of(out.begin(), out.end(), [&](const Variant& x) { return x.family == v.family; })) {
      out.push_back(v);
    }
  }
  return out;
}

// Established traffic over `flows` flows, then (if `new_flows`) new flows
// into the cleared table, for one sweep point.
void sweep_point(RunContext& rc, const std::string& section, const Variant& v,
                 const WorldSpec& ws, uint64_t flows, bool new_flows) {
  const BenchOptions& o = rc.opt;
  std::unique_ptr<World> w;
  std::vector<uint32_t> established, fresh;
  const std::string what = section + " " + v.name() + " (" + std::to_string(ws.vips) + " VIPs, " +
                           std::to_string(ws.backends_per_vip) + " backends, " +
                           std::to_string(flows) + " flows)";
  uint64_t n_new = 0;
  if (!rc.guarded(what, [&] {
        w = std::make_unique<World>(ws);
        FlowPlanner planner(*w);
        established = planner.place(flows);
        populate(rc.engine, *w, established);
        if (new_flows) {
          // Into a cleared table: plan them afresh (they may reuse the
          // established flows' numbers: after the clear those are new).
          n_new = std::min<uint64_t>(o.packets, w->conn_capacity() / 4);
          FlowPlanner again(*w);
          fresh = again.place(n_new);
        }
      })) {
    return;
  }
  MeasureSpec s;
  s.packets = o.packets;
  s.reps = o.reps;
  Traffic t = established_traffic(rc, v.family, established);
  Figure f = rc.figure(section, "established", v, *w);
  f.flows_in_table = flows;
  rc.run(f, *w, t, s);
  if (!new_flows) return;
  Traffic n;
  n.primary = make_template(FrameKind::kTcpSyn, v.family);
  n.alt = n.primary;
  n.primary_path = n.alt_path = Path::kNewInsert;
  n.sequence = shuffled(fresh, rc.rng);
  n.restart_each_pass = true;
  World& world = *w;
  s.packets = n_new;
  s.before_pass = [&world] { world.ctx().conn().clear(); };
  Figure g = rc.figure(section, "new-flow", v, world);
  rc.run(g, world, n, s);
}

void flows_sweep(RunContext& rc) {
  const BenchOptions& o = rc.opt;
  std::vector<uint64_t> points;
  for (uint64_t p : {1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull}) {
    if (p <= o.max_sweep_flows) points.push_back(p);
  }
  if (points.empty() || points.back() != o.max_sweep_flows) points.push_back(o.max_sweep_flows);
  // One table size for every point, with room for the largest (10M flows:
  // 16M entries, 256 MiB), so that only the number of live flows changes.
  uint64_t entries = 1;
  while (entries < o.max_sweep_flows + o.max_sweep_flows / 2) entries <<= 1;
  for (const Variant& v : sweep_variants(o)) {
    for (uint64_t flows : points) {
      WorldSpec ws;
      ws.family = v.family;
      ws.encap = v.encap;
      ws.flows_per_lcore = entries;
      sweep_point(rc, "sweep-flows", v, ws, flows, false);
    }
  }
}

void vips_sweep(RunContext& rc) {
  const BenchOptions& o = rc.opt;
  const uint64_t flows = o.quick ? 10000 : 100000;
  for (const Variant& v : sweep_variants(o)) {
    for (uint32_t vips : {1u, 100u, 10000u}) {
      // The same limits, backends per VIP and Maglev size at every point.
      WorldSpec ws;
      ws.family = v.family;
      ws.encap = v.encap;
      ws.vips = vips;
      ws.backends_per_vip = 10;
      ws.table_size = 1021;
      ws.max_vips = 10000;
      ws.max_backend_id = 100000;
      sweep_point(rc, "sweep-vips", v, ws, flows, true);
    }
  }
}

void backends_sweep(RunContext& rc) {
  const BenchOptions& o = rc.opt;
  const uint64_t flows = o.quick ? 10000 : 100000;
  for (const Variant& v : sweep_variants(o)) {
    for (uint32_t backends : {10u, 1000u, 10000u}) {
      WorldSpec ws;
      ws.family = v.family;
      ws.encap = v.encap;
      // The IPv4 documentation ranges hold 768 addresses: backends are IPv6
      // for both client families (IPIP carries IPv4 in IPv6).
      ws.backend_family = 6;
      ws.backends_per_vip = backends;
      ws.table_size = backends <= 1000 ? 65537 : 655373;
      sweep_point(rc, "sweep-backends", v, ws, flows, true);
    }
  }
}

}  // namespace

void run_sweeps(RunContext& rc) {
  if (selected(rc.opt, "sweep-flows")) flows_sweep(rc);
  if (selected(rc.opt, "sweep-vips")) vips_sweep(rc);
  if (selected(rc.opt, "sweep-backends")) backends_sweep(rc);
}

}  // namespace sluice::bench
