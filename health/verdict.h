// A backend's health verdict from consecutive probe results (DESIGN.md
// section 5): `rise` passes in a row make it healthy, `fall` failures in a
// row unhealthy; it starts unknown (no verdict yet), and an unknown backend
// keeps its traffic, so a fresh control plane never black-holes a VIP.
// Plain data; one thread.
#pragma once

#include <cstdint>

namespace sluice::health {

enum class Health : uint8_t { kUnknown = 0, kHealthy = 1, kUnhealthy = 2 };

const char* health_name(Health h);

class Verdict {
 public:
  Verdict(uint32_t rise, uint32_t fall) : rise_(rise), fall_(fall) {}

  // Counts one probe result; true when it changed the state.
  bool record(bool pass);
  Health state() const { return state_; }
  // New thresholds take effect from the next result; the runs so far count.
  void set_thresholds(uint32_t rise, uint32_t fall) {
    rise_ = rise;
    fall_ = fall;
  }
  uint32_t passes() const { return passes_; }
  uint32_t failures() const { return failures_; }

 private:
  uint32_t rise_, fall_;
  uint32_t passes_ = 0, failures_ = 0;  // the current run of equal results
  Health state_ = Health::kUnknown;
};

}  // namespace sluice::health
