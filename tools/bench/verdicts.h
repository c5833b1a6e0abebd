// The verdict check: after every pass, each LcoreCounters delta must equal
// what the traffic's paths say (every counter, bytes included; a counter a
// path does not name must not move), and the BurstOutput lists must hold
// exactly the forwarded and the dropped packets. The flood's paths, whose
// outcome per packet depends on what each bucket holds at that moment,
// have their outcome counters checked as sums over the pass instead (for
// instance conn_inserts + conn_insert_failed + conn_insert_capped equal to
// the SYNs sent); never left unchecked. Main lcore.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "common/counters.h"
#include "tools/bench/engine.h"

namespace sluice::bench {

using CounterBlock = std::array<uint64_t, kCounterCount>;

CounterBlock read_counters(const dp::WorkerContext& ctx);

// Runs one pass and checks it; throws VerdictError naming every counter
// that is off. `deltas` (if not null) accumulates the counter changes.
PassResult checked_pass(Engine& engine, World& world, Traffic& t, uint64_t packets, Forwarder f,
                        Io io, CounterBlock* deltas = nullptr);

// Non-zero entries of `block`, by counter name.
std::map<std::string, uint64_t> named_counters(const CounterBlock& block);

}  // namespace sluice::bench
