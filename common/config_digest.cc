#include "common/config_digest.h"

#include <cstring>

#include "common/hash.h"

namespace sluice {

namespace {

// Distinct seeds keep a VIP's fields and a backend's fields from ever
// hashing alike.
constexpr uint64_t kVipSeed = 0x736c75696365'7669ull;
constexpr uint64_t kBackendSeed = 0x736c75696365'6265ull;

uint64_t backend_digest(const BackendConfig& be) {
  uint8_t fixed[28] = {};
  std::memcpy(fixed, &be.id, 4);
  std::memcpy(fixed + 4, &be.weight, 4);
  fixed[8] = static_cast<uint8_t>(be.state);
  fixed[9] = be.address.family;
  fixed[10] = be.backup ? 1 : 0;  // was padding (0): a primary digests as before
  std::memcpy(fixed + 12, be.address.bytes, 16);
  return hash_bytes(be.name.data(), be.name.size(), hash_bytes(fixed, sizeof fixed, kBackendSeed));
}

}  // namespace

uint64_t vip_digest(const VipConfig& vip) {
  uint8_t fixed[32] = {};
  std::memcpy(fixed, &vip.id, 4);
  std::memcpy(fixed + 4, &vip.table_size, 4);
  std::memcpy(fixed + 8, &vip.port, 2);
  fixed[10] = vip.protocol;
  fixed[11] = static_cast<uint8_t>(vip.encap);
  fixed[12] = vip.address.family;
  std::memcpy(fixed + 16, vip.address.bytes, 16);
  uint64_t backends = 0;
  for (const BackendConfig& be : vip.backends) backends += backend_digest(be);
  uint64_t h = hash_bytes(fixed, sizeof fixed, kVipSeed);
  // The scheduling policy only when it is not the default, so that a VIP
  // that keeps the defaults digests as it did before the policy existed.
  if (vip.scheduler != Scheduler::kMaglev || vip.no_backend != NoBackend::kDrop ||
      vip.slow_start_s != 0) {
    uint8_t policy[8] = {};
    policy[0] = static_cast<uint8_t>(vip.scheduler);
    policy[1] = static_cast<uint8_t>(vip.no_backend);
    std::memcpy(policy + 4, &vip.slow_start_s, 4);
    h = hash_bytes(policy, sizeof policy, h);
  }
  return hash_detail::mum(h ^ hash_detail::kSecret[2], backends ^ hash_detail::kSecret[3]);
}

uint64_t config_digest(const TableConfig& config) {
  uint64_t sum = 0;
  for (const VipConfig& vip : config.vips) sum += vip_digest(vip);
  return sum;
}

}  // namespace sluice
