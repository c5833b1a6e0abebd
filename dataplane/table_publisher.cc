#include "dataplane/table_publisher.h"

#include <rte_errno.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace sluice::dp {

TablePublisher::TablePublisher(const TableLimits& limits, uint32_t max_readers)
    : limits_(limits), builder_(limits) {
  const size_t size = rte_rcu_qsbr_get_memsize(max_readers);
  qsbr_ = static_cast<rte_rcu_qsbr*>(std::aligned_alloc(RTE_CACHE_LINE_SIZE,
                                                         RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE)));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, max_readers) != 0) {
    std::free(qsbr_);
    throw std::runtime_error("cannot initialise the RCU state for " +
                             std::to_string(max_readers) + " workers");
  }
  // Workers never see a null table: start from an empty, valid snapshot.
  owned_current_ = builder_.build(TableDelta{}, 0).snapshot;
  if (!owned_current_) throw std::runtime_error("cannot build the empty tables");
  current_.store(owned_current_.get(), std::memory_order_release);
}

TablePublisher::~TablePublisher() {
  retired_.clear();
  std::free(qsbr_);
}

ApplyResult TablePublisher::apply(const TableDelta& delta) {
  ApplyResult result;
  const auto start = std::chrono::steady_clock::now();
  TableBuilder::Result built = builder_.build(delta, generation_ + 1);
  result.build_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::steady_clock::now() - start)
                                              .count());
  result.rebuilt_vips = built.rebuilt_vips;
  if (!built.snapshot) {
    result.error = std::move(built.error);
    result.generation = generation_;
    return result;
  }
  publish(std::move(built.snapshot));
  result.ok = true;
  result.generation = generation_;
  return result;
}

void TablePublisher::publish(std::unique_ptr<TableSnapshot> next) {
  // Release: the snapshot's contents happen-before any worker's acquire load
  // that observes the new pointer.
  current_.store(next.get(), std::memory_order_release);
  // The token marks "after the swap": once every registered worker has
  // reported quiescence past it, none can still hold the old pointer. The
  // old snapshot's Maglev tables that the new one does not share go with it.
  const uint64_t token = rte_rcu_qsbr_start(qsbr_);
  try {
    retired_.push_back(Retired{token, std::move(owned_current_)});
  } catch (const std::bad_alloc&) {
    // No room to remember it: leak it rather than free what a worker may read.
    (void)owned_current_.release();
  }
  owned_current_ = std::move(next);
  generation_ = owned_current_->generation;
  reclaim();
}

void TablePublisher::reclaim() {
  while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, false) == 1) {
    retired_.pop_front();
  }
}

int TablePublisher::register_reader(uint32_t reader_id) {
  // rte_rcu_qsbr_thread_register sets rte_errno and returns 1 on failure.
  if (rte_rcu_qsbr_thread_register(qsbr_, reader_id) != 0) return -rte_errno;
  rte_rcu_qsbr_thread_online(qsbr_, reader_id);
  return 0;
}

int TablePublisher::unregister_reader(uint32_t reader_id) {
  rte_rcu_qsbr_thread_offline(qsbr_, reader_id);
  if (rte_rcu_qsbr_thread_unregister(qsbr_, reader_id) != 0) return -rte_errno;
  return 0;
}

}  // namespace sluice::dp
