// The Internet checksum (RFC 1071) and its incremental update (RFC 1624),
// without DPDK, for tools and tests that build or check packets. Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice {

// One's-complement sum of `len` bytes read as big-endian 16-bit words,
// added to `sum` (not folded).
inline uint32_t checksum_partial(const void* data, size_t len, uint32_t sum = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t acc = sum;
  for (; len >= 2; p += 2, len -= 2) acc += (uint32_t{p[0]} << 8) | p[1];
  if (len) acc += uint32_t{p[0]} << 8;
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return static_cast<uint32_t>(acc);
}

// Folds and complements; the result is in host order: store it with
// host_to_be16().
inline uint16_t checksum_finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xFFFF);
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), all 16-bit values in host order.
inline uint16_t checksum_update16(uint16_t old_checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~old_checksum);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return checksum_finish(sum);
}

}  // namespace sluice
