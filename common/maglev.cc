// Maglev lookup table construction; see maglev.h.
#include "common/maglev.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/hash.h"

namespace sluice {
namespace {

// Seeds of the two name hashes behind a permutation (h1 -> offset, h2 ->
// skip). Nothing-up-my-sleeve values: the first two 64-bit words of the
// SHA-512 initial hash value, i.e. the fractional parts of sqrt(2) and
// sqrt(3). They are part of the table format: every host must use the same
// ones, and changing either moves nearly every flow.
constexpr uint64_t kOffsetSeed = 0x6a09e667f3bcc908ull;
constexpr uint64_t kSkipSeed = 0xbb67ae8584caa73bull;

// (a * b) mod n for n < 2^32: the product fits in 64 bits.
uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t n) { return a * b % n; }

uint64_t pow_mod(uint64_t base, uint64_t exp, uint64_t n) {
  uint64_t result = 1;
  base %= n;
  while (exp != 0) {
    if (exp & 1) result = mul_mod(result, base, n);
    base = mul_mod(base, base, n);
    exp >>= 1;
  }
  return result;
}

// One Miller-Rabin round: false if `a` proves odd n > 2 composite.
bool miller_rabin_round(uint64_t n, uint64_t d, unsigned r, uint64_t a) {
  uint64_t x = pow_mod(a, d, n);
  if (x == 1 || x == n - 1) return true;
  for (unsigned i = 1; i < r; ++i) {
    x = mul_mod(x, x, n);
    if (x == n - 1) return true;
  }
  return false;
}

// Inverse of a modulo m (extended Euclid), or 0 if gcd(a, m) != 1.
uint32_t inverse_mod(uint32_t a, uint32_t m) {
  int64_t t = 0, new_t = 1;
  int64_t r = m, new_r = a % m;
  while (new_r != 0) {
    const int64_t q = r / new_r;
    t -= q * new_t;
    std::swap(t, new_t);
    r -= q * new_r;
    std::swap(r, new_r);
  }
  if (r != 1) return 0;
  return static_cast<uint32_t>(t < 0 ? t + m : t);
}

// One entry of the fill: its walk through its permutation and its turn
// accounting. `pos` is the permutation's element number `next` (the paper's
// next[i]); `remaining` is M - next, the preferences not yet looked at.
struct FillEntry {
  static constexpr uint32_t kUnknown = UINT32_MAX;

  uint32_t pos;
  uint32_t skip;
  uint32_t remaining;
  uint32_t id;
  uint64_t weight;
  uint64_t target;                   // next turn: first round r with r * weight >= target
  uint32_t skip_inverse = kUnknown;  // skip^-1 mod M (0: none), for the endgame
};

// The table being filled, plus a bitmap of taken slots: walks test bits in
// the bitmap (M/8 bytes, 8 KiB at the default size, so it stays in L1)
// rather than load slots of the table.
//
// A walk takes about M/F steps when F slots are free, and the last sqrt(M)
// or so slots would cost about half of all steps. For those the filler
// switches to an endgame with the same outcome at a cost of F per turn: it
// lists the free slots, and for each free slot q computes the number of
// steps the walk would need to reach it, d = (q - pos) * skip^-1 mod M; the
// walk would stop at the free slot with the smallest d.
class Filler {
 public:
  explicit Filler(uint32_t m)
      : m_(m), free_count_(m), table_(m, kMaglevNoBackend), taken_((m + 63) / 64, 0) {
    // Walk cost ~M/F steps, endgame cost ~F (dearer) steps: switch when F
    // drops to about sqrt(M)/2, 128 at the default size (measured: the
    // build time is flat within a factor of 4 either side).
    uint32_t r = 1;
    while (uint64_t{r} * r * 4 <= m) ++r;
    endgame_at_ = r;
  }

  // Gives `e` one turn: the first free slot on its preference list. False
  // if the list ran out first, which cannot happen for a valid permutation
  // (skip coprime with M) while a slot is free.
  [[gnu::always_inline]] bool take_turn(FillEntry& e) {
    if (free_count_ <= endgame_at_) [[unlikely]] {
      if (e.skip_inverse == FillEntry::kUnknown) e.skip_inverse = inverse_mod(e.skip, m_);
      // Without an inverse (skip not coprime with M: invalid input) walk.
      if (e.skip_inverse != 0) return endgame_turn(e);
    }
    // The walk runs in locals: through `e`, every step would be a store and
    // a reload.
    const uint32_t m = m_, skip = e.skip;
    const uint64_t* const taken = taken_.data();
    uint32_t pos = e.pos, remaining = e.remaining;
    while (remaining != 0) {
      const uint32_t p = pos;
      pos += skip;  // pos, skip < m <= 2^24: no overflow
      if (pos >= m) pos -= m;
      --remaining;
      if (((taken[p >> 6] >> (p & 63)) & 1) == 0) {
        e.pos = pos;
        e.remaining = remaining;
        claim(e, p);
        return true;
      }
    }
    e.pos = pos;
    e.remaining = 0;
    return false;
  }

  std::vector<uint32_t> release() { return std::move(table_); }

 private:
  [[gnu::always_inline]] void claim(const FillEntry& e, uint32_t p) {
    taken_[p >> 6] |= uint64_t{1} << (p & 63);
    table_[p] = e.id;
    --free_count_;
    if (!free_.empty()) [[unlikely]] {
      // In the endgame: drop p from the free list (short by then).
      const auto it = std::find(free_.begin(), free_.end(), p);
      *it = free_.back();
      free_.pop_back();
    }
  }

  [[gnu::noinline]] bool endgame_turn(FillEntry& e) {
    if (free_.empty()) {
      // First endgame turn: list the free slots.
      free_.reserve(free_count_);
      for (uint32_t p = 0; p < m_; ++p) {
        if (((taken_[p >> 6] >> (p & 63)) & 1) == 0) free_.push_back(p);
      }
    }
    uint64_t best_d = UINT64_MAX;
    uint32_t best_q = 0;
    for (const uint32_t q : free_) {
      const uint64_t delta = q >= e.pos ? q - e.pos : q + m_ - e.pos;
      const uint64_t d = delta * e.skip_inverse % m_;  // < 2^48 before the modulo
      if (d < best_d) {
        best_d = d;
        best_q = q;
      }
    }
    if (best_d >= e.remaining) {  // the walk would run out first
      e.remaining = 0;
      return false;
    }
    e.pos = best_q + e.skip >= m_ ? best_q + e.skip - m_ : best_q + e.skip;
    e.remaining -= static_cast<uint32_t>(best_d) + 1;
    claim(e, best_q);
    return true;
  }

  uint32_t m_;
  uint32_t free_count_;
  uint32_t endgame_at_;
  std::vector<uint32_t> table_;
  std::vector<uint64_t> taken_;
  std::vector<uint32_t> free_;  // free slots, listed when the endgame starts
};

// Turn schedule for far-apart weights: a binary min-heap of (round of the
// entry's next turn, entry index), i.e. the order of the round-by-round
// scan. The entry on top is updated in place and sifted down, which costs
// O(1) when it stays on top (a heavy entry taking turn after turn).
struct Turn {
  uint64_t round;
  size_t index;
  bool operator<(const Turn& o) const {
    return round != o.round ? round < o.round : index < o.index;
  }
};

void sift_down(std::vector<Turn>& heap, size_t i) {
  const Turn x = heap[i];
  const size_t n = heap.size();
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap[c + 1] < heap[c]) ++c;
    if (!(heap[c] < x)) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = x;
}

// Round of the next turn of `e`: the least r with r * weight >= target.
uint64_t next_round(const FillEntry& e) { return (e.target + e.weight - 1) / e.weight; }

}  // namespace

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t p : {2u, 3u, 5u, 7u, 11u, 13u, 17u, 19u, 23u, 29u, 31u, 37u}) {
    if (n == p) return true;
    if (n % p == 0) return false;
  }
  if (n < 41 * 41) return true;  // no prime factor below 41
  uint64_t d = n - 1;
  unsigned r = 0;
  while ((d & 1) == 0) {
    d >>= 1;
    ++r;
  }
  // Bases 2, 7 and 61 decide primality for every n < 4,759,123,141
  // (Jaeschke 1993), which covers all of uint32_t.
  for (uint64_t a : {2u, 7u, 61u}) {
    if (!miller_rabin_round(n, d, r, a)) return false;
  }
  return true;
}

std::string validate_maglev_table_size(uint64_t table_size) {
  if (table_size < kMaglevMinTableSize || table_size > kMaglevMaxTableSize) {
    return "table_size " + std::to_string(table_size) + " is out of range [" +
           std::to_string(kMaglevMinTableSize) + ", " + std::to_string(kMaglevMaxTableSize) +
           "]";
  }
  if (!is_prime(static_cast<uint32_t>(table_size))) {
    return "table_size " + std::to_string(table_size) + " is not a prime";
  }
  return {};
}

MaglevPermutation maglev_permutation(std::string_view name, uint32_t table_size) {
  // A table of fewer than 2 slots has no valid skip; callers validate first.
  if (table_size < 2) return MaglevPermutation{0, 1};
  const uint64_t h1 = hash_bytes(name.data(), name.size(), kOffsetSeed);
  const uint64_t h2 = hash_bytes(name.data(), name.size(), kSkipSeed);
  return MaglevPermutation{static_cast<uint32_t>(h1 % table_size),
                           static_cast<uint32_t>(h2 % (table_size - 1) + 1)};
}

// Weighted pseudocode 1. All weights are measured in units of the largest
// one, W. Fill proceeds in rounds r = 1, 2, ...; within a round the entries
// go in the order given, and an entry takes a turn when r * weight >= target,
// after which target grows by W. target starts at W, so an entry's t-th turn
// (t = 1, 2, ...) falls in round ceil(t * W / weight): the heaviest entries
// take exactly one turn every round, and by the end of round R an entry has
// taken floor(R * weight / W) turns. With equal weights this is pseudocode 1
// exactly. Each turn claims one slot, so slot counts follow the weights to
// within one slot. Weight-0 entries never take a turn. All arithmetic is on
// integers: the table is bit-for-bit the same on every host.
//
// Two equivalent schedules produce that turn order. When the weights are
// close (every round gives most entries a turn) a plain scan of the entries
// each round is cheapest. When they are far apart (say one entry of weight
// 10^6 and thousands of weight 1) most rounds give turns to only a few
// entries, and scanning every entry every round would cost up to M * N; a
// min-heap ordered by (round of next turn, entry index) then visits only
// the entries whose turn it is.
std::vector<uint32_t> maglev_fill(std::span<const MaglevPermutation> perms,
                                  std::span<const uint32_t> weights,
                                  std::span<const uint32_t> ids, uint32_t table_size) {
  const uint32_t m = table_size;
  if (m == 0) return {};
  Filler filler(m);

  // Entries beyond the shortest span have no permutation, weight or id.
  const size_t n = std::min({perms.size(), weights.size(), ids.size()});
  std::vector<FillEntry> entries;
  uint64_t max_weight = 0;
  uint64_t sum_weight = 0;
  for (size_t i = 0; i < n; ++i) {
    if (weights[i] == 0) continue;
    entries.push_back(FillEntry{perms[i].offset % m, perms[i].skip % m, m, ids[i], weights[i], 0});
    max_weight = std::max<uint64_t>(max_weight, weights[i]);
    sum_weight += weights[i];
  }
  for (FillEntry& e : entries) e.target = max_weight;

  uint32_t filled = 0;
  if (entries.empty()) {
    // Nothing takes turns: the table stays all kMaglevNoBackend.
  } else if (static_cast<double>(entries.size()) * static_cast<double>(max_weight) <=
             4.0 * static_cast<double>(sum_weight)) {
    // Scan: on average at least a quarter of the entries take a turn each
    // round. The heaviest entry takes one every round, so rounds are empty
    // only after entries drop out (invalid permutations); empty rounds are
    // skipped. Before each round every entry's next turn is in it or later,
    // so round * weight <= target + weight < 2^57.
    for (uint64_t round = 1; filled < m && !entries.empty(); ++round) {
      bool any_turn = false, dropped = false;
      for (FillEntry& e : entries) {
        if (round * e.weight < e.target) continue;
        any_turn = true;
        e.target += max_weight;
        if (filler.take_turn(e)) {
          if (++filled == m) break;
        } else {
          e.weight = 0;
          dropped = true;
        }
      }
      if (dropped) std::erase_if(entries, [](const FillEntry& e) { return e.weight == 0; });
      if (!any_turn) {
        uint64_t next = UINT64_MAX;
        for (const FillEntry& e : entries) next = std::min(next, next_round(e));
        round = next - 1;
      }
    }
  } else {
    // Heap. Rounds fit in 64 bits: round <= (M + 1) * W / weight < 2^57.
    std::vector<Turn> heap;
    heap.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) heap.push_back(Turn{next_round(entries[i]), i});
    for (size_t i = heap.size() / 2; i-- > 0;) sift_down(heap, i);
    while (filled < m && !heap.empty()) {
      FillEntry& e = entries[heap[0].index];
      e.target += max_weight;
      if (filler.take_turn(e)) {
        ++filled;
        heap[0].round = next_round(e);  // a later round: weight <= W
      } else {
        heap[0] = heap.back();
        heap.pop_back();
        if (heap.empty()) break;
      }
      sift_down(heap, 0);
    }
  }

  return filler.release();
}

std::string maglev_build(std::span<const MaglevBackend> backends, uint32_t table_size,
                         std::vector<uint32_t>& out) {
  if (std::string err = validate_maglev_table_size(table_size); !err.empty()) return err;
  if (backends.size() > table_size) {
    return std::to_string(backends.size()) + " backends do not fit in table_size " +
           std::to_string(table_size);
  }
  for (size_t i = 0; i < backends.size(); ++i) {
    const MaglevBackend& b = backends[i];
    if (b.name.empty()) return "backend #" + std::to_string(i) + ": name must not be empty";
    if (b.id == kMaglevNoBackend) {
      return "backend '" + std::string(b.name) + "': id must not be " +
             std::to_string(kMaglevNoBackend);
    }
    if (b.weight > kMaglevMaxWeight) {
      return "backend '" + std::string(b.name) + "': weight " + std::to_string(b.weight) +
             " exceeds the maximum " + std::to_string(kMaglevMaxWeight);
    }
  }

  // Fill order is byte-wise name order (char_traits<char> compares as
  // unsigned char), whatever order the configuration lists backends in.
  std::vector<const MaglevBackend*> sorted;
  sorted.reserve(backends.size());
  for (const MaglevBackend& b : backends) sorted.push_back(&b);
  std::sort(sorted.begin(), sorted.end(),
            [](const MaglevBackend* a, const MaglevBackend* b) { return a->name < b->name; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->name == sorted[i - 1]->name) {
      return "duplicate backend name '" + std::string(sorted[i]->name) + "'";
    }
  }

  std::vector<MaglevPermutation> perms;
  std::vector<uint32_t> weights;
  std::vector<uint32_t> ids;
  perms.reserve(sorted.size());
  weights.reserve(sorted.size());
  ids.reserve(sorted.size());
  for (const MaglevBackend* b : sorted) {
    perms.push_back(maglev_permutation(b->name, table_size));
    weights.push_back(b->weight);
    ids.push_back(b->id);
  }
  out = maglev_fill(perms, weights, ids, table_size);
  return {};
}

}  // namespace sluice
