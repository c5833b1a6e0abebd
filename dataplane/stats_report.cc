#include "dataplane/stats_report.h"

#include <nlohmann/json.hpp>

#include "common/ip_address.h"

namespace sluice::dp {

namespace {

uint64_t read(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

nlohmann::json traffic(const std::vector<std::unique_ptr<WorkerContext>>& workers, uint32_t id,
                       bool vip) {
  uint64_t packets = 0, bytes = 0, new_flows = 0;
  for (const auto& w : workers) {
    const TrafficCounters& c = vip ? w->vip_counters()[id] : w->backend_counters()[id];
    packets += read(c.packets);
    bytes += read(c.bytes);
    new_flows += read(c.new_flows);
  }
  return {{"packets", packets}, {"bytes", bytes}, {"new_flows", new_flows}};
}

}  // namespace

std::string counters_json(const std::vector<std::unique_ptr<WorkerContext>>& workers,
                          const TableSnapshot& tables) {
  nlohmann::json counters = nlohmann::json::object();
  for (size_t i = 0; i < kCounterCount; ++i) {
    uint64_t sum = 0;
    for (const auto& w : workers) sum += read(w->counters().value[i]);
    counters[kCounterInfo[i].name] = sum;
  }
  nlohmann::json vips = nlohmann::json::object();
  for (const VipEntry& v : tables.vips) vips[std::to_string(v.id)] = traffic(workers, v.id, true);
  nlohmann::json backends = nlohmann::json::object();
  for (uint32_t id = 1; id < tables.backends.size(); ++id) {
    if (tables.backends[id].vip_id == 0) continue;
    IpAddress addr;
    addr.family = tables.backends[id].family;
    std::memcpy(addr.bytes, tables.backends[id].address, 16);
    nlohmann::json b = traffic(workers, id, false);
    b["address"] = format_ip_address(addr);
    backends[std::to_string(id)] = std::move(b);
  }
  return nlohmann::json{{"generation", tables.generation},
                        {"counters", counters},
                        {"vips", vips},
                        {"backends", backends}}
      .dump();
}

}  // namespace sluice::dp
