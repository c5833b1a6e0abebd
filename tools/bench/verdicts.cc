#include "tools/bench/verdicts.h"

#include "dataplane/encap.h"

namespace sluice::bench {

namespace {

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
  for (size_t i = 0; i < kCounterCount; ++i) {
    const uint64_t want = primary * a[i] + r.alt_packets * b[i];
    const uint64_t got = after[i] - before[i];
    if (deltas != nullptr) (*deltas)[i] += got;
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
