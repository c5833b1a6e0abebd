// What a measured pass sends: the sequence of client flows (cycled), the
// frame each gets, and the path through the dataplane every packet must
// take. The path is the claim the verdict check holds each pass to.
// Main lcore; plain data.
#pragma once

#include <cstdint>
#include <vector>

#include "tools/bench/addresses.h"
#include "tools/bench/frames.h"

namespace sluice::bench {

enum class Path : uint8_t {
  kHit,             // connection table hit, encapsulated to the backend
  kNewInsert,       // miss, Maglev, inserted, encapsulated
  kNewInsertFails,  // miss, Maglev, bucket full of live flows, encapsulated
  kNotForUs,        // no VIP: dropped as not_for_us
  kIcmpHit,         // ICMP error quoting a flow in the table, to its backend
  kFloor,           // the floor forwarder: MACs swapped, nothing else
  // A TCP segment without SYN of a flow the table does not hold: the second
  // chance (the VIP's existing-flows table), entered as established.
  kMidFlowMiss,
  // Under a SYN flood (flood scenario), whose outcomes per packet depend on
  // what the bucket holds at that moment; verdicts.cc checks them as sums.
  kFloodSyn,  // a spoofed SYN of a new flow: entered, refused or capped
  kFloodAck,  // an established flow's ACK: found, or missed and entered again
};

const char* path_name(Path p);
bool path_forwards(Path p);  // through process_burst to a backend

struct Traffic {
  static constexpr uint32_t kAlt = 1u << 31;  // flag in `sequence`: use `alt`

  FrameTemplate primary;
  FrameTemplate alt;
  Path primary_path = Path::kHit;
  Path alt_path = Path::kHit;
  std::vector<uint32_t> sequence;  // flow numbers, possibly | kAlt
  bool restart_each_pass = false;  // every pass starts at sequence[0]
  bool fixed_dst = false;          // send to `dst`, not the flow's VIP
  Endpoint dst;
  uint64_t pos = 0;                // next sequence index
};

}  // namespace sluice::bench
