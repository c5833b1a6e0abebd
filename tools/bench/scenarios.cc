#include "tools/bench/scenarios.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "tools/bench/flows.h"

namespace sluice::bench {

namespace {

constexpr uint64_t kHotFlows = 1000;

Traffic traffic(FrameKind kind, uint8_t family, Path path, std::vector<uint32_t> sequence) {
  Traffic t;
  t.primary = make_template(kind, family);
  t.alt = t.primary;
  t.primary_path = path;
  t.alt_path = path;
  t.sequence = std::move(sequence);
  return t;
}

MeasureSpec spec_for(const RunContext& rc, uint64_t packets) {
  MeasureSpec s;
  s.packets = packets;
  s.reps = rc.opt.reps;
  return s;
}

// 1,000 established flows: the floor, established-hot, icmp-error,
// not-for-us and the ring loop, all in lb-dataplane's default table.
void hot_group(RunContext& rc, const Variant& v, bool first_of_family) {
  const BenchOptions& o = rc.opt;
  WorldSpec ws;
  ws.family = v.family;
  ws.encap = v.encap;
  std::unique_ptr<World> w;
  std::vector<uint32_t> hot;
  if (!rc.guarded("scenarios " + v.name() + " (1,000 flows)", [&] {
        w = std::make_unique<World>(ws);
        FlowPlanner planner(*w);
        hot = planner.place(kHotFlows);
        populate(rc.engine, *w, hot);
      })) {
    return;
  }
  const std::vector<uint32_t> order = shuffled(hot, rc.rng);
  const auto fig = [&](const std::string& name) {
    Figure f = rc.figure("scenarios", name, v, *w);
    f.flows = kHotFlows;
    f.flows_in_table = kHotFlows;
    return f;
  };
  if (first_of_family) {
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
    MeasureSpec s = spec_for(rc, o.packets);
    s.forwarder = Forwarder::kFloor;
    Figure f = fig("floor");
    f.variant = v.family_name();
    f.encap.clear();
    rc.run(f, *w, t, s);
  }
  if (selected(o, "established-hot")) {
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
    rc.run(fig("established-hot"), *w, t, spec_for(rc, o.packets));
  }
  if (selected(o, "icmp-error")) {
    Traffic t = traffic(FrameKind::kIcmpFragNeeded, v.family, Path::kIcmpHit, order);
    rc.run(fig("icmp-error"), *w, t, spec_for(rc, o.packets));
  }
  if (selected(o, "not-for-us")) {
    // Fresh client flows to an address no VIP has.
    std::vector<uint32_t> clients(kHotFlows);
    for (uint32_t i = 0; i < kHotFlows; ++i) clients[i] = kMaxClientFlows - 1 - i;
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kNotForUs, shuffled(clients, rc.rng));
    t.fixed_dst = true;
    t.dst = non_vip_endpoint(v.family);
    Figure f = fig("not-for-us");
    f.flows_in_table = kHotFlows;
    rc.run(f, *w, t, spec_for(rc, o.packets));
  }
  if (selected(o, "ring-loop") && rc.have_ring) {
    if (first_of_family) {
      Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
      MeasureSpec s = spec_for(rc, o.packets);
      s.forwarder = Forwarder::kFloor;
      s.io = Io::kRing;
      Figure f = fig("floor-ring");
      f.variant = v.family_name();
      f.encap.clear();
      rc.run(f, *w, t, s);
    }
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
    MeasureSpec s = spec_for(rc, o.packets);
    s.io = Io::kRing;
    rc.run(fig("ring-loop"), *w, t, s);
  }
}

// A million established flows (100,000 with --quick) in a table of twice
// as many entries: established-1M, then mixed.
void big_group(RunContext& rc, const Variant& v) {
  const BenchOptions& o = rc.opt;
  const bool est = selected(o, "established-1M"), mixed = selected(o, "mixed");
  if (!est && !mixed) return;
  const uint64_t flows = o.quick ? 100000 : 1000000;
  WorldSpec ws;
  ws.family = v.family;
  ws.encap = v.encap;
  ws.flows_per_lcore = 2 * flows;
  std::unique_ptr<World> w;
  std::unique_ptr<FlowPlanner> planner;
  std::vector<uint32_t> established;
  if (!rc.guarded("scenarios " + v.name() + " (" + std::to_string(flows) + " flows)", [&] {
        w = std::make_unique<World>(ws);
        planner = std::make_unique<FlowPlanner>(*w);
        established = planner->place(flows);
        populate(rc.engine, *w, established);
      })) {
    return;
  }
  if (est) {
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, shuffled(established, rc.rng));
    Figure f = rc.figure("scenarios", "established-1M", v, *w);
    f.flows_in_table = flows;
    rc.run(f, *w, t, spec_for(rc, o.packets));
  }
  if (mixed) {
    // Each pass: 90% packets of established flows in random order, 10% the
    // first packets of new flows (each once), shuffled together; the table
    // is cleared and repopulated before every pass so that the new flows
    // are new again.
    const uint64_t n_new = o.packets / 10;
    std::vector<uint32_t> fresh;
    if (!rc.guarded("scenarios mixed " + v.name(), [&] { fresh = planner->place(n_new); })) return;
    std::vector<uint32_t> seq;
    seq.reserve(o.packets);
    const std::vector<uint32_t> order = shuffled(established, rc.rng);
    for (uint64_t i = 0; i < o.packets - n_new; ++i) seq.push_back(order[i % order.size()]);
    for (uint32_t f : fresh) seq.push_back(f | Traffic::kAlt);
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, shuffled(seq, rc.rng));
    t.alt = make_template(FrameKind::kTcpSyn, v.family);
    t.alt_path = Path::kNewInsert;
    t.restart_each_pass = true;
    MeasureSpec s = spec_for(rc, o.packets);
    World& world = *w;
    s.before_pass = [&rc, &world, &established] {
      world.ctx().conn().clear();
      populate(rc.engine, world, established);
    };
    Figure f = rc.figure("scenarios", "mixed", v, *w);
    f.flows = flows + n_new;
    f.flows_in_table = flows;
    rc.run(f, *w, t, s);
  }
}

// New flows into lb-dataplane's default table (1M entries): new-flow into
// a cleared table, new-flow-full into a table whose every bucket is full.
void new_flow_group(RunContext& rc, const Variant& v) {
  const BenchOptions& o = rc.opt;
  const bool nf = selected(o, "new-flow"), full = selected(o, "new-flow-full");
  if (!nf && !full) return;
  WorldSpec ws;
  ws.family = v.family;
  ws.encap = v.encap;
  std::unique_ptr<World> w;
  std::vector<uint32_t> fresh;
  uint64_t n_new = 0;
  if (!rc.guarded("scenarios new-flow " + v.name(), [&] {
        w = std::make_unique<World>(ws);
        // At most a quarter full by the end of a pass.
        n_new = std::min<uint64_t>(o.packets, w->conn_capacity() / 4);
        FlowPlanner planner(*w);
        fresh = planner.place(n_new);
      })) {
    return;
  }
  World& world = *w;
  if (nf) {
    Traffic t = traffic(FrameKind::kTcpSyn, v.family, Path::kNewInsert, shuffled(fresh, rc.rng));
    t.restart_each_pass = true;
    MeasureSpec s = spec_for(rc, n_new);
    s.before_pass = [&world] { world.ctx().conn().clear(); };
    Figure f = rc.figure("scenarios", "new-flow", v, world);
    f.flows = n_new;
    rc.run(f, world, t, s);
  }
  if (full) {
    std::vector<uint32_t> others;
    if (!rc.guarded("scenarios new-flow-full " + v.name(), [&] {
          world.ctx().conn().clear();
          const uint64_t live = fill_with_other_flows(world, rc.rng);
          if (live != world.conn_capacity()) {
            throw std::runtime_error("filling the table left " + std::to_string(live) + " of " +
                                     std::to_string(world.conn_capacity()) + " entries live");
          }
          others.resize(o.packets < 1000000 ? o.packets : 1000000);
          for (size_t i = 0; i < others.size(); ++i) others[i] = static_cast<uint32_t>(i);
        })) {
      return;
    }
    // The inserts fail, so the table stays as it is and the same new flows
    // can be sent again every pass.
    Traffic t = traffic(FrameKind::kTcpSyn, v.family, Path::kNewInsertFails,
                        shuffled(others, rc.rng));
    Figure f = rc.figure("scenarios", "new-flow-full", v, world);
    f.flows_in_table = world.conn_capacity();
    rc.run(f, world, t, spec_for(rc, o.packets));
  }
}

}  // namespace

std::vector<Variant> selected_variants(const BenchOptions& opt) {
  std::vector<Variant> out;
  for (uint8_t family : {4, 6}) {
    if ((family == 4 && !opt.v4) || (family == 6 && !opt.v6)) continue;
    if (opt.ipip) out.push_back(Variant{family, Encap::kIpip});
    if (opt.gue) out.push_back(Variant{family, Encap::kGue});
  }
  return out;
}

void run_scenarios(RunContext& rc) {
  uint8_t last_family = 0;
  for (const Variant& v : selected_variants(rc.opt)) {
    const bool first = v.family != last_family;
    last_family = v.family;
    hot_group(rc, v, first);
    big_group(rc, v);
    new_flow_group(rc, v);
  }
}

}  // namespace sluice::bench
