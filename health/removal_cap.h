// The removal cap (what Envoy calls the panic threshold; DESIGN.md section
// 5): health may take out of a VIP at most a share of its backends. Past
// it the remaining unhealthy backends stay in and the VIP is degraded: a
// doubtful signal (the prober's own network, a bad check) must not empty a
// pool. Pure function; any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "health/verdict.h"

namespace sluice::health {

struct CapMember {
  // Administratively active (takes new flows). Health never changes a
  // draining or disabled backend: administrative state wins, so only these
  // count toward the cap and only these are removed.
  bool active = true;
  Health health = Health::kUnknown;
  uint64_t unhealthy_since = 0;  // orders removals: the longest-failed go first
  std::string_view name;         // ties
};

struct CapDecision {
  std::vector<bool> remove;  // per member: taken out by health
  uint32_t unhealthy = 0;    // active members with an unhealthy verdict
  uint32_t allowed = 0;      // how many health may take out
  uint32_t held = 0;         // unhealthy members kept in because of the cap
  bool degraded() const { return held > 0; }
};

// At most floor(active * max_unhealthy_percent / 100) members are removed,
// where `active` counts the administratively active members; 100 lets
// health remove them all (then the VIP's no-backend behaviour applies).
CapDecision apply_removal_cap(const std::vector<CapMember>& members,
                              uint32_t max_unhealthy_percent);

}  // namespace sluice::health
