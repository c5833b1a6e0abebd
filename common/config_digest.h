// The configuration digest (DESIGN.md sections 4 and 8), computed by one
// function on both sides: the dataplane publishes the digest of what it
// applied, the control plane compares it with the digest of what it holds
// (divergence means the whole state is pushed again), and operators compare
// it across hosts. It covers everything that decides where a flow goes:
// VIP ids, keys, encapsulation, table sizes, backend ids, names, addresses,
// weights and states.
//
// The digest of a configuration is the wrapping sum of its VIPs' digests,
// and a VIP's digest does not depend on the order of its backends: so it is
// the same whatever order VIPs and backends arrive in, and the dataplane
// keeps it up to date per changed VIP (subtract the old, add the new)
// instead of rehashing everything. Pure functions; any thread.
#pragma once

#include <cstdint>

#include "common/table_config.h"

namespace sluice {

uint64_t vip_digest(const VipConfig& vip);
uint64_t config_digest(const TableConfig& config);

}  // namespace sluice
