#include "tools/bench/results.h"

#include <algorithm>

namespace sluice::bench {

Summary summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.min = values.front();
  s.max = values.back();
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.p99 = values[std::min(n - 1, (n * 99 + 99) / 100 - 1)];
  return s;
}

}  // namespace sluice::bench
