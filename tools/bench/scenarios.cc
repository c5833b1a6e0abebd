#include "tools/bench/scenarios.h"

#include <rte_cycles.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/maglev.h"
#include "tools/bench/flows.h"
#include "tools/bench/verdicts.h"

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
  // The established flows through a pair of ports, the ports' own floor
  // first in each family: ring-loop (net_ring) and its AF_XDP counterpart
  // xdp-loop (a veth pair with net_af_xdp ports, tools/bench/xdp_ports.h).
  const auto io_loop = [&](Io io, const char* floor_name, const char* name) {
    if (first_of_family) {
      Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
      MeasureSpec s = spec_for(rc, o.packets);
      s.forwarder = Forwarder::kFloor;
      s.io = io;
      Figure f = fig(floor_name);
      f.variant = v.family_name();
      f.encap.clear();
      rc.run(f, *w, t, s);
    }
    Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kHit, order);
    MeasureSpec s = spec_for(rc, o.packets);
    s.io = io;
    rc.run(fig(name), *w, t, s);
  };
  if (selected(o, "ring-loop") && rc.have_ring) io_loop(Io::kRing, "floor-ring", "ring-loop");
  if (selected(o, "xdp-loop") && rc.have_xdp) io_loop(Io::kXdp, "floor-xdp", "xdp-loop");
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

// new-flow under each scheduler but Maglev (new-flow's own), 100 backends
// per VIP: what each costs a new flow on the miss path (source-hash: one
// more hash; weighted-round-robin and least-connections: a pass over the
// candidates; power-of-two: two draws and two binary searches).
void scheduler_group(RunContext& rc, const Variant& v) {
  const BenchOptions& o = rc.opt;
  if (!selected(o, "new-flow-schedulers")) return;
  for (const Scheduler s : {Scheduler::kSourceHash, Scheduler::kWeightedRoundRobin,
                            Scheduler::kLeastConnections, Scheduler::kPowerOfTwo}) {
    WorldSpec ws;
    ws.family = v.family;
    ws.encap = v.encap;
    ws.scheduler = s;
    const std::string name = std::string("new-flow-") + scheduler_name(s);
    std::unique_ptr<World> w;
    std::vector<uint32_t> fresh;
    uint64_t n_new = 0;
    if (!rc.guarded("scenarios " + name + " " + v.name(), [&] {
          w = std::make_unique<World>(ws);
          n_new = std::min<uint64_t>(o.packets, w->conn_capacity() / 4);
          FlowPlanner planner(*w);
          fresh = planner.place(n_new);
        })) {
      continue;
    }
    World& world = *w;
    Traffic t = traffic(FrameKind::kTcpSyn, v.family, Path::kNewInsert, shuffled(fresh, rc.rng));
    t.restart_each_pass = true;
    MeasureSpec spec = spec_for(rc, n_new);
    // Cleared with the connection table: the counts it feeds go too.
    spec.before_pass = [&world] { world.ctx().conn().clear(); };
    Figure f = rc.figure("scenarios", name, v, world);
    f.flows = n_new;
    rc.run(f, world, t, spec);
  }
}

// A SYN flood against a table holding established flows: per pass, spoofed
// SYNs of distinct new flows totalling 10x the table's capacity, and ACKs
// of the established flows as 10% of the packets, shuffled together. The
// table (262,144 entries; 16,384 with --quick) is cleared and refilled with
// its established flows (a quarter of its capacity) before every pass. No
// insert cap (WorldSpec::max_inserts_per_s = 0): the figure is the
// replacement rule's, not the flood guard's, which at this speed would
// stop inserting within the first few milliseconds of a pass. Reported:
// the cost per packet, and the share of established flows still found,
// both by their packets (conn_hits over the ACKs sent) and by a lookup of
// every established flow after each pass.
void flood_group(RunContext& rc, const Variant& v) {
  const BenchOptions& o = rc.opt;
  if (!selected(o, "flood")) return;
  WorldSpec ws;
  ws.family = v.family;
  ws.encap = v.encap;
  ws.flows_per_lcore = o.quick ? 16384 : 262144;
  std::unique_ptr<World> w;
  std::vector<uint32_t> established;
  std::vector<FlowHash> hashes;
  std::vector<uint32_t> seq;
  uint64_t n_syn = 0, n_ack = 0;
  if (!rc.guarded("scenarios flood " + v.name(), [&] {
        w = std::make_unique<World>(ws);
        FlowPlanner planner(*w);
        const uint64_t capacity = w->conn_capacity();
        established = planner.place(capacity / 4);
        for (uint32_t f : established) hashes.push_back(planner.hash_of(f));
        n_syn = 10 * capacity;
        n_ack = n_syn / 9;  // 10% of all packets
        const std::vector<uint32_t> spoofed = planner.fresh(n_syn);
        seq.reserve(n_syn + n_ack);
        for (uint32_t f : spoofed) seq.push_back(f);
        // Each established flow as often as the others.
        const std::vector<uint32_t> order = shuffled(established, rc.rng);
        for (uint64_t i = 0; i < n_ack; ++i) seq.push_back(order[i % order.size()] | Traffic::kAlt);
      })) {
    return;
  }
  Traffic t = traffic(FrameKind::kTcpSyn, v.family, Path::kFloodSyn, shuffled(seq, rc.rng));
  t.alt = make_template(FrameKind::kTcpAck, v.family);
  t.alt_path = Path::kFloodAck;
  t.restart_each_pass = true;
  MeasureSpec s = spec_for(rc, n_syn + n_ack);
  World& world = *w;
  s.before_pass = [&rc, &world, &established] {
    world.ctx().conn().clear();
    populate(rc.engine, world, established);
  };
  s.after_pass = [&world, &hashes](uint64_t) {
    dp::WorkerContext& ctx = world.ctx();
    const uint32_t now = ctx.ticks(rte_rdtsc());
    uint64_t found = 0;
    for (const FlowHash& h : hashes) {
      const dp::ConnEntry* e = ctx.conn().lookup(h.hash, h.fingerprint, now);
      found += e != nullptr && e->state() == ConnState::kEstablished;
    }
    return std::map<std::string, uint64_t>{{"established_flows", hashes.size()},
                                           {"established_found_after", found}};
  };
  Figure f = rc.figure("scenarios", "flood", v, world);
  f.flows = n_syn + established.size();
  f.flows_in_table = established.size();
  rc.run(f, world, t, s);
}

// The second chance's miss path: TCP ACKs of flows the table does not hold,
// to a VIP one of whose 100 backends drains, so that the existing-flows
// table is not the new-flows one. Each flow once per pass, the table
// cleared before each pass (as new-flow): the cost of a miss sent by the
// existing-flows table, plus its insert as established. The flows whose
// existing-flows slot names the draining backend must reach it.
void second_chance_group(RunContext& rc, const Variant& v) {
  const BenchOptions& o = rc.opt;
  if (!selected(o, "second-chance")) return;
  WorldSpec ws;
  ws.family = v.family;
  ws.encap = v.encap;
  ws.draining_backends = 1;
  std::unique_ptr<World> w;
  std::vector<uint32_t> flows;
  std::vector<uint8_t> to_draining;  // per flow, in sequence order
  uint64_t n = 0;
  const uint32_t draining_id = 1;  // make_table_config: VIP 0's first backend
  if (!rc.guarded("scenarios second-chance " + v.name(), [&] {
        w = std::make_unique<World>(ws);
        const dp::VipEntry& vip = w->tables().current()->vips.at(0);
        if (vip.maglev_existing == vip.maglev) {
          throw std::runtime_error("the draining backend's VIP has one Maglev table, not two");
        }
        n = std::min<uint64_t>(o.packets, w->conn_capacity() / 4);
        FlowPlanner planner(*w);
        flows = shuffled(planner.place(n), rc.rng);
        uint64_t differ = 0;
        for (uint32_t f : flows) {
          const uint32_t slot = maglev_slot(planner.hash_of(f).hash, vip.maglev_size);
          to_draining.push_back(vip.maglev_existing[slot] == draining_id);
          differ += vip.maglev_existing[slot] != vip.maglev[slot];
        }
        if (differ == 0) throw std::runtime_error("no flow's two Maglev slots differ");
      })) {
    return;
  }
  Traffic t = traffic(FrameKind::kTcpAck, v.family, Path::kMidFlowMiss, flows);
  t.restart_each_pass = true;
  MeasureSpec s = spec_for(rc, n);
  World& world = *w;
  s.before_pass = [&world] { world.ctx().conn().clear(); };
  // The draining backend's packets must be exactly those of its flows.
  auto drained = std::make_shared<uint64_t>(world.ctx().backend_counters()[draining_id].packets);
  s.after_pass = [&world, &to_draining, drained, draining_id](uint64_t packets) {
    uint64_t want = 0;
    for (uint64_t i = 0; i < packets; ++i) want += to_draining[i % to_draining.size()];
    const uint64_t now = world.ctx().backend_counters()[draining_id].packets;
    const uint64_t got = now - *drained;
    *drained = now;
    if (got != want) {
      throw VerdictError("the draining backend received " + std::to_string(got) +
                         " packets, its flows in the existing-flows table " +
                         std::to_string(want));
    }
    return std::map<std::string, uint64_t>{{"to_draining_backend", got}};
  };
  Figure f = rc.figure("scenarios", "second-chance", v, world);
  f.flows = n;
  rc.run(f, world, t, s);
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
    scheduler_group(rc, v);
    second_chance_group(rc, v);
    flood_group(rc, v);
  }
}

}  // namespace sluice::bench
