// TCP connect and UDP request/reply probes on non-blocking sockets in the
// checker's event loop. A TCP probe closes with an RST (SO_LINGER 0) so
// 10,000 probes a second leave no TIME_WAIT sockets behind on either side.
// One thread: the event loop's.
#pragma once

#include <memory>

#include "health/probe.h"

namespace sluice::health {

std::unique_ptr<Probe> start_tcp_probe(EventLoop& loop, ProbeSink& sink, uint64_t key,
                                       uint64_t token, const ProbeTarget& target, uint64_t now_ns);
std::unique_ptr<Probe> start_udp_probe(EventLoop& loop, ProbeSink& sink, uint64_t key,
                                       uint64_t token, const ProbeTarget& target, uint64_t now_ns);

}  // namespace sluice::health
