// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4), with weights as
// relative frequency of turns.
//
// A pure function of (backend names, weights, table size): every Sluice host
// builds the same lookup table from the same configuration, whatever order
// the backends are listed in. Built off the hot path (control plane, the
// dataplane's main lcore, tools); any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr uint32_t kMaglevDefaultTableSize = 65537;
inline constexpr uint32_t kMaglevMinTableSize = 7;
// 2^24 - 3, the largest prime below 2^24: 64 MiB of table at 4 bytes a slot.
inline constexpr uint32_t kMaglevMaxTableSize = 16777213;
// Slots hold this when no backend may take new flows.
inline constexpr uint32_t kMaglevNoBackend = 0;
// Largest weight a backend may have: a ratio of a million is beyond any real
// use, and the bound keeps every product in the fill far from overflow.
inline constexpr uint32_t kMaglevMaxWeight = 1000000;

struct MaglevBackend {
  std::string_view name;  // stable identity; drives the permutation
  uint32_t weight = 1;    // relative share of new flows; 0 = none
  uint32_t id = 0;        // what the table stores for this backend; never 0
};

// Permutation parameters of one backend (section 3.4): the backend's
// preference list is offset, offset+skip, offset+2*skip, ... modulo M.
struct MaglevPermutation {
  uint32_t offset;
  uint32_t skip;
};

bool is_prime(uint32_t n);

// The slot of a flow in a table of `table_size` slots: Lemire's
// multiply-shift reduction of the hash's upper 32 bits, no division. The
// one rule every host, the workers and flow explain use.
inline uint32_t maglev_slot(uint64_t hash, uint32_t table_size) {
  return static_cast<uint32_t>(((hash >> 32) * table_size) >> 32);
}

// Empty if `table_size` is usable, else a message that names the value.
std::string validate_maglev_table_size(uint64_t table_size);

// offset = h1(name) mod M, skip = h2(name) mod (M-1) + 1, with h1 and h2 two
// differently seeded hash_bytes() of the name.
MaglevPermutation maglev_permutation(std::string_view name, uint32_t table_size);

// Fills a table of `table_size` slots from explicit permutations, in the
// order given: entry i takes turns with weights[i] and writes ids[i]. This is
// the algorithm of section 3.4 (pseudocode 1) generalised to weights; exposed
// so that tests can check it against the paper's worked example.
std::vector<uint32_t> maglev_fill(std::span<const MaglevPermutation> perms,
                                  std::span<const uint32_t> weights,
                                  std::span<const uint32_t> ids,
                                  uint32_t table_size);

// Builds the table for `backends`. Backends are ordered by name first, so the
// result does not depend on input order. Returns an empty string on success;
// otherwise a message naming the offending field and value (table size not a
// prime in range, duplicate or empty name, id 0, more backends than slots),
// and `out` is left untouched. If every weight is 0 the table is all
// kMaglevNoBackend.
std::string maglev_build(std::span<const MaglevBackend> backends, uint32_t table_size,
                         std::vector<uint32_t>& out);

}  // namespace sluice
