// health-bench: the prober at scale (not a test). N targets, each probed by
// TCP connect every --interval-ms (jitter off, so every interval should be
// exactly that), against listeners on 127.0.0.1 that a second thread
// accepts and closes. Reports the prober thread's CPU use and the interval
// error (actual gap between two probe starts of one target minus the
// interval) and the start lateness (start minus due time), p50/p99/max.
//
//   health-bench [--targets 10000] [--interval-ms 1000] [--seconds 10]
//                [--listeners 16] [--json]
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "health/checker.h"

using namespace sluice;
using namespace sluice::health;

namespace {

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

double pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return static_cast<double>(v[i]) / 1e6;  // ms
}

struct Listeners {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  int epfd = -1;
  std::atomic<bool> stop{false};
  std::thread thread;

  bool open(int n) {
    epfd = epoll_create1(0);
    for (int i = 0; i < n; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4096) != 0) {
        std::perror("health-bench: listen");
        return false;
      }
      socklen_t len = sizeof sa;
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
      fds.push_back(fd);
      ports.push_back(ntohs(sa.sin_port));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    thread = std::thread([this] {
      epoll_event evs[64];
      while (!stop.load()) {
        const int k = epoll_wait(epfd, evs, 64, 100);
        for (int i = 0; i < k; ++i) {
          for (;;) {
            const int c = accept4(evs[i].data.fd, nullptr, nullptr, SOCK_NONBLOCK);
            if (c < 0) break;
            close(c);
          }
        }
      }
    });
    return true;
  }
  ~Listeners() {
    stop = true;
    if (thread.joinable()) thread.join();
    for (int fd : fds) close(fd);
    if (epfd >= 0) close(epfd);
  }
};

}  // namespace

int main(int argc, char** argv) {
  uint32_t targets = 10000, interval_ms = 1000, seconds = 10, listeners = 16;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> uint32_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "health-bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    };
    if (a == "--targets") targets = next();
    else if (a == "--interval-ms") interval_ms = next();
    else if (a == "--seconds") seconds = next();
    else if (a == "--listeners") listeners = next();
    else if (a == "--json") json = true;
    else {
      std::fprintf(stderr, "usage: health-bench [--targets N] [--interval-ms MS] [--seconds S] "
                           "[--listeners N] [--json]\n");
      return 2;
    }
  }
  if (targets == 0 || interval_ms < 100 || seconds == 0 || listeners == 0) {
    std::fprintf(stderr, "health-bench: targets, seconds and listeners must be positive and the "
                         "interval at least 100 ms\n");
    return 2;
  }
  // Two sockets per probe at most (ours and the accepted one).
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  Listeners ls;
  if (!ls.open(static_cast<int>(listeners))) return 1;

  EventLoop loop;
  uint64_t passes = 0, failures = 0, reports = 0;
  uint64_t measure_from = 0;
  std::unordered_map<uint64_t, uint64_t> last_start;
  std::vector<int64_t> interval_err, lateness;
  std::string first_failure;
  Checker checker(loop, [&](const ProbeReport& r) {
    ++reports;
    (r.outcome.ok ? passes : failures) += 1;
    if (!r.outcome.ok && first_failure.empty()) first_failure = r.outcome.detail;
    if (r.started_ns < measure_from) {
      last_start[r.key] = r.started_ns;
      return;
    }
    lateness.push_back(static_cast<int64_t>(r.started_ns - r.due_ns));
    const auto it = last_start.find(r.key);
    if (it != last_start.end()) {
      interval_err.push_back(static_cast<int64_t>(r.started_ns - it->second) -
                             static_cast<int64_t>(interval_ms) * 1'000'000);
    }
    last_start[r.key] = r.started_ns;
  });
  std::vector<Target> ts;
  ts.reserve(targets);
  for (uint32_t i = 0; i < targets; ++i) {
    Target t;
    t.key = i + 1;
    t.probe.address = *parse_ip_address("127.0.0.1");
    t.probe.port = ls.ports[i % ls.ports.size()];
    t.probe.check.kind = HealthKind::kTcp;
    t.probe.check.interval_ms = interval_ms;
    t.probe.check.timeout_ms = std::min<uint32_t>(1000, interval_ms);
    t.probe.check.jitter_percent = 0;
    ts.push_back(t);
  }
  checker.set_targets(ts);
  // The first interval spreads the targets' first probes; measure after it.
  const uint64_t start = monotonic_ns();
  measure_from = start + uint64_t{interval_ms} * 1'000'000;
  const uint64_t end = measure_from + uint64_t{seconds} * 1'000'000'000ull;
  uint64_t cpu0 = 0, reports0 = 0;
  bool measuring = false;
  while (monotonic_ns() < end) {
    checker.run_once(monotonic_ns() + 50'000'000);
    if (!measuring && monotonic_ns() >= measure_from) {
      measuring = true;
      cpu0 = thread_cpu_ns();
      reports0 = reports;
    }
  }
  const double cpu_s = static_cast<double>(thread_cpu_ns() - cpu0) / 1e9;
  const double wall_s = static_cast<double>(monotonic_ns() - measure_from) / 1e9;
  const double rate = static_cast<double>(reports - reports0) / wall_s;
  const double cpu_pct = 100.0 * cpu_s / wall_s;
  std::vector<int64_t> abs_err;
  for (int64_t e : interval_err) abs_err.push_back(std::llabs(e));
  const double ie50 = pct(abs_err, 50), ie99 = pct(abs_err, 99);
  const double l50 = pct(lateness, 50), l99 = pct(lateness, 99);
  const double lmax = lateness.empty() ? 0
                                       : static_cast<double>(*std::max_element(
                                             lateness.begin(), lateness.end())) / 1e6;
  if (json) {
    std::printf("{\"targets\": %u, \"interval_ms\": %u, \"seconds\": %.1f, \"probes_per_s\": %.0f, "
                "\"prober_cpu_percent\": %.1f, \"interval_error_ms\": {\"p50\": %.3f, \"p99\": %.3f}, "
                "\"start_lateness_ms\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
                "\"passes\": %llu, \"failures\": %llu}\n",
                targets, interval_ms, wall_s, rate, cpu_pct, ie50, ie99, l50, l99, lmax,
                static_cast<unsigned long long>(passes), static_cast<unsigned long long>(failures));
  } else {
    std::printf("targets %u, interval %u ms, measured %.1f s\n", targets, interval_ms, wall_s);
    std::printf("probes/s:            %.0f (%llu passed, %llu failed%s%s)\n", rate,
                static_cast<unsigned long long>(passes), static_cast<unsigned long long>(failures),
                first_failure.empty() ? "" : "; first failure: ", first_failure.c_str());
    std::printf("prober CPU:          %.1f%% of one core\n", cpu_pct);
    std::printf("interval error (ms): p50 %.3f  p99 %.3f\n", ie50, ie99);
    std::printf("start lateness (ms): p50 %.3f  p99 %.3f  max %.3f\n", l50, l99, lmax);
  }
  return failures == 0 ? 0 : 1;
}
