// The assertion of the fuzz targets: a broken invariant prints where and
// why, then aborts, so that libFuzzer (and tests/fuzz/fuzz_driver.cc) treat
// it like a crash and report the input. Active in every build type: fuzzing
// a release build must still check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sluice::fuzz {

[[noreturn]] inline void check_failed(const char* file, int line, const char* condition,
                                      const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s%s%s\n", file, line, condition,
               detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// The custom mutators' random numbers: xorshift64 from libFuzzer's seed, so a
// mutation is reproducible from the seed alone. rnd(n) is in [0, n); 0 for 0.
class MutationRandom {
 public:
  explicit MutationRandom(unsigned seed) : x_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  size_t operator()(size_t n) {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return n == 0 ? 0 : static_cast<size_t>(x_ % n);
  }

 private:
  uint64_t x_;
};

}  // namespace sluice::fuzz

// FUZZ_CHECK(condition) or FUZZ_CHECK(condition, std::string detail). The
// detail is only built when the condition fails.
#define FUZZ_CHECK(condition, ...)                                                            \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      ::sluice::fuzz::check_failed(__FILE__, __LINE__, #condition, std::string(__VA_ARGS__)); \
    }                                                                                         \
  } while (0)
