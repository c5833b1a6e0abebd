#include "tools/bench/traffic.h"

namespace sluice::bench {

const char* path_name(Path p) {
  switch (p) {
    case Path::kHit: return "hit";
    case Path::kNewInsert: return "new-insert";
    case Path::kNewInsertFails: return "new-insert-fails";
    case Path::kNotForUs: return "not-for-us";
    case Path::kIcmpHit: return "icmp-hit";
    case Path::kFloor: return "floor";
    case Path::kMidFlowMiss: return "mid-flow-miss";
    case Path::kFloodSyn: return "flood-syn";
    case Path::kFloodAck: return "flood-ack";
  }
  return "unknown";
}

bool path_forwards(Path p) {
  return p == Path::kHit || p == Path::kNewInsert || p == Path::kNewInsertFails ||
         p == Path::kIcmpHit || p == Path::kMidFlowMiss || p == Path::kFloodSyn ||
         p == Path::kFloodAck;
}

}  // namespace sluice::bench
