#include "tools/bench/measure.h"

#include <rte_cycles.h>

#include "tools/bench/verdicts.h"

namespace sluice::bench {

void measure(Engine& engine, World& world, Traffic& t, const MeasureSpec& spec, Figure& fig) {
  const double tsc_hz = static_cast<double>(rte_get_tsc_hz());
  // Settle: caches, branch predictors and page tables as in steady state.
  // Checked like the others, not timed.
  const uint64_t settle = spec.packets < 65536 ? spec.packets : 65536;
  if (spec.before_pass) spec.before_pass();
  checked_pass(engine, world, t, settle, spec.forwarder, spec.io);
  if (spec.after_pass) spec.after_pass(settle);

  CounterBlock deltas{};
  std::map<std::string, uint64_t> own;
  fig.packets_per_rep = spec.packets;
  fig.frame_bytes = t.primary.len;
  for (uint32_t rep = 0; rep < spec.reps; ++rep) {
    if (spec.before_pass) spec.before_pass();
    const PassResult r =
        checked_pass(engine, world, t, spec.packets, spec.forwarder, spec.io, &deltas);
    if (spec.after_pass) {
      for (const auto& [name, value] : spec.after_pass(r.packets)) own[name] += value;
    }
    // Rounds during which the thread was switched out are left out of the
    // timing (never out of the verdict check), unless every round was.
    const bool clean = r.clean_packets > 0;
    const double cycles = static_cast<double>(clean ? r.clean_cycles : r.cycles) /
                          static_cast<double>(clean ? r.clean_packets : r.packets);
    fig.rounds += r.rounds;
    fig.preempted_rounds += r.preempted_rounds;
    fig.cycles_per_packet.push_back(cycles);
    fig.ns_per_packet.push_back(cycles * 1e9 / tsc_hz);
    fig.measured_packets += r.packets;
    if (spec.forwarder == Forwarder::kFloor) {
      fig.verdicts["floor_forwarded"] += r.floor.packets;
    }
  }
  for (const auto& [name, value] : named_counters(deltas)) fig.verdicts[name] = value;
  for (const auto& [name, value] : own) fig.verdicts[name] += value;
  fig.ns = summarize(fig.ns_per_packet);
  fig.cycles = summarize(fig.cycles_per_packet);
  fig.mpps = fig.ns.median > 0 ? 1e3 / fig.ns.median : 0;
}

void populate(Engine& engine, World& world, const std::vector<uint32_t>& flows) {
  if (flows.empty()) return;
  Traffic t;
  t.primary = make_template(FrameKind::kTcpAck, world.spec().family);
  t.alt = t.primary;
  t.primary_path = t.alt_path = Path::kMidFlowMiss;
  t.sequence = flows;
  t.restart_each_pass = true;
  checked_pass(engine, world, t, flows.size(), Forwarder::kSluice, Io::kDirect);
}

}  // namespace sluice::bench
