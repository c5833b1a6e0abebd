#include "dataplane/table_builder.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <optional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/config_digest.h"
#include "common/net_headers.h"

namespace sluice::dp {

namespace {

// Reverts the key and backend-id index edits of a build that is refused
// half way (the indices are edited in place: copying them would make every
// change cost the whole configuration).
template <typename Map>
struct IndexEdits {
  Map& map;
  std::vector<std::pair<typename Map::key_type, uint32_t>> removed;
  std::vector<typename Map::key_type> added;
  bool committed = false;

  explicit IndexEdits(Map& m) : map(m) {}
  ~IndexEdits() {
    if (committed) return;
    for (const auto& k : added) map.erase(k);
    for (const auto& [k, owner] : removed) map[k] = owner;
  }
  void remove(const typename Map::key_type& k) {
    const auto it = map.find(k);
    if (it == map.end()) return;
    removed.emplace_back(k, it->second);
    map.erase(it);
  }
  // False if another owner has it.
  bool add(const typename Map::key_type& k, uint32_t owner) {
    const auto [it, fresh] = map.emplace(k, owner);
    if (!fresh) return false;
    try {
      added.push_back(k);
    } catch (...) {
      map.erase(it);
      throw;
    }
    return true;
  }
};

}  // namespace

TableBuilder::VipKeyTuple TableBuilder::key_of(const VipConfig& vip) {
  uint64_t lo, hi;
  std::memcpy(&lo, vip.address.bytes, 8);
  std::memcpy(&hi, vip.address.bytes + 8, 8);
  return {vip.address.family, lo, hi, vip.port, vip.protocol};
}

TableBuilder::Result TableBuilder::build(const TableDelta& delta, uint64_t generation,
                                         const BuildProgress& progress) {
  Result r;
  auto refuse = [&](std::string error) {
    r.error = std::move(error);
    return std::move(r);
  };
  IndexEdits keys(key_owner_);
  IndexEdits backends(backend_owner_);
  try {
    // 1. The next version of every VIP the delta touches (nullopt: deleted).
    std::map<uint32_t, std::optional<VipConfig>> next;
    auto current = [&](uint32_t id) -> const VipConfig* {
      if (const auto n = next.find(id); n != next.end()) return n->second ? &*n->second : nullptr;
      const auto v = vips_.find(id);
      return v == vips_.end() ? nullptr : &v->second->config;
    };
    auto editable = [&](uint32_t id) -> VipConfig* {
      const VipConfig* c = current(id);
      if (c == nullptr) return nullptr;
      auto& slot = next[id];
      if (!slot) slot = *c;
      return &*slot;
    };
    if (delta.full) {
      for (const auto& [id, built] : vips_) next[id] = std::nullopt;
    }
    for (uint32_t id : delta.vip_deletes) {
      if (current(id) == nullptr) return refuse("vip id " + std::to_string(id) + ": no such VIP");
      next[id] = std::nullopt;
    }
    std::map<uint32_t, bool> upserted;
    for (const VipConfig& vip : delta.vip_upserts) {
      if (!upserted.emplace(vip.id, true).second) return refuse(vip_id_conflict(vip));
      next[vip.id] = vip;
    }
    for (const BackendDelete& d : delta.backend_deletes) {
      VipConfig* vip = editable(d.vip_id);
      if (vip == nullptr) return refuse("vip id " + std::to_string(d.vip_id) + ": no such VIP");
      auto& list = vip->backends;
      const auto it = std::find_if(list.begin(), list.end(),
                                   [&](const BackendConfig& b) { return b.id == d.backend_id; });
      if (it == list.end()) {
        return refuse("vip id " + std::to_string(d.vip_id) + ": no backend with id " +
                      std::to_string(d.backend_id));
      }
      list.erase(it);
    }
    for (const BackendUpsert& u : delta.backend_upserts) {
      VipConfig* vip = editable(u.vip_id);
      if (vip == nullptr) return refuse("vip id " + std::to_string(u.vip_id) + ": no such VIP");
      auto& list = vip->backends;
      const auto it = std::find_if(list.begin(), list.end(),
                                   [&](const BackendConfig& b) { return b.id == u.backend.id; });
      if (it == list.end()) {
        list.push_back(u.backend);
      } else {
        *it = u.backend;
      }
    }

    // 2. Each touched VIP alone, then the rules across VIPs.
    size_t count = vips_.size();
    for (const auto& [id, vip] : next) {
      const bool existed = vips_.count(id) != 0;
      if (vip) {
        if (std::string e = validate_vip_config(*vip, limits_); !e.empty()) return refuse(e);
        if (vip->id != id) return refuse(vip_id_conflict(*vip));
        count += existed ? 0 : 1;
      } else {
        count -= existed ? 1 : 0;
      }
    }
    if (count > limits_.max_vips) {
      return refuse("vips: " + std::to_string(count) + " VIPs exceed the limit of " +
                    std::to_string(limits_.max_vips));
    }
    uint64_t memory = memory_bytes_;
    for (const auto& [id, vip] : next) {
      if (const auto old = vips_.find(id); old != vips_.end()) {
        keys.remove(key_of(old->second->config));
        for (const BackendConfig& be : old->second->config.backends) backends.remove(be.id);
        memory -= old->second->memory;
      }
    }
    for (const auto& [id, vip] : next) {
      if (!vip) continue;
      if (!keys.add(key_of(*vip), id)) return refuse(vip_key_conflict(*vip));
      for (const BackendConfig& be : vip->backends) {
        if (!backends.add(be.id, id)) return refuse(backend_id_conflict(*vip, be));
      }
      memory += vip_table_memory_bytes(*vip);
    }
    if (limits_.table_memory_budget != 0 && memory > limits_.table_memory_budget) {
      return refuse(memory_budget_error(memory, limits_.table_memory_budget));
    }

    // 3. Maglev tables: rebuilt where their inputs changed, shared otherwise.
    uint32_t total = 0;
    bool same_keys = true;  // no VIP comes, goes or moves to another key
    for (const auto& [id, vip] : next) {
      total += vip ? 1 : 0;
      const auto old = vips_.find(id);
      same_keys = same_keys && vip && old != vips_.end() && key_of(old->second->config) == key_of(*vip);
    }
    if (progress.done_vips != nullptr) progress.done_vips->store(0, std::memory_order_relaxed);
    if (progress.total_vips != nullptr) progress.total_vips->store(total, std::memory_order_release);
    std::vector<std::pair<uint32_t, std::shared_ptr<BuiltVip>>> built;
    built.reserve(next.size());
    std::vector<std::pair<VipConfig*, BuiltVip*>> to_build;  // Maglev inputs changed
    for (auto& [id, vip] : next) {
      if (!vip) {
        built.emplace_back(id, nullptr);
        continue;
      }
      auto b = std::make_shared<BuiltVip>();
      const auto old = vips_.find(id);
      if (old != vips_.end() && same_maglev_inputs(old->second->config, *vip)) {
        b->maglev = old->second->maglev;
      } else {
        to_build.emplace_back(&*vip, b.get());
      }
      built.emplace_back(id, std::move(b));
    }
    if (std::string e = build_tables(to_build, progress, total - static_cast<uint32_t>(
                                                             to_build.size()));
        !e.empty()) {
      return refuse(std::move(e));
    }
    r.rebuilt_vips = static_cast<uint32_t>(to_build.size());
    for (auto& [id, b] : built) {
      if (!b) continue;
      VipConfig& vip = *next[id];
      b->digest = vip_digest(vip);
      b->memory = vip_table_memory_bytes(vip);
      b->config = std::move(vip);
    }

    // 4. Commit, then the snapshot. Map nodes for new VIPs are made first,
    // so that the commit itself cannot fail half way; if the snapshot
    // cannot be made, the previous VIP versions go back.
    for (const auto& [id, b] : built) {
      if (b != nullptr) vips_.try_emplace(id, nullptr);
    }
    Previous previous;
    previous.reserve(built.size());
    uint64_t digest = digest_;
    for (auto& [id, b] : built) {
      auto it = vips_.find(id);
      if (it == vips_.end()) continue;  // a delete of a VIP that never was
      previous.emplace_back(id, it->second);
      if (it->second) digest -= it->second->digest;
      if (b) digest += b->digest;
      it->second = std::move(b);
    }
    auto restore = [&] {
      for (auto& [id, b] : previous) vips_[id] = std::move(b);
      std::erase_if(vips_, [](const auto& kv) { return kv.second == nullptr; });
    };
    try {
      if (same_keys && last_) {
        patch_last(generation, previous);
      } else {
        std::erase_if(vips_, [](const auto& kv) { return kv.second == nullptr; });
        rebuild_last(generation);
      }
      r.snapshot = std::make_unique<TableSnapshot>(*last_);
    } catch (...) {
      restore();
      last_.reset();  // rebuilt whole next time
      throw;
    }
    keys.committed = backends.committed = true;
    memory_bytes_ = memory;
    digest_ = digest;
    r.changed.reserve(previous.size());
    for (const auto& [id, before] : previous) {
      const auto now = vips_.find(id);
      r.changed.emplace_back(before, now == vips_.end() ? nullptr : now->second);
    }
    return r;
  } catch (const std::bad_alloc&) {
    return refuse("out of memory while building the tables; the previous tables stay");
  }
}

void TableBuilder::patch_last(uint64_t generation, const Previous& previous) {
  TableSnapshot& t = *last_;
  t.generation = generation;
  // Old entries first, all of them: a backend id may move between VIPs.
  for (const auto& [id, old] : previous) {
    if (!old) continue;
    for (const BackendConfig& be : old->config.backends) {
      if (t.backends[be.id].vip_id == id) t.backends[be.id] = BackendEntry{};
    }
  }
  for (const auto& [id, old] : previous) {
    const BuiltVip& now = *vips_.at(id);
    set_backends(t, now.config);
    const uint32_t pos = position_.at(id);
    t.maglev[pos] = now.maglev;
    t.vips[pos] = vip_entry(now);
  }
}

void TableBuilder::rebuild_last(uint64_t generation) {
  auto t = std::make_unique<TableSnapshot>();
  t->generation = generation;
  t->backends.assign(size_t{limits_.max_backend_id} + 1, BackendEntry{});
  t->vips.reserve(vips_.size());
  t->maglev.reserve(vips_.size());
  t->vip_index.reset(vips_.size());
  std::unordered_map<uint32_t, uint32_t> position;
  position.reserve(vips_.size());
  for (const auto& [id, built] : vips_) {
    set_backends(*t, built->config);
    const auto index = static_cast<uint32_t>(t->vips.size());
    t->maglev.push_back(built->maglev);
    t->vips.push_back(vip_entry(*built));
    const VipEntry& v = t->vips.back();
    t->vip_index.add(v.family, built->config.address.bytes, v.port_be, v.protocol, index);
    position.emplace(id, index);
  }
  last_ = std::move(t);
  position_ = std::move(position);
}

void TableBuilder::set_backends(TableSnapshot& t, const VipConfig& vip) {
  for (const BackendConfig& be : vip.backends) {
    BackendEntry& e = t.backends[be.id];
    e.vip_id = vip.id;
    e.family = be.address.family;
    e.keeps_flows = be.state != BackendState::kDisabled;
    std::memcpy(e.address, be.address.bytes, 16);
  }
}

VipEntry TableBuilder::vip_entry(const BuiltVip& built) {
  const VipConfig& vip = built.config;
  VipEntry v{};
  v.id = vip.id;
  v.maglev_size = vip.table_size;
  const MaglevTable& tables = *built.maglev;
  v.maglev = tables.slots.data();
  // The existing-flows table follows the new-flows one when a backend
  // drains (build_vip_tables); otherwise they are the same slots.
  v.maglev_existing =
      tables.slots.size() > vip.table_size ? v.maglev + vip.table_size : v.maglev;
  v.family = vip.address.family;
  v.protocol = vip.protocol;
  v.encap = vip.encap;
  v.scheduler = vip.scheduler;
  v.no_backend = vip.no_backend;
  v.port_be = net::host_to_be16(vip.port);
  v.candidates.ids = tables.candidate_ids.data();
  v.candidates.cumulative = tables.candidate_cumulative.data();
  v.candidates.count = static_cast<uint32_t>(tables.candidate_ids.size());
  return v;
}

std::string TableBuilder::build_tables(const std::vector<std::pair<VipConfig*, BuiltVip*>>& work,
                                       const BuildProgress& progress, uint32_t already_done) {
  // VIPs whose table is shared count as done from the start.
  std::atomic<uint32_t> done{already_done};
  if (progress.done_vips != nullptr) progress.done_vips->store(already_done, std::memory_order_release);
  std::atomic<size_t> next_item{0};
  std::atomic<uint64_t> built_bytes{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // guards error and oom
  std::string error;
  bool oom = false;
  auto worker = [&] {
    for (size_t i; !failed.load(std::memory_order_relaxed) &&
                   (i = next_item.fetch_add(1, std::memory_order_relaxed)) < work.size();) {
      auto fail = [&](std::string e, bool out_of_memory) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failed.exchange(true)) {
          error = std::move(e);
          oom = out_of_memory;
        }
      };
      if (progress.cancel != nullptr && progress.cancel->load(std::memory_order_relaxed)) {
        fail("the build was cancelled: lb-dataplane is stopping", false);
        return;
      }
      const VipConfig& vip = *work[i].first;
      try {
        if (faults_.delay_ns_per_vip != 0) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(faults_.delay_ns_per_vip));
        }
        const uint64_t table_bytes = (needs_existing_flows_table(vip) ? 2 : 1) *
                                     uint64_t{vip.table_size} * sizeof(uint32_t);
        const uint64_t bytes = built_bytes.fetch_add(table_bytes) + table_bytes;
        if (faults_.alloc_fail_after_bytes != 0 && bytes > faults_.alloc_fail_after_bytes) {
          throw std::bad_alloc();
        }
        auto table = std::make_shared<MaglevTable>();
        if (std::string e = build_vip_tables(vip, table->slots); !e.empty()) {
          fail("vip id " + std::to_string(vip.id) + ": " + e, false);
          return;
        }
        vip_candidates(vip, table->candidate_ids, table->candidate_cumulative);
        work[i].second->maglev = std::move(table);
      } catch (const std::bad_alloc&) {
        fail({}, true);
        return;
      }
      const uint32_t d = done.fetch_add(1, std::memory_order_relaxed) + 1;
      if (progress.done_vips != nullptr) progress.done_vips->store(d, std::memory_order_release);
    }
  };
  // The calling thread is one of the builders.
  const size_t helpers = std::min<size_t>(threads_ - 1, work.size() > 1 ? work.size() - 1 : 0);
  std::vector<std::thread> pool;
  pool.reserve(helpers);
  try {
    for (size_t t = 0; t < helpers; ++t) pool.emplace_back(worker);
  } catch (const std::system_error&) {
    // No more threads: the ones we have do the work.
  }
  worker();
  for (std::thread& t : pool) t.join();
  if (oom) throw std::bad_alloc();
  return error;
}

TableConfig TableBuilder::applied_config() const {
  TableConfig c;
  c.vips.reserve(vips_.size());
  for (const auto& [id, built] : vips_) c.vips.push_back(built->config);
  return c;
}

}  // namespace sluice::dp
