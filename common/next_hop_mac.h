// A next hop's MAC packed into one 64-bit word, so that the dataplane's main
// lcore can change it and the workers read it with one relaxed load per
// burst (dataplane/neighbour_watch.h), and the control plane can show it
// from the segment (NextHopStatus in common/control_segment.h). Any thread.
//
// Bits 47..0 are the six bytes, first byte highest; bit 48 says the MAC is
// known. 0 means "no neighbour": packets for that family are dropped and
// counted (drop_no_neighbour).
#pragma once

#include <cstdint>

namespace sluice {

inline constexpr uint64_t kPackedMacKnown = uint64_t{1} << 48;

constexpr uint64_t pack_mac(const uint8_t mac[6]) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | mac[i];
  return v | kPackedMacKnown;
}

constexpr bool packed_mac_known(uint64_t packed) { return (packed & kPackedMacKnown) != 0; }

inline void unpack_mac(uint64_t packed, uint8_t out[6]) {
  for (int i = 5; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(packed);
    packed >>= 8;
  }
}

}  // namespace sluice
