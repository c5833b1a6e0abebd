// A change to the dataplane's tables as it travels on the command ring
// (DESIGN.md section 4: "a change costs what it changes"): whole VIPs
// upserted or deleted, single backends upserted or deleted. A full delta
// replaces everything (after a dataplane restart or a detected divergence).
//
// Order of application, in one transaction: VIP deletes, VIP upserts, then
// backend deletes and upserts of VIPs that were not upserted whole. A delta
// from diff_configs() names each VIP and backend at most once. Plain data;
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/table_config.h"

namespace sluice {

struct BackendUpsert {
  uint32_t vip_id = 0;
  BackendConfig backend;
};

struct BackendDelete {
  uint32_t vip_id = 0;
  uint32_t backend_id = 0;
};

struct TableDelta {
  bool full = false;  // vip_upserts is the whole configuration
  std::vector<uint32_t> vip_deletes;
  std::vector<VipConfig> vip_upserts;  // each with every one of its backends
  std::vector<BackendDelete> backend_deletes;
  std::vector<BackendUpsert> backend_upserts;

  bool empty() const {
    return !full && vip_deletes.empty() && vip_upserts.empty() && backend_deletes.empty() &&
           backend_upserts.empty();
  }
};

// The delta that installs `config` whole.
TableDelta full_delta(const TableConfig& config);

// The smallest delta (at VIP and backend grain) that turns `from` into `to`:
// a VIP whose own fields changed is upserted whole, one whose backends
// changed gets backend upserts and deletes. VIPs and backends are matched by
// id.
TableDelta diff_configs(const TableConfig& from, const TableConfig& to);

// Applies `delta` to `config` in the order above: the reference model of a
// delta's meaning (the dataplane's TableBuilder does the same per VIP and
// the tests hold the two to agree). Empty on success; a message when the
// delta names a VIP or backend that is not there, and then `config` is
// unchanged. Validation is the caller's (validate_table_config).
std::string apply_delta(TableConfig& config, const TableDelta& delta);

// Records the delta takes on the ring, begin and commit included.
size_t delta_records(const TableDelta& delta);

}  // namespace sluice
