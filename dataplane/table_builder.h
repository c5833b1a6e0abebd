// The dataplane's applied configuration and the per-VIP Maglev tables built
// from it (DESIGN.md section 4, "a change costs what it changes"). build()
// takes one transaction's delta, validates the VIPs it touches (each alone,
// then the cross-VIP rules against everything else: VIP count, ids, keys,
// backend ids, the memory budget), rebuilds the Maglev table only of VIPs
// whose Maglev inputs changed and reuses every other table, and returns a
// new snapshot. On any refusal, allocation failure included, nothing
// changes. No DPDK: runs on the dataplane's builder thread (one thread at a
// time; TablePublisher hands it over).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>
#include <unordered_map>

#include "common/table_config.h"
#include "common/table_delta.h"
#include "dataplane/tables.h"

namespace sluice::dp {

// Where a build reports how far it got; any field may be null.
struct BuildProgress {
  std::atomic<uint32_t>* done_vips = nullptr;
  std::atomic<uint32_t>* total_vips = nullptr;
  // Set by another thread to abandon the build (the dataplane is stopping):
  // it is refused at the next VIP, nothing changes.
  const std::atomic<bool>* cancel = nullptr;
};

// Test hooks (lb-dataplane --test-build-delay-ms, --test-alloc-fail-mb).
struct BuildFaults {
  uint64_t delay_ns_per_vip = 0;      // sleep per VIP built: a slow build
  uint64_t alloc_fail_after_bytes = 0;  // throw std::bad_alloc past this many
                                        // bytes of Maglev tables in one build
};

class TableBuilder {
 public:
  explicit TableBuilder(const TableLimits& limits) : limits_(limits) {}

  // One VIP as applied: its configuration and its Maglev table.
  struct BuiltVip {
    VipConfig config;
    std::shared_ptr<const MaglevTable> maglev;
    uint64_t digest = 0;
    uint64_t memory = 0;
  };
  using Version = std::shared_ptr<const BuiltVip>;  // nullptr: no such VIP

  struct Result {
    std::unique_ptr<TableSnapshot> snapshot;  // null when refused
    std::string error;
    uint32_t rebuilt_vips = 0;  // Maglev tables built (the rest were shared)
    // The VIPs this build changed: (before, after). For the applied-
    // configuration mirror in the segment.
    std::vector<std::pair<Version, Version>> changed;
  };
  Result build(const TableDelta& delta, uint64_t generation, const BuildProgress& progress = {});

  // What is applied now.
  uint64_t digest() const { return digest_; }
  uint64_t memory_bytes() const { return memory_bytes_; }
  TableConfig applied_config() const;
  const TableLimits& limits() const { return limits_; }
  void set_faults(const BuildFaults& faults) { faults_ = faults; }
  // Threads that build Maglev tables in parallel, the calling one included
  // (lb-dataplane --build-threads; 1: the builder thread alone).
  void set_threads(uint32_t threads) { threads_ = threads == 0 ? 1 : threads; }

 private:
  using VipKeyTuple = std::tuple<uint8_t, uint64_t, uint64_t, uint16_t, uint8_t>;
  static VipKeyTuple key_of(const VipConfig& vip);

  using Previous = std::vector<std::pair<uint32_t, std::shared_ptr<const BuiltVip>>>;
  // last_ made anew from vips_ (a VIP came, went or changed its key), or
  // patched for the VIPs in `previous` (their versions before this build):
  // a backend change at 4,096 VIPs then costs a copy of the arrays, not a
  // rebuild of them.
  void rebuild_last(uint64_t generation);
  void patch_last(uint64_t generation, const Previous& previous);
  static void set_backends(TableSnapshot& t, const VipConfig& vip);
  // Builds the Maglev table of every VIP in `work` into its BuiltVip, on
  // threads_ threads; progress counts on from `already_done`. An error
  // message (nothing usable was built) or empty; std::bad_alloc escapes.
  std::string build_tables(const std::vector<std::pair<VipConfig*, BuiltVip*>>& work,
                           const BuildProgress& progress, uint32_t already_done);
  static VipEntry vip_entry(const BuiltVip& built);

  TableLimits limits_;
  BuildFaults faults_;
  uint32_t threads_ = 1;
  std::map<uint32_t, std::shared_ptr<const BuiltVip>> vips_;  // by VIP id
  std::map<VipKeyTuple, uint32_t> key_owner_;                 // key -> VIP id
  std::unordered_map<uint32_t, uint32_t> backend_owner_;      // backend id -> VIP id
  uint64_t digest_ = 0;
  uint64_t memory_bytes_ = 0;
  // The last snapshot built (published ones are copies of it) and each
  // VIP's position in its `vips`.
  std::unique_ptr<TableSnapshot> last_;
  std::unordered_map<uint32_t, uint32_t> position_;
};

}  // namespace sluice::dp
