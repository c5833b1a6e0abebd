#include "tools/bench/verdicts.h"

#include <optional>
#include <vector>

#include "dataplane/encap.h"

namespace sluice::bench {

namespace {

// Counters whose per-packet outcome a path cannot predict (under a flood a
// SYN is entered, refused or capped by what its bucket holds at that
// moment) are checked as sums over the pass instead: a signed sum of
// counters must equal (or stay at most) what the packets' paths say. A
// counter in a rule that either path uses leaves the exact check; a path
// that does not use the rule adds its exact per-packet changes to the sum,
// so nothing escapes both checks.
struct SumTerm {
  Counter counter;
  int64_t sign;
};

struct SumRule {
  const char* what;
  std::vector<SumTerm> terms;
  bool at_most;  // the sum may fall short of the want (an upper bound)
};

const std::vector<SumRule>& sum_rules() {
  static const std::vector<SumRule> rules = {
      // An established flow's packet either finds its entry or misses it.
      {"found or missed",
       {{Counter::conn_hits, 1}, {Counter::conn_misses_non_syn, 1}},
       false},
      // Every SYN, and every missed ACK, ends in exactly one insert outcome.
      {"insert outcomes",
       {{Counter::conn_inserts, 1},
        {Counter::conn_insert_failed, 1},
        {Counter::conn_insert_capped, 1},
        {Counter::conn_misses_non_syn, -1}},
       false},
      // What an insert took the place of is counted within the inserts.
      {"replacements within inserts",
       {{Counter::conn_expired_reused, 1},
        {Counter::conn_replaced_half_open, 1},
        {Counter::conn_replaced_closing, 1},
        {Counter::conn_replaced_lru, 1},
        {Counter::conn_inserts, -1}},
       true},
      // Never an established entry for a SYN: only an established flow's
      // own insert may take the least recently used established entry.
      {"no established entry given to a SYN",
       {{Counter::conn_replaced_lru, 1}, {Counter::conn_misses_non_syn, -1}},
       true},
  };
  return rules;
}

// What one packet taking `path` adds to rule `r`'s sum, if the path is
// checked by that rule.
std::optional<int64_t> rule_want(Path path, size_t r) {
  switch (path) {
    case Path::kFloodSyn: return r == 1 ? 1 : 0;
    case Path::kFloodAck: return r == 0 ? 1 : 0;
    default: return std::nullopt;
  }
}

// What one packet of `tmpl` taking `path` adds to each counter.
CounterBlock per_packet(Path path, const FrameTemplate& tmpl, const World& world) {
  CounterBlock c{};
  if (path == Path::kFloor) return c;
  const auto add = [&c](Counter k, uint64_t n = 1) { c[static_cast<size_t>(k)] += n; };
  add(Counter::rx_packets);
  add(Counter::rx_bytes, tmpl.len);
  if (path_forwards(path)) {
    add(Counter::fwd_bytes, tmpl.l2_len + tmpl.l3_len +
                                dp::encap_overhead(world.backend_family(), world.spec().encap));
  }
  switch (path) {
    case Path::kHit:
      add(Counter::fwd_packets);
      add(Counter::conn_hits);
      break;
    case Path::kNewInsert:
      add(Counter::fwd_packets);
      add(Counter::conn_misses);
      add(Counter::new_flows);
      add(Counter::conn_inserts);
      break;
    case Path::kNewInsertFails:
      add(Counter::fwd_packets);
      add(Counter::conn_misses);
      add(Counter::new_flows);
      add(Counter::conn_insert_failed);
      break;
    case Path::kNotForUs: add(Counter::not_for_us); break;
    case Path::kIcmpHit:
      add(Counter::fwd_icmp_errors);
      add(Counter::conn_hits);
      break;
    case Path::kMidFlowMiss:
      add(Counter::fwd_packets);
      add(Counter::conn_misses_non_syn);
      add(Counter::conn_inserts);
      break;
    // The rest is sum_rules()'.
    case Path::kFloodSyn:
      add(Counter::fwd_packets);
      add(Counter::conn_misses);
      add(Counter::new_flows);
      break;
    case Path::kFloodAck: add(Counter::fwd_packets); break;
    case Path::kFloor: break;
  }
  return c;
}

std::string n(uint64_t v) { return std::to_string(v); }

}  // namespace

CounterBlock read_counters(const dp::WorkerContext& ctx) {
  CounterBlock c{};
  for (size_t i = 0; i < kCounterCount; ++i) c[i] = ctx.counters().value[i];
  return c;
}

std::map<std::string, uint64_t> named_counters(const CounterBlock& block) {
  std::map<std::string, uint64_t> out;
  for (size_t i = 0; i < kCounterCount; ++i) {
    if (block[i] != 0) out[kCounterInfo[i].name] = block[i];
  }
  return out;
}

PassResult checked_pass(Engine& engine, World& world, Traffic& t, uint64_t packets, Forwarder f,
                        Io io, CounterBlock* deltas) {
  const CounterBlock before = read_counters(world.ctx());
  const PassResult r = engine.run(world, t, packets, f, io);
  const CounterBlock after = read_counters(world.ctx());

  const uint64_t primary = r.packets - r.alt_packets;
  const Path pp = f == Forwarder::kFloor ? Path::kFloor : t.primary_path;
  const Path ap = f == Forwarder::kFloor ? Path::kFloor : t.alt_path;
  const CounterBlock a = per_packet(pp, t.primary, world);
  const CounterBlock b = per_packet(ap, t.alt, world);
  std::string errors;
  std::vector<bool> summed(kCounterCount, false);
  const std::vector<SumRule>& rules = sum_rules();
  for (size_t k = 0; k < rules.size(); ++k) {
    const std::optional<int64_t> wa = rule_want(pp, k), wb = rule_want(ap, k);
    if (!wa && !wb) continue;
    // A path outside the rule contributes its exact changes.
    const auto exact = [&rules, k](const CounterBlock& c) {
      int64_t v = 0;
      for (const SumTerm& term : rules[k].terms) {
        v += term.sign * static_cast<int64_t>(c[static_cast<size_t>(term.counter)]);
      }
      return v;
    };
    const int64_t want = static_cast<int64_t>(primary) * (wa ? *wa : exact(a)) +
                         static_cast<int64_t>(r.alt_packets) * (wb ? *wb : exact(b));
    int64_t got = 0;
    std::string terms;
    for (const SumTerm& term : rules[k].terms) {
      const size_t i = static_cast<size_t>(term.counter);
      summed[i] = true;
      got += term.sign * static_cast<int64_t>(after[i] - before[i]);
      terms += term.sign < 0 ? " - " : terms.empty() ? "" : " + ";
      terms += kCounterInfo[i].name;
    }
    if (rules[k].at_most ? got > want : got != want) {
      errors += std::string(" ") + rules[k].what + ": " + terms + " = " + std::to_string(got) +
                (rules[k].at_most ? ", at most " : ", expected ") + std::to_string(want) + ";";
    }
  }
  for (size_t i = 0; i < kCounterCount; ++i) {
    const uint64_t want = primary * a[i] + r.alt_packets * b[i];
    const uint64_t got = after[i] - before[i];
    if (deltas != nullptr) (*deltas)[i] += got;
    if (summed[i]) continue;
    if (got != want) {
      errors += std::string(" ") + kCounterInfo[i].name + " moved by " + n(got) + ", expected " +
                n(want) + ";";
    }
  }
  const uint64_t fwd_want =
      (path_forwards(pp) || pp == Path::kFloor ? primary : 0) +
      (path_forwards(ap) || ap == Path::kFloor ? r.alt_packets : 0);
  const uint64_t drop_want = r.packets - fwd_want;
  if (r.to_backend != fwd_want || r.dropped != drop_want || r.to_client != 0) {
    errors += " output lists held " + n(r.to_backend) + " to_backend / " + n(r.dropped) +
              " dropped / " + n(r.to_client) + " to_client, expected " + n(fwd_want) + " / " +
              n(drop_want) + " / 0;";
  }
  if (f == Forwarder::kFloor) {
    const uint64_t want_family = world.spec().family == 4 ? r.floor.ipv4 : r.floor.ipv6;
    if (r.floor.packets != r.packets || want_family != r.packets) {
      errors += " the floor counted " + n(r.floor.packets) + " packets, " + n(want_family) +
                " of the clients' family, expected " + n(r.packets) + ";";
    }
  }
  if (!errors.empty()) {
    throw VerdictError(n(r.packets) + " packets (" + n(primary) + " " + path_name(pp) + ", " +
                       n(r.alt_packets) + " " + path_name(ap) + "):" + errors);
  }
  return r;
}

}  // namespace sluice::bench
