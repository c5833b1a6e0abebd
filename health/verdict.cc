#include "health/verdict.h"

namespace sluice::health {

const char* health_name(Health h) {
  switch (h) {
    case Health::kUnknown: return "unknown";
    case Health::kHealthy: return "healthy";
    case Health::kUnhealthy: return "unhealthy";
  }
  return "unknown";
}

bool Verdict::record(bool pass) {
  // Only a run of equal results moves the state (hysteresis): one pass
  // among failures resets the failure run, and the other way round.
  if (pass) {
    failures_ = 0;
    if (passes_ < UINT32_MAX) ++passes_;
    if (state_ != Health::kHealthy && passes_ >= rise_) {
      state_ = Health::kHealthy;
      return true;
    }
  } else {
    passes_ = 0;
    if (failures_ < UINT32_MAX) ++failures_;
    if (state_ != Health::kUnhealthy && failures_ >= fall_) {
      state_ = Health::kUnhealthy;
      return true;
    }
  }
  return false;
}

}  // namespace sluice::health
