#include "health/socket_probes.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::health {

namespace {

socklen_t make_sockaddr(const IpAddress& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes, 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a.bytes, 16);
  return sizeof(sockaddr_in6);
}

std::string sys_error(const char* what, int err) {
  std::string s = what;
  s += ": ";
  s += std::strerror(err);
  return s;
}

// The part both kinds share: the socket, its registration, one report.
class SocketProbe : public Probe, public FdHandler {
 public:
  SocketProbe(EventLoop& loop, ProbeSink& sink, uint64_t key, uint64_t token, uint64_t now_ns,
              uint32_t timeout_ms)
      : loop_(loop), sink_(sink), key_(key), token_(token), started_ns_(now_ns),
        timeout_ms_(timeout_ms) {}
  ~SocketProbe() override { close_fd(); }

  void expire() override {
    std::string d = "timeout after ";
    d += std::to_string(timeout_ms_);
    d += " ms";
    finish(false, std::move(d));
  }

 protected:
  // A socket of `type` toward `t`, non-blocking, marked for the tunnel if
  // asked; empty on success.
  std::string open_socket(int type, const ProbeTarget& t) {
    fd_ = socket(t.address.family == 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 0);
    if (fd_ < 0) return sys_error("socket", errno);
    if (t.mark != 0 && setsockopt(fd_, SOL_SOCKET, SO_MARK, &t.mark, sizeof t.mark) != 0) {
      return sys_error("setsockopt SO_MARK (the tunnel probe needs CAP_NET_ADMIN)", errno);
    }
    return {};
  }

  void finish(bool ok, std::string detail) {
    if (done_) return;
    done_ = true;
    close_fd();
    ProbeOutcome o;
    o.ok = ok;
    o.detail = std::move(detail);
    o.latency_ns = monotonic_ns() - started_ns_;
    sink_.probe_done(key_, token_, std::move(o));
  }

  void close_fd() {
    if (fd_ < 0) return;
    loop_.forget(fd_);
    close(fd_);
    fd_ = -1;
  }

  EventLoop& loop_;
  ProbeSink& sink_;
  uint64_t key_, token_, started_ns_;
  uint32_t timeout_ms_;
  int fd_ = -1;
  bool done_ = false;
};

class TcpProbe final : public SocketProbe {
 public:
  using SocketProbe::SocketProbe;

  void start(const ProbeTarget& t) {
    if (std::string e = open_socket(SOCK_STREAM, t); !e.empty()) return finish(false, e);
    // Close with an RST: no TIME_WAIT on our side, no half-closed socket on
    // the backend's for a probe that said nothing.
    const linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    sockaddr_storage ss;
    const socklen_t len = make_sockaddr(t.address, t.port, ss);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) return finish(true, "connected");
    if (errno != EINPROGRESS) return finish(false, sys_error("connect", errno));
    if (std::string e = loop_.watch(fd_, EPOLLOUT, this); !e.empty()) return finish(false, e);
  }

  void on_event(uint32_t) override {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return finish(false, sys_error("connect", err));
    finish(true, "connected");
  }
};

class UdpProbe final : public SocketProbe {
 public:
  using SocketProbe::SocketProbe;

  void start(const ProbeTarget& t) {
    expect_ = t.check.expect;
    if (std::string e = open_socket(SOCK_DGRAM, t); !e.empty()) return finish(false, e);
    sockaddr_storage ss;
    const socklen_t len = make_sockaddr(t.address, t.port, ss);
    // Connected: only the backend's own answers arrive, and an ICMP port
    // unreachable fails the probe at once (ECONNREFUSED) instead of by
    // timeout.
    if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return finish(false, sys_error("connect", errno));
    }
    if (send(fd_, t.check.payload.data(), t.check.payload.size(), 0) < 0) {
      return finish(false, sys_error("send", errno));
    }
    if (std::string e = loop_.watch(fd_, EPOLLIN, this); !e.empty()) return finish(false, e);
  }

  void on_event(uint32_t) override {
    char buf[2048];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      return finish(false, sys_error("recv", errno));
    }
    const std::string_view reply(buf, static_cast<size_t>(n));
    if (!expect_.empty() && reply.find(expect_) == std::string_view::npos) {
      return finish(false, "reply of " + std::to_string(n) + " bytes without the expected bytes");
    }
    finish(true, "reply of " + std::to_string(n) + " bytes");
  }

 private:
  std::string expect_;
};

}  // namespace

std::unique_ptr<Probe> start_tcp_probe(EventLoop& loop, ProbeSink& sink, uint64_t key,
                                       uint64_t token, const ProbeTarget& target, uint64_t now_ns) {
  auto p = std::make_unique<TcpProbe>(loop, sink, key, token, now_ns, target.check.timeout_ms);
  p->start(target);
  return p;
}

std::unique_ptr<Probe> start_udp_probe(EventLoop& loop, ProbeSink& sink, uint64_t key,
                                       uint64_t token, const ProbeTarget& target, uint64_t now_ns) {
  auto p = std::make_unique<UdpProbe>(loop, sink, key, token, now_ns, target.check.timeout_ms);
  p->start(target);
  return p;
}

}  // namespace sluice::health
