// The steering program's VIP map keys for a table snapshot's VipIndex
// (dataplane/xdp/steer_shared.h): one per VipIndex key, exact keys and
// address markers alike. lb-dataplane's map sync and the tests that run
// the program against the worker's fixtures both use it, so the map holds
// what the worker's index holds. Any thread.
#pragma once

#include <cstring>

#include "common/vip_index.h"
#include "dataplane/xdp/steer_shared.h"

namespace sluice::dp {

template <class F>
void for_each_steering_key(const VipIndex& index, F&& f) {
  index.for_each_key([&](const VipSlot& s) {
    sluice_vip_key k{};
    std::memcpy(k.address, s.address, sizeof k.address);
    k.port_be = s.port_be;
    k.protocol = s.protocol;
    k.family = s.family;
    f(k);
  });
}

}  // namespace sluice::dp
