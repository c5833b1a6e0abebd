#include "dataplane/worker_loop.h"

#include "dataplane/flow_lookup.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

namespace sluice::dp {

namespace {

// Sends what it can; frees the rest. Counts both, under `sent_counter`
// and `full_counter`.
void transmit(WorkerContext& ctx, uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n,
              Counter sent_counter = Counter::tx_packets,
              Counter full_counter = Counter::drop_tx_full) {
  if (n == 0) return;
  const uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
  ctx.count(sent_counter, sent);
  if (sent < n) {
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    ctx.count(full_counter, n - sent);
  }
}

}  // namespace

int worker_loop(void* arg) {
  const auto& p = *static_cast<const WorkerLoopParams*>(arg);
  WorkerContext& ctx = *p.ctx;
  if (const int rc = p.tables->register_reader(ctx.reader_id()); rc != 0) {
    // Release: pairs with the main lcore's acquire load while it waits.
    p.started->store(rc, std::memory_order_release);
    return rc;
  }
  p.started->store(kWorkerRunning, std::memory_order_release);
  rte_mbuf* pkts[kMaxBurst];
  BurstOutput out;
  // Sleep only after a run of empty polls, so a burst of traffic that
  // straddles two polls is not delayed by a sleep.
  constexpr uint32_t kEmptyPollsBeforeSleep = 64;
  uint32_t empty_polls = 0;
  while (!p.stop->load(std::memory_order_relaxed)) {
    // Per loop, never per packet: the busy ratio the metrics show is
    // worker_busy_cycles over the TSC's rate (one rdtsc per pass).
    const uint64_t pass_start = rte_rdtsc();
    uint32_t received = 0;
    for (uint16_t i = 0; i < p.n_rx_ports; ++i) {
      const uint16_t port = p.rx_ports[i];
      const uint16_t n = rte_eth_rx_burst(port, p.queue, pkts, p.burst);
      if (n == 0) continue;
      received += n;
      process_burst(ctx, pkts, n, rte_rdtsc(), out);
      transmit(ctx, p.egress_port, p.queue, out.to_backend, out.n_to_backend);
      transmit(ctx, port, p.queue, out.to_client, out.n_to_client);
      if (out.n_dropped != 0) rte_pktmbuf_free_bulk(out.dropped, out.n_dropped);
      if (out.n_to_kernel != 0) {
        // The kernel's frames from the ingress port; a separate egress
        // port's are not (the exception interface pairs with one port).
        if (i == 0 && p.has_exception_port) {
          transmit(ctx, p.exception_port, p.queue, out.to_kernel, out.n_to_kernel,
                   Counter::to_kernel_packets, Counter::drop_to_kernel_full);
        } else {
          rte_pktmbuf_free_bulk(out.to_kernel, out.n_to_kernel);
        }
      }
    }
    if (p.has_exception_port) {
      // What the kernel sends leaves by the ingress port as it is: one
      // burst per pass, so VIP traffic waits at most that long.
      const uint16_t n = rte_eth_rx_burst(p.exception_port, p.queue, pkts, p.burst);
      if (n != 0) {
        received += n;
        transmit(ctx, p.rx_ports[0], p.queue, pkts, n, Counter::from_kernel_packets,
                 Counter::drop_from_kernel_full);
      }
    }
    if (p.flow_lookup != nullptr) answer_flow_lookup(ctx, *p.flow_lookup, ctx.reader_id(), rte_rdtsc());
    // Connection counts and their sweep, between bursts (worker.h).
    ctx.maintain(pass_start);
    // This worker holds no table pointer past this point.
    p.tables->report_quiescent(ctx.reader_id());
    ctx.count(Counter::worker_polls);
    if (received != 0) {
      ctx.count(Counter::worker_busy_cycles, rte_rdtsc() - pass_start);
      empty_polls = 0;
      continue;
    }
    ctx.count(Counter::worker_empty_polls);
    if (p.idle_backoff_us != 0 && ++empty_polls >= kEmptyPollsBeforeSleep) {
      rte_delay_us_sleep(p.idle_backoff_us);
    }
  }
  return p.tables->unregister_reader(ctx.reader_id());
}

}  // namespace sluice::dp
