// The run-to-completion loop of one worker lcore (DESIGN.md section 2):
// receive a burst per port, process_burst, transmit, free, report
// quiescence, back off when idle if configured. Runs on its own lcore until
// `stop` turns true.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/worker.h"

namespace sluice::dp {

struct WorkerLoopParams {
  WorkerContext* ctx;
  TablePublisher* tables;
  uint16_t rx_ports[2];
  uint16_t n_rx_ports;
  uint16_t egress_port;
  uint16_t queue;            // this worker's RX/TX queue on every port
  uint16_t burst;
  uint32_t idle_backoff_us;
  const std::atomic<bool>* stop;
};

// rte_eal_remote_launch entry point; `arg` is a WorkerLoopParams*.
int worker_loop(void* arg);

}  // namespace sluice::dp
