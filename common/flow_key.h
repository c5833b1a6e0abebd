// Building a FlowKey, written once: the worker's parser fills keys from
// packet bytes with these word stores, and flow explain, lb-bench and the
// tests build theirs with make_flow_key(), which uses the same stores, so a
// key built anywhere hashes the same.
//
// The key is written in whole 8-byte words, the units flow_hash and the VIP
// probe load: a wide load that spans several narrower stores still in the
// store buffer cannot be forwarded from them and waits for them to reach the
// cache (about a dozen cycles per load). The word layout is FlowKey's on a
// little-endian CPU. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/hash.h"

namespace sluice::flow_key {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "FlowKey words are assembled in little-endian order");

inline void store_word(uint8_t* dst, uint64_t w) { std::memcpy(dst, &w, 8); }
inline uint64_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
// Address of `family` at `a` (4 or 16 bytes) into key bytes `dst` (16 bytes).
inline void store_address(uint8_t* dst, uint8_t family, const uint8_t* a) {
  if (family == 4) {
    store_word(dst, load_u32(a));
    store_word(dst + 8, 0);
  } else {
    store_word(dst, load_u64(a));
    store_word(dst + 8, load_u64(a + 8));
  }
}
// Ports as they sit on the wire (source then destination, each big-endian,
// read as one 32-bit word), protocol, family and the zero pad: the key's
// last word.
inline void store_tail(FlowKey& key, uint32_t ports, uint8_t protocol, uint8_t family) {
  const uint64_t w = uint64_t{ports} | uint64_t{protocol} << 32 | uint64_t{family} << 40;
  store_word(reinterpret_cast<uint8_t*>(&key.src_port), w);
}

}  // namespace sluice::flow_key

namespace sluice {

// The client -> VIP key of a flow. Addresses are 16 bytes in FlowKey layout
// (IPv4 in the first 4); ports in host order.
inline FlowKey make_flow_key(uint8_t family, const uint8_t* client, uint16_t client_port,
                             const uint8_t* vip, uint16_t vip_port, uint8_t protocol) {
  FlowKey key;
  flow_key::store_address(key.src, family, client);
  flow_key::store_address(key.dst, family, vip);
  const uint8_t ports[4] = {static_cast<uint8_t>(client_port >> 8),
                            static_cast<uint8_t>(client_port),
                            static_cast<uint8_t>(vip_port >> 8), static_cast<uint8_t>(vip_port)};
  flow_key::store_tail(key, static_cast<uint32_t>(flow_key::load_u32(ports)), protocol, family);
  return key;
}

}  // namespace sluice
