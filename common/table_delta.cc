#include "common/table_delta.h"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace sluice {

namespace {

bool same_vip_fields(const VipConfig& a, const VipConfig& b) {
  return a.address == b.address && a.port == b.port && a.protocol == b.protocol &&
         a.encap == b.encap && a.table_size == b.table_size && a.scheduler == b.scheduler &&
         a.no_backend == b.no_backend && a.slow_start_s == b.slow_start_s;
}

bool same_backend(const BackendConfig& a, const BackendConfig& b) {
  return a.name == b.name && a.address == b.address && a.weight == b.weight &&
         a.state == b.state && a.backup == b.backup;
}

}  // namespace

TableDelta full_delta(const TableConfig& config) {
  TableDelta d;
  d.full = true;
  d.vip_upserts = config.vips;
  return d;
}

TableDelta diff_configs(const TableConfig& from, const TableConfig& to) {
  TableDelta d;
  std::unordered_map<uint32_t, const VipConfig*> old_vips;
  old_vips.reserve(from.vips.size());
  for (const VipConfig& v : from.vips) old_vips.emplace(v.id, &v);
  std::unordered_map<uint32_t, const BackendConfig*> old_backends;
  for (const VipConfig& v : to.vips) {
    const auto it = old_vips.find(v.id);
    if (it == old_vips.end()) {
      d.vip_upserts.push_back(v);
      continue;
    }
    const VipConfig& o = *it->second;
    old_vips.erase(it);
    if (!same_vip_fields(o, v)) {
      d.vip_upserts.push_back(v);
      continue;
    }
    old_backends.clear();
    for (const BackendConfig& be : o.backends) old_backends.emplace(be.id, &be);
    for (const BackendConfig& be : v.backends) {
      const auto b = old_backends.find(be.id);
      if (b == old_backends.end() || !same_backend(*b->second, be)) {
        d.backend_upserts.push_back(BackendUpsert{v.id, be});
      }
      if (b != old_backends.end()) old_backends.erase(b);
    }
    for (const auto& [id, be] : old_backends) d.backend_deletes.push_back(BackendDelete{v.id, id});
  }
  for (const auto& [id, v] : old_vips) d.vip_deletes.push_back(id);
  return d;
}

std::string apply_delta(TableConfig& config, const TableDelta& delta) {
  TableConfig next = delta.full ? TableConfig{} : config;
  auto find = [&](uint32_t id) -> VipConfig* {
    for (VipConfig& v : next.vips) {
      if (v.id == id) return &v;
    }
    return nullptr;
  };
  for (uint32_t id : delta.vip_deletes) {
    const auto before = next.vips.size();
    std::erase_if(next.vips, [&](const VipConfig& v) { return v.id == id; });
    if (next.vips.size() == before) return "vip id " + std::to_string(id) + ": no such VIP";
  }
  for (size_t i = 0; i < delta.vip_upserts.size(); ++i) {
    const VipConfig& vip = delta.vip_upserts[i];
    for (size_t j = 0; j < i; ++j) {
      if (delta.vip_upserts[j].id == vip.id) return vip_id_conflict(vip);
    }
    if (VipConfig* v = find(vip.id)) {
      *v = vip;
    } else {
      next.vips.push_back(vip);
    }
  }
  for (const BackendDelete& d : delta.backend_deletes) {
    VipConfig* v = find(d.vip_id);
    if (v == nullptr) return "vip id " + std::to_string(d.vip_id) + ": no such VIP";
    const auto before = v->backends.size();
    std::erase_if(v->backends, [&](const BackendConfig& b) { return b.id == d.backend_id; });
    if (v->backends.size() == before) {
      return "vip id " + std::to_string(d.vip_id) + ": no backend with id " +
             std::to_string(d.backend_id);
    }
  }
  for (const BackendUpsert& u : delta.backend_upserts) {
    VipConfig* v = find(u.vip_id);
    if (v == nullptr) return "vip id " + std::to_string(u.vip_id) + ": no such VIP";
    auto it = std::find_if(v->backends.begin(), v->backends.end(),
                           [&](const BackendConfig& b) { return b.id == u.backend.id; });
    if (it == v->backends.end()) {
      v->backends.push_back(u.backend);
    } else {
      *it = u.backend;
    }
  }
  config = std::move(next);
  return {};
}

size_t delta_records(const TableDelta& d) {
  size_t n = 2 + d.vip_deletes.size() + d.backend_deletes.size() + d.backend_upserts.size();
  for (const VipConfig& v : d.vip_upserts) n += 1 + v.backends.size();
  return n;
}

}  // namespace sluice
