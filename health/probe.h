// One probe in flight, of any kind (DESIGN.md section 5). A probe is
// started by the checker, reports its outcome once through its sink, and
// is destroyed by the checker after the event loop's dispatch pass (never
// from inside its own callback: the loop may still hold events for it).
// One thread: the event loop's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/health_config.h"
#include "common/ip_address.h"
#include "health/event_loop.h"

namespace sluice::health {

// Where and how to probe one backend: its address (or, through the tunnel,
// the VIP's), a port, and the socket mark that routes a tunnel probe into
// the encapsulating tc program (0: a direct probe).
struct ProbeTarget {
  IpAddress address;
  uint16_t port = 0;
  uint32_t mark = 0;
  HealthCheck check;
};

struct ProbeOutcome {
  bool ok = false;
  // "ok", "connected", "HTTP 200", or why not: "timeout after 1000 ms",
  // "connect: Connection refused", "HTTP 503 (expected 200)".
  std::string detail;
  uint64_t latency_ns = 0;
};

class ProbeSink {
 public:
  virtual void probe_done(uint64_t key, uint64_t token, ProbeOutcome outcome) = 0;

 protected:
  ~ProbeSink() = default;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // The probe's deadline passed: it reports a timeout unless already done
  // (libcurl keeps its own timeout; this is the backstop for all kinds).
  virtual void expire() = 0;
};

class CurlDriver;

// Starts a probe of `target`; its outcome goes to `sink` with (key, token).
// A probe that cannot even start (no socket) reports at once, from here.
std::unique_ptr<Probe> start_probe(EventLoop& loop, CurlDriver& curl, ProbeSink& sink,
                                   uint64_t key, uint64_t token, const ProbeTarget& target,
                                   uint64_t now_ns);

}  // namespace sluice::health
