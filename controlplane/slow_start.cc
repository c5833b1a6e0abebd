#include "controlplane/slow_start.h"

#include <algorithm>

namespace sluice::cp {

namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr uint32_t kFull = 10;

// In service: it takes new flows (the rule Maglev's table follows).
bool serves(const BackendConfig& be) { return maglev_turn_weight(be) != 0; }

}  // namespace

uint32_t slow_start_tenths(uint64_t elapsed_ns, uint32_t seconds) {
  if (seconds == 0) return kFull;
  const uint64_t total_ns = uint64_t{seconds} * kNsPerSecond;
  if (elapsed_ns >= total_ns) return kFull;
  // Nine steps after the first level: 1 + floor(9 * elapsed / total).
  return 1 + static_cast<uint32_t>(elapsed_ns * 9 / total_ns);
}

bool SlowStart::update(const TableConfig& effective, uint64_t now_ns) {
  bool changed = false;
  std::unordered_set<uint32_t> serving, vips;
  std::unordered_map<uint32_t, Ramp> ramps;
  for (const VipConfig& vip : effective.vips) {
    vips.insert(vip.id);
    const bool known = started_ && vips_.count(vip.id) != 0;
    for (const BackendConfig& be : vip.backends) {
      if (!serves(be)) continue;
      serving.insert(be.id);
      if (vip.slow_start_s == 0) continue;
      Ramp r;
      if (const auto it = ramps_.find(be.id); it != ramps_.end()) {
        r = it->second;
        r.seconds = vip.slow_start_s;
      } else if (known && serving_.count(be.id) == 0) {
        r = Ramp{now_ns, vip.slow_start_s, 0};
      } else {
        continue;
      }
      const uint32_t t = slow_start_tenths(now_ns - r.start_ns, r.seconds);
      changed = changed || t != r.tenths;
      r.tenths = t;
      if (t < kFull) ramps.emplace(be.id, r);
    }
  }
  // A ramp that ends otherwise (the backend left service, its VIP turned
  // slow start off) changes its weight as well.
  for (const auto& [id, r] : ramps_) {
    if (ramps.count(id) == 0 && r.tenths < kFull) changed = true;
  }
  started_ = true;
  vips_ = std::move(vips);
  serving_ = std::move(serving);
  ramps_ = std::move(ramps);
  return changed;
}

TableConfig SlowStart::apply(TableConfig effective) const {
  if (ramps_.empty()) return effective;
  for (VipConfig& vip : effective.vips) {
    bool ramping = false;
    uint32_t max_weight = 0;
    for (const BackendConfig& be : vip.backends) {
      ramping = ramping || ramps_.count(be.id) != 0;
      max_weight = std::max(max_weight, be.weight);
    }
    if (!ramping) continue;
    const bool scale = uint64_t{max_weight} * kFull <= kMaxBackendWeight;
    for (BackendConfig& be : vip.backends) {
      const uint32_t t = tenths(be.id);
      if (scale) {
        be.weight *= t;
      } else if (t < kFull) {
        be.weight = std::max<uint32_t>(1, static_cast<uint32_t>(uint64_t{be.weight} * t / kFull));
      }
    }
  }
  return effective;
}

uint32_t SlowStart::tenths(uint32_t backend_id) const {
  const auto it = ramps_.find(backend_id);
  return it == ramps_.end() ? kFull : it->second.tenths;
}

uint64_t SlowStart::next_change_ns() const {
  uint64_t next = 0;
  for (const auto& [id, r] : ramps_) {
    // The start of level tenths + 1: elapsed * 9 / total >= tenths.
    const uint64_t total_ns = uint64_t{r.seconds} * kNsPerSecond;
    const uint64_t at = r.start_ns + (uint64_t{r.tenths} * total_ns + 8) / 9;
    if (next == 0 || at < next) next = at;
  }
  return next;
}

}  // namespace sluice::cp
