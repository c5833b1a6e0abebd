#include "health/removal_cap.h"

#include <algorithm>
#include <numeric>

namespace sluice::health {

CapDecision apply_removal_cap(const std::vector<CapMember>& members,
                              uint32_t max_unhealthy_percent) {
  CapDecision d;
  d.remove.assign(members.size(), false);
  std::vector<size_t> unhealthy;
  uint64_t active = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    if (!members[i].active) continue;
    ++active;
    if (members[i].health == Health::kUnhealthy) unhealthy.push_back(i);
  }
  const uint32_t pct = std::min<uint32_t>(max_unhealthy_percent, 100);
  d.allowed = static_cast<uint32_t>(active * pct / 100);
  d.unhealthy = static_cast<uint32_t>(unhealthy.size());
  // Deterministic: the same verdicts give the same removals on every host.
  std::sort(unhealthy.begin(), unhealthy.end(), [&](size_t a, size_t b) {
    if (members[a].unhealthy_since != members[b].unhealthy_since) {
      return members[a].unhealthy_since < members[b].unhealthy_since;
    }
    return members[a].name < members[b].name;
  });
  for (size_t k = 0; k < unhealthy.size(); ++k) {
    if (k < d.allowed) {
      d.remove[unhealthy[k]] = true;
    } else {
      ++d.held;
    }
  }
  return d;
}

}  // namespace sluice::health
