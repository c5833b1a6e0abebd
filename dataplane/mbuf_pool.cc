#include "dataplane/mbuf_pool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_memzone.h>
#include <unistd.h>

#include <string>

namespace sluice::dp {

rte_mempool* make_contiguous_pktmbuf_pool(const char* name, uint32_t n, uint32_t cache,
                                          uint16_t data_room, int socket) {
  const uint32_t elt_size = sizeof(rte_mbuf) + data_room;
  // Packed: by default a pool keeps each object within one page (for
  // devices that DMA by physical address), which with 4 KiB pages leaves
  // gaps the PMD's umem arithmetic does not expect. AF_XDP needs no IOVA.
  rte_mempool* mp = rte_mempool_create_empty(name, n, elt_size, cache,
                                             sizeof(rte_pktmbuf_pool_private), socket,
                                             RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == nullptr) return nullptr;
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = data_room;
  priv.mbuf_priv_size = 0;
  int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
  if (rc == 0) {
    rte_pktmbuf_pool_init(mp, &priv);
    const size_t page = static_cast<size_t>(getpagesize());
    const size_t len =
        size_t{n} * rte_mempool_calc_obj_size(elt_size, mp->flags, nullptr) + page;
    // A memzone is one virtually contiguous allocation; the pool is freed
    // with the process (the EAL's memory), like rte_pktmbuf_pool_create's.
    const std::string zone = std::string(name) + "_mz";
    const rte_memzone* mz = rte_memzone_reserve_aligned(zone.c_str(), len, socket, 0, page);
    if (mz == nullptr) {
      rc = -rte_errno;
    } else {
      const int added =
          rte_mempool_populate_iova(mp, static_cast<char*>(mz->addr), mz->iova, len, nullptr,
                                    nullptr);
      rc = added < 0 ? added : (static_cast<uint32_t>(added) == n ? 0 : -ENOMEM);
    }
  }
  if (rc != 0) {
    rte_mempool_free(mp);
    rte_errno = -rc;
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

}  // namespace sluice::dp
