// Flow hashing and name hashing shared by every Sluice process.
//
// Every host and every process must compute the same hash for the same flow
// (that is what keeps a flow on one backend when ECMP moves it between
// Sluice hosts), so this is plain integer arithmetic on a fixed, zero-padded
// key layout, read as little-endian words whatever the CPU. The mixing step
// is the 64x64->128 "multiply and fold" used by wyhash: three multiplies per
// 40-byte key per lane. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice {

// A flow as the dataplane sees it from the client side. IPv4 addresses sit
// in the first 4 bytes of src/dst with the remaining 12 bytes zero; ports are
// in network byte order (0 for protocols without ports).
struct FlowKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t protocol;
  uint8_t family;  // 4 or 6
  uint16_t zero;   // always 0; keeps the key 40 bytes with no padding bytes
};
static_assert(sizeof(FlowKey) == 40);

// Two independent 64-bit lanes: `hash` picks the Maglev slot, the connection
// table bucket and the GUE source port; `fingerprint` identifies the flow
// inside its bucket, so two different flows share an entry only if both
// 64-bit lanes collide.
struct FlowHash {
  uint64_t hash;
  uint64_t fingerprint;
};

namespace hash_detail {

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint64_t mum(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// Odd constants with balanced bits (wyhash's secrets).
inline constexpr uint64_t kSecret[6] = {
    0xa0761d6478bd642full, 0xe7037ed1a0b428dbull, 0x8ebc6af09c88c6e3ull,
    0x589965cc75374cc3ull, 0x1d8e4e27c47d124full, 0x9e3779b97f4a7c15ull,
};

inline uint64_t mix_key40(const uint8_t* k, uint64_t seed) {
  const uint64_t w0 = load_le64(k), w1 = load_le64(k + 8), w2 = load_le64(k + 16),
                 w3 = load_le64(k + 24), w4 = load_le64(k + 32);
  uint64_t h = mum(w0 ^ kSecret[0] ^ seed, w1 ^ kSecret[1]);
  h ^= mum(w2 ^ kSecret[2], w3 ^ kSecret[3] ^ seed);
  h ^= mum(w4 ^ kSecret[4], seed ^ kSecret[5]);
  return mum(h ^ kSecret[0], h ^ kSecret[5] ^ seed);
}

}  // namespace hash_detail

// Seeded flow hash. Identical for identical (key, seed) on every host.
inline FlowHash flow_hash(const FlowKey& key, uint64_t seed) {
  const auto* k = reinterpret_cast<const uint8_t*>(&key);
  // The second lane uses an unrelated seed so the lanes are independent.
  return FlowHash{hash_detail::mix_key40(k, seed),
                  hash_detail::mix_key40(k, seed ^ 0x5851f42d4c957f2dull) | 1};
}

// Seeded hash of arbitrary bytes (backend names for Maglev permutations).
inline uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) {
  using namespace hash_detail;
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = seed ^ mum(len ^ kSecret[0], kSecret[1]);
  while (len >= 16) {
    h = mum(load_le64(p) ^ kSecret[2] ^ h, load_le64(p + 8) ^ kSecret[3]);
    p += 16;
    len -= 16;
  }
  uint8_t tail[16] = {};
  std::memcpy(tail, p, len);
  h = mum(load_le64(tail) ^ kSecret[4] ^ h, load_le64(tail + 8) ^ kSecret[5] ^ len);
  return mum(h ^ kSecret[0], h ^ kSecret[1]);
}

}  // namespace sluice
