// The run-to-completion loop of one worker lcore (DESIGN.md section 2):
// receive a burst per port, process_burst, transmit, free, pass a burst
// between the kernel's exception interface and the port, report
// quiescence, back off when idle if configured. Runs on its own lcore until
// `stop` turns true; it looks at `stop` once per loop, and a back-off sleep
// lasts at most idle_backoff_us (at most kMaxIdleBackoffUs), so a stop takes
// effect within that.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/control_segment.h"
#include "dataplane/worker.h"

namespace sluice::dp {

// The longest idle back-off lb-dataplane accepts (--idle-backoff-us): a
// stop request waits for a sleeping worker at most this long.
inline constexpr uint32_t kMaxIdleBackoffUs = 100000;

// WorkerLoopParams::started: what the worker says once it has begun.
inline constexpr int kWorkerStarting = 0;
inline constexpr int kWorkerRunning = 1;
// Below zero: registering as an RCU reader failed with this negative errno;
// the worker returns at once without touching a packet.

struct WorkerLoopParams {
  WorkerContext* ctx;
  TablePublisher* tables;
  uint16_t rx_ports[2];
  uint16_t n_rx_ports;
  uint16_t egress_port;
  // The kernel's exception interface (--exception-port): the ingress
  // port's (rx_ports[0]) to_kernel frames go to it, and what it receives
  // leaves by rx_ports[0]; at most one burst of it per pass.
  bool has_exception_port;
  uint16_t exception_port;
  uint16_t queue;            // this worker's RX/TX queue on every port
  uint16_t burst;
  uint32_t idle_backoff_us;
  // flow.explain's question (null: nobody asks, as in tests); this worker
  // answers in slot ctx->reader_id().
  FlowLookup* flow_lookup;
  const std::atomic<bool>* stop;
  std::atomic<int>* started;  // kWorkerStarting until the worker stores its outcome
};

// rte_eal_remote_launch entry point; `arg` is a WorkerLoopParams*. Returns
// 0, or a negative errno if the worker could not register as an RCU reader
// (at start) or unregister (at the end).
int worker_loop(void* arg);

}  // namespace sluice::dp
