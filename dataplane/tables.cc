#include "dataplane/tables.h"

#include <cstring>

#include "common/hash.h"
#include "common/net_headers.h"

namespace sluice::dp {

namespace {

inline uint64_t vip_slot_hash(uint8_t family, const uint8_t* address, uint16_t port_be,
                              uint8_t protocol) {
  uint64_t lo, hi;
  std::memcpy(&lo, address, 8);
  std::memcpy(&hi, address + 8, 8);
  const uint64_t tag = (uint64_t{family} << 24) | (uint64_t{protocol} << 16) | port_be;
  return hash_detail::mum(lo ^ hash_detail::kSecret[0], hi ^ tag ^ hash_detail::kSecret[1]);
}

inline bool slot_matches(const VipSlot& s, uint8_t family, const uint8_t* address,
                         uint16_t port_be, uint8_t protocol) {
  return s.family == family && s.port_be == port_be && s.protocol == protocol &&
         std::memcmp(s.address, address, 16) == 0;
}

void insert_slot(TableSnapshot& t, uint8_t family, const uint8_t* address, uint16_t port_be,
                 uint8_t protocol, uint32_t vip_index) {
  uint64_t i = vip_slot_hash(family, address, port_be, protocol) & t.vip_slot_mask;
  while (t.vip_slots[i].family != 0) {
    if (slot_matches(t.vip_slots[i], family, address, port_be, protocol)) return;
    i = (i + 1) & t.vip_slot_mask;
  }
  VipSlot& s = t.vip_slots[i];
  std::memcpy(s.address, address, 16);
  s.port_be = port_be;
  s.protocol = protocol;
  s.family = family;
  s.vip_index = vip_index;
}

}  // namespace

const VipSlot* TableSnapshot::probe(uint8_t family, const uint8_t* address, uint16_t port_be,
                                    uint8_t protocol) const {
  uint64_t i = vip_slot_hash(family, address, port_be, protocol) & vip_slot_mask;
  // The table is at most half full, so a probe always meets an empty slot.
  for (;;) {
    const VipSlot& s = vip_slots[i];
    if (s.family == 0) return nullptr;
    if (slot_matches(s, family, address, port_be, protocol)) return &s;
    i = (i + 1) & vip_slot_mask;
  }
}

const VipEntry* TableSnapshot::find_vip(uint8_t family, const uint8_t* address, uint16_t port_be,
                                        uint8_t protocol) const {
  const VipSlot* s = probe(family, address, port_be, protocol);
  if (s == nullptr && port_be != 0) s = probe(family, address, 0, protocol);
  return s == nullptr ? nullptr : &vips[s->vip_index];
}

bool TableSnapshot::is_vip_address(uint8_t family, const uint8_t* address) const {
  return probe(family, address, 0, kAnyProtocol) != nullptr;
}

std::unique_ptr<TableSnapshot> build_tables(const TableConfig& config, const TableLimits& limits,
                                            uint64_t generation, std::string& error) {
  error = validate_table_config(config, limits);
  if (!error.empty()) return nullptr;

  auto t = std::make_unique<TableSnapshot>();
  t->generation = generation;
  t->backends.assign(size_t{limits.max_backend_id} + 1, BackendEntry{});
  t->vips.reserve(config.vips.size());
  t->maglev.reserve(config.vips.size());

  // Two slots per VIP (exact and address marker), load factor at most 1/2.
  uint64_t slots = 16;
  while (slots < 4 * config.vips.size()) slots <<= 1;
  t->vip_slots.assign(slots, VipSlot{});
  t->vip_slot_mask = slots - 1;

  std::vector<MaglevBackend> turns;
  for (const VipConfig& vip : config.vips) {
    turns.clear();
    for (const BackendConfig& be : vip.backends) {
      BackendEntry& e = t->backends[be.id];
      e.vip_id = vip.id;
      e.family = be.address.family;
      e.keeps_flows = be.state != BackendState::kDisabled;
      std::memcpy(e.address, be.address.bytes, 16);
      // Only active backends take new flows: a draining or disabled backend
      // takes no Maglev turns, so only its own slots move to others.
      const uint32_t weight = be.state == BackendState::kActive ? be.weight : 0;
      turns.push_back(MaglevBackend{be.name, weight, be.id});
    }
    std::vector<uint32_t> table;
    error = maglev_build(turns, vip.table_size, table);
    if (!error.empty()) {
      error = "vip " + format_ip_address(vip.address) + ":" + std::to_string(vip.port) + ": " +
              error;
      return nullptr;
    }
    t->maglev.push_back(std::move(table));
    VipEntry v{};
    v.id = vip.id;
    v.maglev_size = vip.table_size;
    v.maglev = t->maglev.back().data();
    v.family = vip.address.family;
    v.protocol = vip.protocol;
    v.encap = vip.encap;
    v.port_be = net::host_to_be16(vip.port);
    const auto index = static_cast<uint32_t>(t->vips.size());
    t->vips.push_back(v);
    insert_slot(*t, v.family, vip.address.bytes, v.port_be, v.protocol, index);
    insert_slot(*t, v.family, vip.address.bytes, 0, kAnyProtocol, index);
  }
  return t;
}

}  // namespace sluice::dp
