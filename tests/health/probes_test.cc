// Each probe kind against real local servers (a TCP listener, a UDP echo
// server, a minimal HTTP server over TCP, a closed port, a silent UDP
// socket), and the control plane's health monitor: verdicts become removals
// within the cap, and administrative state wins over health.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "controlplane/audit_log.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/health_monitor.h"
#include "health/checker.h"

namespace sluice::health {
namespace {

uint16_t bound_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

int bind_loopback(int type) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  return fd;
}

// A TCP server that answers every connection with `response` and closes.
class TcpServer {
 public:
  explicit TcpServer(std::string response) : response_(std::move(response)) {
    fd_ = bind_loopback(SOCK_STREAM);
    listen(fd_, 64);
    port_ = bound_port(fd_);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        if (!response_.empty()) {
          char buf[4096];
          [[maybe_unused]] ssize_t n = recv(c, buf, sizeof buf, 0);  // the request
          n = send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
        }
        close(c);
      }
    });
  }
  ~TcpServer() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  std::string response_;
  int fd_;
  uint16_t port_;
  std::thread thread_;
};

// Echoes datagrams back, prefixed with "echo:".
class UdpEcho {
 public:
  UdpEcho() {
    fd_ = bind_loopback(SOCK_DGRAM);
    port_ = bound_port(fd_);
    thread_ = std::thread([this] {
      char buf[2048];
      while (!stop_) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) return;
        std::string reply = "echo:" + std::string(buf, static_cast<size_t>(n));
        sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  ~UdpEcho() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Runs one probe of `check` to 127.0.0.1:`port` and returns its outcome.
ProbeOutcome probe_once(HealthCheck check, uint16_t port) {
  EventLoop loop;
  ProbeOutcome got;
  bool done = false;
  Checker checker(loop, [&](const ProbeReport& r) {
    got = r.outcome;
    done = true;
  });
  check.interval_ms = std::max<uint32_t>(check.timeout_ms, 100);
  Target t;
  t.key = 1;
  t.probe.address = *parse_ip_address("127.0.0.1");
  t.probe.port = port;
  t.probe.check = check;
  checker.set_targets({t});
  checker.probe_now(1);
  const uint64_t end = monotonic_ns() + 5'000'000'000ull;
  while (!done && monotonic_ns() < end) checker.run_once(monotonic_ns() + 10'000'000);
  EXPECT_TRUE(done) << "no outcome within 5 s";
  return got;
}

HealthCheck check_of(HealthKind kind) {
  HealthCheck c;
  c.kind = kind;
  c.timeout_ms = 300;
  return c;
}

TEST(Probes, TcpConnectPassesAndRefusedFails) {
  TcpServer server("");
  const ProbeOutcome ok = probe_once(check_of(HealthKind::kTcp), server.port());
  EXPECT_TRUE(ok.ok) << ok.detail;
  EXPECT_GT(ok.latency_ns, 0u);
  const int closed = bind_loopback(SOCK_STREAM);  // bound, not listening: refused
  const ProbeOutcome refused = probe_once(check_of(HealthKind::kTcp), bound_port(closed));
  close(closed);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.detail.find("refused"), std::string::npos) << refused.detail;
}

TEST(Probes, UdpReplyExpectedBytesAndTimeout) {
  UdpEcho echo;
  HealthCheck c = check_of(HealthKind::kUdp);
  c.payload = "ping";
  c.expect = "echo:ping";
  const ProbeOutcome ok = probe_once(c, echo.port());
  EXPECT_TRUE(ok.ok) << ok.detail;
  c.expect = "pong";
  const ProbeOutcome wrong = probe_once(c, echo.port());
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(wrong.detail.find("without the expected bytes"), std::string::npos) << wrong.detail;
  // A bound socket that never answers: only the timeout can tell.
  const int silent = bind_loopback(SOCK_DGRAM);
  c.expect.clear();
  const ProbeOutcome timeout = probe_once(c, bound_port(silent));
  close(silent);
  EXPECT_FALSE(timeout.ok);
  EXPECT_NE(timeout.detail.find("timeout"), std::string::npos) << timeout.detail;
  EXPECT_GE(timeout.latency_ns, 290'000'000u);
}

TEST(Probes, HttpStatusAndBody) {
  TcpServer ok_server("HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nhealthy");
  HealthCheck c = check_of(HealthKind::kHttp);
  c.path = "/healthz";
  const ProbeOutcome ok = probe_once(c, ok_server.port());
  EXPECT_TRUE(ok.ok) << ok.detail;
  EXPECT_EQ(ok.detail, "HTTP 200");
  c.expect_body = "healthy";
  EXPECT_TRUE(probe_once(c, ok_server.port()).ok);
  c.expect_body = "ready";
  EXPECT_FALSE(probe_once(c, ok_server.port()).ok);

  TcpServer failing("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  c.expect_body.clear();
  const ProbeOutcome bad = probe_once(c, failing.port());
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.detail, "HTTP 503 (expected 200)");
  c.expect_status = {200, 503};
  EXPECT_TRUE(probe_once(c, failing.port()).ok);
}

}  // namespace
}  // namespace sluice::health

namespace sluice::cp {
namespace {

using health::monotonic_ns;

BackendConfig backend(uint32_t id, const char* name, const char* addr, BackendState state) {
  BackendConfig b;
  b.id = id;
  b.name = name;
  b.address = *parse_ip_address(addr);
  b.state = state;
  return b;
}

TEST(HealthMonitor, AdministrativeStateWinsAndUnhealthyActiveBackendsAreDisabled) {
  health::TcpServer live("");
  const int closed = socket(AF_INET, SOCK_STREAM, 0);  // a port nobody listens on
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(closed, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  const uint16_t dead_port = health::bound_port(closed);

  TableConfig config;
  VipConfig vip;
  vip.id = 1;
  vip.address = *parse_ip_address("192.0.2.10");
  vip.port = 80;
  vip.protocol = 6;
  HealthSpec spec;
  spec.kind = HealthKind::kTcp;
  spec.port = dead_port;
  spec.interval_ms = 100;
  spec.timeout_ms = 100;
  spec.rise = 1;
  spec.fall = 2;
  spec.max_unhealthy_percent = 100;
  vip.health = std::make_shared<const HealthSpec>(spec);
  vip.backends = {backend(1, "a-active-dead", "127.0.0.1", BackendState::kActive),
                  backend(2, "b-draining-dead", "127.0.0.2", BackendState::kDraining),
                  backend(3, "c-disabled-dead", "127.0.0.3", BackendState::kDisabled),
                  backend(4, "d-active-live", "127.0.0.1", BackendState::kActive)};
  HealthSpec live_port;
  live_port.port = live.port();
  vip.backends[3].health = std::make_shared<const HealthSpec>(live_port);
  config.vips.push_back(vip);

  AuditLog audit;
  DataplaneLink link("health-unit-test-no-dataplane", LinkTiming{});
  HealthMonitor monitor(audit, "");
  ASSERT_EQ(monitor.start(), "");
  // Unknown at first: nobody is taken out, so traffic keeps flowing.
  EXPECT_FALSE(monitor.sync(config, 1, monotonic_ns(), link));
  EXPECT_EQ(monitor.backend_view(vip.backends[0])["health"], "unknown");
  EXPECT_EQ(monitor.effective(config).vips[0].backends[0].state, BackendState::kActive);

  bool changed = false;
  const uint64_t end = monotonic_ns() + 3'000'000'000ull;
  while (monotonic_ns() < end) {
    changed = monitor.sync(config, 1, monotonic_ns(), link) || changed;
    if (monitor.backend_view(vip.backends[0])["health"] == "unhealthy" &&
        monitor.backend_view(vip.backends[1])["health"] == "unhealthy" &&
        monitor.backend_view(vip.backends[2])["health"] == "unhealthy" &&
        monitor.backend_view(vip.backends[3])["health"] == "healthy") {
      break;
    }
    usleep(20'000);
  }
  close(closed);
  EXPECT_TRUE(changed);
  // Draining and disabled backends are still probed (their health is
  // known for when they are enabled) but keep their administrative state.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(monitor.backend_view(vip.backends[i])["health"], "unhealthy") << i;
  }
  EXPECT_EQ(monitor.backend_view(vip.backends[3])["health"], "healthy");
  const TableConfig eff = monitor.effective(config);
  EXPECT_EQ(eff.vips[0].backends[0].state, BackendState::kDisabled);  // taken out by health
  EXPECT_EQ(eff.vips[0].backends[1].state, BackendState::kDraining);  // admin wins
  EXPECT_EQ(eff.vips[0].backends[2].state, BackendState::kDisabled);
  EXPECT_EQ(eff.vips[0].backends[3].state, BackendState::kActive);
  // The desired configuration itself never holds health.
  EXPECT_EQ(config.vips[0].backends[0].state, BackendState::kActive);
  EXPECT_EQ(monitor.backend_view(vip.backends[0])["health_removed"], true);
  EXPECT_EQ(monitor.vip_view(vip)["degraded"], false);
}

TEST(HealthMonitor, CapKeepsBackendsInAndReportsDegraded) {
  const int closed = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(closed, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  TableConfig config;
  VipConfig vip;
  vip.id = 1;
  vip.address = *parse_ip_address("192.0.2.10");
  vip.port = 80;
  vip.protocol = 6;
  HealthSpec spec;
  spec.kind = HealthKind::kTcp;
  spec.port = health::bound_port(closed);
  spec.interval_ms = 100;
  spec.timeout_ms = 100;
  spec.fall = 1;
  vip.health = std::make_shared<const HealthSpec>(spec);  // default cap: 50%
  vip.backends = {backend(1, "a", "127.0.0.1", BackendState::kActive),
                  backend(2, "b", "127.0.0.2", BackendState::kActive),
                  backend(3, "c", "127.0.0.3", BackendState::kActive)};
  config.vips.push_back(vip);
  AuditLog audit;
  DataplaneLink link("health-unit-test-no-dataplane", LinkTiming{});
  HealthMonitor monitor(audit, "");
  const uint64_t end = monotonic_ns() + 3'000'000'000ull;
  while (monotonic_ns() < end && monitor.vip_view(vip)["unhealthy"] != 3) {
    monitor.sync(config, 1, monotonic_ns(), link);
    usleep(20'000);
  }
  close(closed);
  const auto v = monitor.vip_view(vip);
  EXPECT_EQ(v["unhealthy"], 3);
  EXPECT_EQ(v["removed"], 1);  // floor(3 * 50%)
  EXPECT_EQ(v["held_by_cap"], 2);
  EXPECT_EQ(v["degraded"], true);
  EXPECT_EQ(monitor.status_view()["cap_holds"], 1);
  int disabled = 0;
  for (const BackendConfig& be : monitor.effective(config).vips[0].backends) {
    disabled += be.state == BackendState::kDisabled ? 1 : 0;
  }
  EXPECT_EQ(disabled, 1);
}

}  // namespace
}  // namespace sluice::cp
