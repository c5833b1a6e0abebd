// Jitter and interval accuracy: the schedule's pure functions, and the real
// checker probing real TCP listeners on 127.0.0.1 (health/schedule.h,
// health/checker.h).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>
#include <vector>

#include "health/checker.h"
#include "health/schedule.h"

namespace sluice::health {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(Schedule, FirstProbesSpreadOverTheFirstInterval) {
  Rng rng(1);
  const uint64_t now = 10 * kSecond;
  std::vector<int> buckets(10, 0);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t due = first_due_ns(now, 1000, rng);
    ASSERT_GE(due, now);
    ASSERT_LT(due, now + kSecond);
    ++buckets[(due - now) / (kSecond / 10)];
  }
  // Uniform: each tenth of the interval gets about 1,000 of 10,000.
  for (int b : buckets) {
    EXPECT_GT(b, 850);
    EXPECT_LT(b, 1150);
  }
}

TEST(Schedule, JitterStaysWithinHalfItsPercentAndAveragesOut) {
  Rng rng(2);
  const uint64_t interval = 2000 * kMsNs;
  uint64_t due = 0;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const uint64_t next = next_due_ns(due, 0, 2000, 10, rng);
    const int64_t gap = static_cast<int64_t>(next - due) - static_cast<int64_t>(interval);
    lo = std::min(lo, gap);
    hi = std::max(hi, gap);
    sum += static_cast<double>(gap);
    due = next;
  }
  // 10% jitter: each interval within +-5% (100 ms of 2 s).
  EXPECT_GE(lo, -100 * static_cast<int64_t>(kMsNs));
  EXPECT_LE(hi, 100 * static_cast<int64_t>(kMsNs));
  EXPECT_LT(lo, -90 * static_cast<int64_t>(kMsNs));  // and it does jitter
  EXPECT_GT(hi, 90 * static_cast<int64_t>(kMsNs));
  EXPECT_LT(std::abs(sum / n), 2.0 * kMsNs);  // no drift on average
}

TEST(Schedule, NoJitterIsExactAndNoCatchUpBurst) {
  Rng rng(3);
  EXPECT_EQ(next_due_ns(5 * kSecond, 0, 1000, 0, rng), 6 * kSecond);
  // Fell 10 s behind: due now, not ten probes at once.
  EXPECT_EQ(next_due_ns(5 * kSecond, 16 * kSecond, 1000, 0, rng), 16 * kSecond);
}

// A listener on 127.0.0.1 whose accept queue a thread keeps empty.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    listen(fd_, 1024);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        close(c);
      }
    });
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
  std::thread thread_;
};

TEST(Checker, IntervalAccuracyWithRealProbes) {
  Listener l;
  EventLoop loop;
  std::map<uint64_t, std::vector<uint64_t>> starts;
  std::vector<int64_t> lateness;
  uint64_t failures = 0;
  Checker checker(loop, [&](const ProbeReport& r) {
    starts[r.key].push_back(r.started_ns);
    lateness.push_back(static_cast<int64_t>(r.started_ns - r.due_ns));
    failures += r.outcome.ok ? 0 : 1;
  });
  std::vector<Target> targets;
  for (uint64_t k = 1; k <= 50; ++k) {
    Target t;
    t.key = k;
    t.probe.address = *parse_ip_address("127.0.0.1");
    t.probe.port = l.port();
    t.probe.check.kind = HealthKind::kTcp;
    t.probe.check.interval_ms = 100;
    t.probe.check.timeout_ms = 100;
    t.probe.check.jitter_percent = 0;
    targets.push_back(t);
  }
  checker.set_targets(targets);
  const uint64_t end = monotonic_ns() + 1'150'000'000;
  while (monotonic_ns() < end) checker.run_once(monotonic_ns() + 20'000'000);
  EXPECT_EQ(failures, 0u);
  std::vector<int64_t> errors;
  for (const auto& [key, s] : starts) {
    EXPECT_GE(s.size(), 10u) << "target " << key;
    for (size_t i = 1; i < s.size(); ++i) {
      errors.push_back(std::llabs(static_cast<int64_t>(s[i] - s[i - 1]) - 100'000'000));
    }
  }
  std::sort(errors.begin(), errors.end());
  ASSERT_FALSE(errors.empty());
  // Median within 1 ms of the interval; even a busy shared machine keeps
  // the 90th percentile within 10 ms.
  EXPECT_LT(errors[errors.size() / 2], 1'000'000);
  EXPECT_LT(errors[errors.size() * 9 / 10], 10'000'000);
  for (uint64_t k = 1; k <= 50; ++k) EXPECT_EQ(checker.health(k), Health::kHealthy);
}

}  // namespace
}  // namespace sluice::health
