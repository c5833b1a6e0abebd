#include "health/probe.h"

#include "health/http_probe.h"
#include "health/socket_probes.h"

namespace sluice::health {

std::unique_ptr<Probe> start_probe(EventLoop& loop, CurlDriver& curl, ProbeSink& sink,
                                   uint64_t key, uint64_t token, const ProbeTarget& target,
                                   uint64_t now_ns) {
  switch (target.check.kind) {
    case HealthKind::kTcp: return start_tcp_probe(loop, sink, key, token, target, now_ns);
    case HealthKind::kUdp: return start_udp_probe(loop, sink, key, token, target, now_ns);
    case HealthKind::kHttp:
    case HealthKind::kHttps: return curl.start(sink, key, token, target, now_ns);
    case HealthKind::kNone: break;
  }
  sink.probe_done(key, token, ProbeOutcome{true, "not checked", 0});
  return nullptr;
}

}  // namespace sluice::health
