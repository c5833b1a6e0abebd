// A packet mbuf pool whose objects lie in one virtually contiguous chunk,
// for net_af_xdp ports. DPDK 22.11's net_af_xdp registers as its umem the
// pool's first memory chunk extended by populated_size objects of
// rte_mempool_calc_obj_size bytes (drivers/net/af_xdp/rte_eth_af_xdp.c,
// xdp_umem_configure). rte_pktmbuf_pool_create keeps every object within
// one page, so with 4 KiB pages (no hugepages) a 2.4 KiB mbuf takes a
// whole page, and it may use several chunks: either way most mbufs lie
// outside that umem, the kernel refuses them as fill-ring buffers and the
// port stops receiving once the pool cycles into them. Start-up only, main
// thread.
#pragma once

#include <cstdint>

#include <rte_mempool.h>

namespace sluice::dp {

// Like rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket), but
// in one memzone. nullptr with rte_errno set on failure.
rte_mempool* make_contiguous_pktmbuf_pool(const char* name, uint32_t n, uint32_t cache,
                                          uint16_t data_room, int socket);

}  // namespace sluice::dp
