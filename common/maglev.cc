// Maglev lookup table construction; see maglev.h.
#include "common/maglev.h"

#include <algorithm>
#include <cstddef>
#include <string>
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

// Largest weight maglev_build accepts. Bounds the number of fill rounds
// (each round gives the heaviest backend one turn) and keeps every product
// in the fill far from 64-bit overflow.
constexpr uint32_t kMaxWeight = 1000000;

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
  uint32_t pos;
  uint32_t skip;
  uint32_t remaining;
  uint32_t id;
  uint64_t weight;
  uint64_t target;  // the next turn comes in the first round r with r * weight >= target
  uint32_t skip_inverse = kUnknown;  // skip^-1 mod M, for the endgame
  static constexpr uint32_t kUnknown = UINT32_MAX;
};

// The table being filled, plus a bitmap of taken slots: the walks test
// bits in the bitmap (M/8 bytes, 8 KiB for the default size, so it stays
// in L1) instead of loading slots from the table.
//
// A walk costs about M/F tests when F slots are free, so filling the table
// by walks alone costs about M ln M tests, half of them in the last
// sqrt(M) slots. For those the filler switches to an endgame that gives the
// same answer at a cost of F per turn: it keeps the list of free slots, and
// for each free slot q computes how many steps the walk would take to reach
// it, d = (q - pos) * skip^-1 mod M; the walk would stop at the free slot
// with the smallest d.
class Filler {
 public:
  explicit Filler(uint32_t m)
      : m_(m), free_count_(m), table_(m, kMaglevNoBackend), taken_((m + 63) / 64, 0) {
    // Walk cost ~M/F against endgame cost ~F (with a dearer step): switch
    // when F drops to about sqrt(M)/2.
    uint32_t r = 1;
    while (uint64_t{r} * r * 4 <= m) ++r;
    endgame_at_ = r;
  }

  // Gives `e` one turn: the first free slot on its preference list. False
  // if the list ran out first, which cannot happen for a valid permutation
  // (skip coprime with M) while a slot is free.
  bool take_turn(FillEntry& e) {
    if (free_count_ <= endgame_at_) {
      if (e.skip_inverse == FillEntry::kUnknown) e.skip_inverse = inverse_mod(e.skip, m_);
      // Without an inverse (skip not coprime with M: invalid input) walk.
      if (e.skip_inverse != 0) return endgame_turn(e);
    }
    // The walk, in locals (through `e` every step would be a store and a
    // reload), a batch of preferences at a time: the bit tests in a batch
    // are independent, and the branch that ends the walk is taken once per
    // batch with a free slot rather than once per preference, which matters
    // while the table is about half full and a per-preference branch would
    // be a coin toss for the branch predictor.
    constexpr uint32_t kBatch = 8;
    const uint32_t m = m_, skip = e.skip;
    const uint64_t* const taken = taken_.data();
    uint32_t pos = e.pos, remaining = e.remaining;
    while (remaining != 0) {
      const uint32_t k = remaining < kBatch ? remaining : kBatch;
      uint32_t batch[kBatch];
      uint32_t free_mask = 0;
      for (uint32_t j = 0; j < kBatch; ++j) {
        batch[j] = pos;
        free_mask |= static_cast<uint32_t>(((taken[pos >> 6] >> (pos & 63)) & 1) ^ 1) << j;
        pos += skip;  // pos, skip < m <= 2^24: no overflow
        if (pos >= m) pos -= m;
      }
      free_mask &= (1u << k) - 1;  // only preferences not yet looked at
      if (free_mask != 0) {
        const auto j = static_cast<uint32_t>(__builtin_ctz(free_mask));
        const uint32_t p = batch[j];
        e.pos = p + skip >= m ? p + skip - m : p + skip;
        e.remaining = remaining - (j + 1);
        claim(e, p);
        return true;
      }
      remaining -= k;
    }
    e.pos = pos;
    e.remaining = 0;
    return false;
  }

  std::vector<uint32_t> release() { return std::move(table_); }

 private:
  // pos, skip < m <= 2^24: the sum cannot overflow.
  uint32_t step(uint32_t pos, uint32_t skip) const {
    pos += skip;
    return pos >= m_ ? pos - m_ : pos;
  }
  bool is_taken(uint32_t p) const { return (taken_[p >> 6] >> (p & 63)) & 1; }

  void claim(const FillEntry& e, uint32_t p) {
    taken_[p >> 6] |= uint64_t{1} << (p & 63);
    table_[p] = e.id;
    --free_count_;
    if (!free_.empty()) {
      // Endgame started: drop p from the free list (short by then).
      const auto it = std::find(free_.begin(), free_.end(), p);
      *it = free_.back();
      free_.pop_back();
    }
  }

  bool endgame_turn(FillEntry& e) {
    if (free_.empty()) {
      // First endgame turn: list the free slots.
      free_.reserve(free_count_);
      for (uint32_t p = 0; p < m_; ++p) {
        if (!is_taken(p)) free_.push_back(p);
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
    e.pos = step(best_q, e.skip);
    e.remaining -= static_cast<uint32_t>(best_d) + 1;
    claim(e, best_q);
    return true;
  }

  uint32_t m_;
  uint32_t free_count_;
  uint32_t endgame_at_;
  std::vector<uint32_t> table_;
  std::vector<uint64_t> taken_;
  std::vector<uint32_t> free_;  // free slots, listed once the endgame starts
};

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
    // round. The heaviest entry takes one every round, so no round is empty
    // unless entries drop out (only with invalid permutations), and then
    // the loop ends once no entry is left.
    for (uint64_t round = 1; filled < m && !entries.empty(); ++round) {
      bool dropped = false;
      for (FillEntry& e : entries) {
        if (round * e.weight < e.target) continue;
        e.target += max_weight;
        if (filler.take_turn(e)) {
          if (++filled == m) break;
        } else {
          e.weight = 0;
          dropped = true;
        }
      }
      if (dropped) {
        std::erase_if(entries, [](const FillEntry& e) { return e.weight == 0; });
        // Skip the rounds in which nobody left has a turn.
        uint64_t next_round = UINT64_MAX;
        for (const FillEntry& e : entries) {
          next_round = std::min(next_round, (e.target + e.weight - 1) / e.weight);
        }
        if (next_round != UINT64_MAX && next_round > round + 1) round = next_round - 1;
      }
    }
  } else {
    // Heap of (round of the entry's next turn, entry index). Both fit in
    // 64 bits: round <= (M + 1) * W / weight < 2^25 * 2^32.
    struct Turn {
      uint64_t round;
      size_t index;
    };
    const auto later = [](const Turn& a, const Turn& b) {
      return a.round != b.round ? a.round > b.round : a.index > b.index;
    };
    std::vector<Turn> heap;
    heap.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      const FillEntry& e = entries[i];
      heap.push_back(Turn{(e.target + e.weight - 1) / e.weight, i});
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (filled < m && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      FillEntry& e = entries[heap.back().index];
      e.target += max_weight;
      if (filler.take_turn(e)) {
        ++filled;
        // Never earlier than the next round: weight <= W.
        heap.back().round = (e.target + e.weight - 1) / e.weight;
        std::push_heap(heap.begin(), heap.end(), later);
      } else {
        heap.pop_back();
      }
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
    if (b.weight > kMaxWeight) {
      return "backend '" + std::string(b.name) + "': weight " + std::to_string(b.weight) +
             " exceeds the maximum " + std::to_string(kMaxWeight);
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
