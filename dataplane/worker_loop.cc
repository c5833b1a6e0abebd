#include "dataplane/worker_loop.h"

#include "dataplane/flow_lookup.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

namespace sluice::dp {

namespace {

// Sends what it can; frees and counts the rest.
void transmit(WorkerContext& ctx, uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n) {
  if (n == 0) return;
  const uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
  ctx.count(Counter::tx_packets, sent);
  if (sent < n) {
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    ctx.count(Counter::drop_tx_full, n - sent);
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
    }
    if (p.flow_lookup != nullptr) answer_flow_lookup(ctx, *p.flow_lookup, ctx.reader_id(), rte_rdtsc());
    // Connection counts and their sweep, between bursts (worker.h).
    ctx.maintain(rte_rdtsc());
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
