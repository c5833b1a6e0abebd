// The control API's operations (docs/control-api.md, "Operations"): reading
// the arguments, the query answers, and the candidate state of each change.
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/control_segment.h"
#include "common/conn_state.h"
#include "common/ip_address.h"
#include "common/next_hop_mac.h"
#include "controlplane/bgp_service.h"
#include "controlplane/controller.h"
#include "controlplane/flow_entries.h"
#include "controlplane/request_args.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

double seconds(uint64_t ns) { return static_cast<double>(ns / 1000000) / 1000.0; }

uint64_t unix_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Counters are plain per-lcore increments by the workers; read them relaxed
// (a torn value is impossible for an aligned 64-bit load, staleness is fine).
uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

json counters_json(const TrafficCounters& sum) {
  return json{{"packets", sum.packets}, {"bytes", sum.bytes}, {"new_flows", sum.new_flows}};
}

// A backend's: its traffic, and the workers' connection-table entries for
// it by class (what least-connections counts; common/counters.h).
json backend_counters_json(const TrafficCounters& sum) {
  json c = counters_json(sum);
  c["active"] = entries_of_class(sum.active_in, sum.active_out);
  c["inactive"] = entries_of_class(sum.inactive_in, sum.inactive_out);
  return c;
}

}  // namespace

// The one table of operations (docs/control-api.md, "Operations"): each
// declared once, with its kind (a query or a mutation) and its handler.
std::span<const Controller::Operation> Controller::operations() {
  static const Operation kOperations[] = {
      {"status", &Controller::op_status, nullptr},
      {"stats", &Controller::op_stats, nullptr},
      {"log", &Controller::op_log, nullptr},
      {"vip.list", &Controller::op_vip_list, nullptr},
      {"vip.show", &Controller::op_vip_show, nullptr},
      {"backend.list", &Controller::op_backend_list, nullptr},
      {"config.check", &Controller::op_config_check, nullptr},
      {"config.export", &Controller::op_config_export, nullptr},
      {"flow.explain", &Controller::op_flow_explain, nullptr},
      {"health.show", &Controller::op_health_show, nullptr},
      {"health.set", nullptr, &Controller::op_health_set},
      {"bgp.show", &Controller::op_bgp_show, nullptr},
      {"host.drain", &Controller::op_host_drain, nullptr},
      {"host.undrain", &Controller::op_host_undrain, nullptr},
      {"vip.add", nullptr, &Controller::op_vip_add},
      {"vip.del", nullptr, &Controller::op_vip_del},
      {"backend.add", nullptr, &Controller::op_backend_add},
      {"backend.del", nullptr, &Controller::op_backend_del},
      {"backend.set", nullptr, &Controller::op_backend_set},
      {"vip.set", nullptr, &Controller::op_vip_set},
      {"config.apply", nullptr, &Controller::op_config_apply},
  };
  return kOperations;
}

const Controller::Operation* Controller::find_operation(const std::string& name) {
  for (const Operation& op : operations()) {
    if (name == op.name) return &op;
  }
  return nullptr;
}

json Controller::op_status(const RequestArgs& args) {
  if (auto e = args.only({})) return error_answer(*e);
  const uint64_t now_ns = monotonic_ns();
  link_.refresh(now_ns);
  json dp;
  if (link_.alive(now_ns)) {
    const SegmentHeader& h = link_.segment()->header();
    const uint64_t wall = unix_ns();
    dp = json{{"attached", true},
              {"instance", link_.instance()},
              {"boot_id", hex64(h.boot_id)},
              {"pid", h.pid},
              {"hash_seed", h.hash_seed},
              {"generation", h.applied_generation.load(std::memory_order_acquire)},
              {"config_digest", hex64(link_.applied_digest())},
              {"lcores", h.worker_lcores},
              {"uptime_s", seconds(wall > h.start_unix_ns ? wall - h.start_unix_ns : 0)},
              {"heartbeat_age_ms", link_.heartbeat_age_ns(now_ns) / 1000000},
              {"table_memory_used_bytes", h.table_memory_used.load(std::memory_order_relaxed)},
              {"table_memory_budget_bytes", h.table_memory_budget.load(std::memory_order_relaxed)},
              {"refused_transactions", h.refused_transactions.load(std::memory_order_relaxed)}};
    const DataplaneLink::Build b = link_.build(now_ns);
    dp["building"] = b.active ? json{{"generation", b.generation},
                                     {"done_vips", b.done_vips},
                                     {"total_vips", b.total_vips},
                                     {"elapsed_s", seconds(b.elapsed_ns)}}
                              : json(nullptr);
    // The ports as the dataplane described them at start, with the link
    // state and MTU its main loop refreshes about once a second.
    auto text = [](const char* bytes, size_t size) {
      std::string t(bytes, strnlen(bytes, size));
      for (char& c : t) c = c >= 0x20 && c < 0x7f ? c : '?';  // shared memory: printable only
      return t;
    };
    json ports = json::array();
    const uint32_t n_ports =
        std::min(h.port_count.load(std::memory_order_acquire), kMaxSegmentPorts);
    for (uint32_t i = 0; i < n_ports; ++i) {
      const PortStatus& p = h.ports[i];
      const uint64_t link = p.link.load(std::memory_order_relaxed);
      ports.push_back(json{{"port_id", p.port_id},
                           {"role", port_role_name(p.role)},
                           {"name", text(p.name, sizeof p.name)},
                           {"driver", text(p.driver, sizeof p.driver)},
                           {"mac", format_mac_address(p.mac)},
                           {"link_up", (link & 1) != 0},
                           {"speed_mbps", link >> 32},
                           {"mtu", p.mtu.load(std::memory_order_relaxed)},
                           {"query_errors", p.query_errors.load(std::memory_order_relaxed)},
                           {"xdp", xdp_mode_name(p.xdp_mode.load(std::memory_order_relaxed))}});
    }
    dp["ports"] = std::move(ports);
    // Where encapsulated packets go, per family: the MAC in use (from
    // --next-hop-mac, or resolved by the kernel for --next-hop-ip) and when
    // it last changed.
    json next_hops = json::array();
    for (const NextHopStatus& n : h.next_hops) {
      // Acquire: pairs with the dataplane's release of source after
      // family and address.
      const uint32_t source = n.source.load(std::memory_order_acquire);
      const uint8_t family = n.family == 6 ? 6 : 4;
      const uint64_t packed = n.mac.load(std::memory_order_relaxed);
      const uint64_t changed = n.changed_unix_ns.load(std::memory_order_relaxed);
      json entry{{"family", family}, {"source", next_hop_source_name(source)}};
      if (source == static_cast<uint32_t>(NextHopSource::kKernel)) {
        IpAddress a;
        a.family = family;
        std::memcpy(a.bytes, n.address, family == 4 ? 4 : 16);
        entry["address"] = format_ip_address(a);
      }
      if (packed_mac_known(packed)) {
        uint8_t mac[6];
        unpack_mac(packed, mac);
        entry["mac"] = format_mac_address(mac);
      } else {
        entry["mac"] = nullptr;
      }
      entry["changes"] = n.changes.load(std::memory_order_relaxed);
      entry["changed_ago_s"] =
          changed == 0 ? json(nullptr) : json(seconds(wall > changed ? wall - changed : 0));
      next_hops.push_back(std::move(entry));
    }
    dp["next_hops"] = std::move(next_hops);
  } else {
    dp =
        json{{"attached", false}, {"instance", link_.instance()}, {"reason", link_.reason(now_ns)}};
  }
  json cp = {{"uptime_s", seconds(now_ns - started_ns_)},
             {"state_file", config_.state_file},
             {"vips", state_.config.vips.size()},
             {"backends", backend_count(state_.config)},
             {"config_digest", hex64(desired_digest_)},
             {"in_sync", in_sync(now_ns)},
             {"push_in_flight", pending_.has_value()},
             {"queued_changes", queue_.size()},
             {"transactions_pushed", transactions_pushed_},
             {"changes_pushed", changes_pushed_}};
  if (!sync_error_.empty()) cp["sync_error"] = sync_error_;
  if (!adopted_.is_null()) cp["adopted"] = adopted_;
  if (api_server_ != nullptr) {
    const ApiServerCounters& c = api_server_->counters();
    cp["api"] = {{"connections", api_server_->active_connections()},
                 {"max_clients", api_server_->limits().max_clients},
                 {"accepted", c.accepted},
                 {"refused_busy", c.refused_busy},
                 {"evicted_idle", c.evicted_idle},
                 {"idle_timeouts", c.idle_timeouts},
                 {"too_long", c.too_long},
                 {"empty_lines", c.empty_lines}};
  }
  // A lost audit line never blocks a change (audit_log.h); it shows here.
  if (health_ != nullptr) cp["health"] = health_->status_view();
  cp["audit_log"] = {{"path", audit_.path().empty() ? json(nullptr) : json(audit_.path())},
                     {"write_errors", audit_.write_errors()},
                     {"lines", audit_.lines_written()},
                     {"reopened", audit_.reopens()},
                     {"rotations", audit_.rotations()},
                     {"max_bytes", audit_.rotation().max_bytes},
                     {"keep", audit_.rotation().keep}};
  json answer = {{"dataplane", std::move(dp)}, {"controlplane", std::move(cp)}};
  // What an operator compares across hosts (DESIGN.md section 8): the
  // digests above, the hash seed and each VIP's announcement.
  answer["bgp"] = bgp_ != nullptr ? bgp_->status_view(now_ns) : json{{"enabled", false}};
  return ok_answer(std::move(answer));
}

// Every counter of the one list (common/counters.h), summed over the worker
// lcores; names come from kCounterInfo and nowhere else.
json Controller::op_stats(const RequestArgs& args) {
  if (auto e = args.only({})) return error_answer(*e);
  const uint64_t now_ns = monotonic_ns();
  link_.refresh(now_ns);
  if (!link_.alive(now_ns)) return ok_answer(json{{"attached", false}});
  ControlSegment& seg = *link_.segment();
  const SegmentHeader& h = seg.header();
  const uint32_t lcores = h.worker_lcores;
  // One read per lcore block: the totals are the sum of exactly the
  // per-lcore values shown, so the two always agree.
  uint64_t sum[kCounterCount] = {};
  json per_lcore = json::array();
  for (uint32_t lcore = 0; lcore < lcores; ++lcore) {
    const LcoreCounters& c = *seg.lcore_counters(lcore);
    json mine = json::object();
    for (size_t i = 0; i < kCounterCount; ++i) {
      const uint64_t v = load(c.value[i]);
      sum[i] += v;
      mine[kCounterInfo[i].name] = v;
    }
    per_lcore.push_back(json{{"lcore", lcore}, {"counters", std::move(mine)}});
  }
  json counters = json::object();
  for (size_t i = 0; i < kCounterCount; ++i) counters[kCounterInfo[i].name] = sum[i];
  // Per VIP and backend, in the order of vip.list (ipvsadm --stats).
  json vips = json::array();
  for (const VipConfig& vip : state_.config.vips) {
    json backends = json::array();
    for (const BackendConfig& be : vip.backends) {
      json b = counters_json(seg.backend_traffic(be.id));
      b["name"] = be.name;
      backends.push_back(std::move(b));
    }
    json v = counters_json(seg.vip_traffic(vip.id));
    v["key"] = format_vip_key(vip);
    // Drops of packets to this VIP, by the reasons a VIP can be known for.
    const VipDropCounters vd = seg.vip_drops(vip.id);
    json drops = json::object();
    for (size_t r = 0; r < kVipDropReasonCount; ++r) drops[counter_name(kVipDropReasons[r])] = vd.value[r];
    v["drops"] = std::move(drops);
    v["backends"] = std::move(backends);
    vips.push_back(std::move(v));
  }
  // The AF_XDP steering program's counters, per port that runs it
  // (common/control_segment.h SLUICE_XDP_STATS).
  json xdp = json::array();
  const uint32_t n_ports = std::min(h.port_count.load(std::memory_order_acquire), kMaxSegmentPorts);
  for (uint32_t i = 0; i < n_ports; ++i) {
    const PortStatus& p = h.ports[i];
    const uint32_t mode = p.xdp_mode.load(std::memory_order_relaxed);
    if (static_cast<XdpMode>(mode) != XdpMode::kSteering) continue;
    json x = {{"port_id", p.port_id},
              {"program", xdp_mode_name(mode)},
              {"vip_keys", p.xdp_keys.load(std::memory_order_relaxed)},
              {"sync_errors", p.xdp_sync_errors.load(std::memory_order_relaxed)}};
    for (size_t s = 0; s < kXdpStatCount; ++s) {
      x[kXdpStatInfo[s].field] = p.xdp_stats[s].load(std::memory_order_relaxed);
    }
    xdp.push_back(std::move(x));
  }
  return ok_answer(json{{"attached", true},
                        {"lcores", lcores},
                        {"boot_id", hex64(h.boot_id)},
                        // worker_busy_cycles' unit: /metrics shows it in seconds.
                        {"tsc_hz", h.tsc_hz},
                        // The control plane's CLOCK_MONOTONIC at the read: rates divide by
                        // the daemon's own interval between two answers.
                        {"at_ns", now_ns},
                        {"counters", std::move(counters)},
                        {"per_lcore", std::move(per_lcore)},
                        {"xdp", std::move(xdp)},
                        {"vips", std::move(vips)}});
}

// The audit log's recent lines (audit_log.h keeps the last 1,000), for
// lbctl log: the last `lines` numbered above `after` (a follower passes the
// `next` it got back).
json Controller::op_log(const RequestArgs& args) {
  if (auto e = args.only({"lines", "after"})) return error_answer(*e);
  uint64_t lines = 20, after = 0;
  if (args.has("lines")) {
    if (auto e = args.uint("lines", AuditLog::kRecentLines, lines)) return error_answer(*e);
  }
  if (args.has("after")) {
    if (auto e = args.uint("after", UINT64_MAX, after)) return error_answer(*e);
  }
  json entries = json::array();
  uint64_t next = after;
  for (const auto& [number, line] : audit_.recent(after, lines)) {
    json entry = json::parse(line, nullptr, false);
    if (entry.is_discarded()) entry = json{{"unparsed", line}};  // a foreign line in the file
    entries.push_back(json{{"n", number}, {"entry", std::move(entry)}});
    next = number;
  }
  return ok_answer(json{{"path", audit_.path().empty() ? json(nullptr) : json(audit_.path())},
                        {"entries", std::move(entries)},
                        {"next", std::max(next, audit_.next_number() - 1)}});
}

const VipConfig* Controller::queried_vip(const RequestArgs& args, json& error) const {
  VipKey key;
  if (auto e = args.only({"vip"})) {
    error = error_answer(*e);
  } else if (auto e2 = args.vip_key("vip", key)) {
    error = error_answer(*e2);
  } else if (const VipConfig* vip = find_vip(state_, key)) {
    return vip;
  } else {
    error = error_answer(vip_not_found(key));
  }
  return nullptr;
}

json Controller::op_vip_list(const RequestArgs& args) {
  if (auto e = args.only({})) return error_answer(*e);
  json vips = json::array();
  for (const VipConfig& vip : state_.config.vips) vips.push_back(vip_health_view(vip));
  return ok_answer(json{{"vips", std::move(vips)}});
}

json Controller::op_backend_list(const RequestArgs& args) {
  json error;
  const VipConfig* vip = queried_vip(args, error);
  if (vip == nullptr) return error;
  json backends = json::array();
  for (const BackendConfig& be : vip->backends) backends.push_back(backend_health_view(be));
  add_effective_weights(*vip, backends);
  return ok_answer(json{{"backends", std::move(backends)}});
}

// An empty configuration deletes every VIP: only on purpose.
static std::optional<ApiError> empty_config_refusal(const RequestArgs& args, const TableConfig& config) {
  bool allow_empty = false;
  if (auto e = args.boolean("allow_empty", allow_empty)) return e;
  if (!config.vips.empty() || allow_empty) return std::nullopt;
  return invalid_error("vips",
                       "an empty configuration deletes every VIP; to mean it, pass allow_empty "
                       "(lbctl config apply --allow-empty)");
}

json Controller::op_config_check(const RequestArgs& args) {
  TableConfig config;
  if (auto e = args.only({"config", "allow_empty"})) return error_answer(*e);
  if (auto e = args.config("config", config)) return error_answer(*e);
  if (auto e = empty_config_refusal(args, config)) return error_answer(*e);
  State next = state_;
  ApplySummary summary;
  if (auto e = apply_config(next, std::move(config), limits(), summary)) return error_answer(*e);
  return ok_answer(json{{"valid", true}});
}

json Controller::op_config_export(const RequestArgs& args) {
  if (auto e = args.only({"applied"})) return error_answer(*e);
  bool applied = false;
  if (auto e = args.boolean("applied", applied)) return error_answer(*e);
  if (!applied) return ok_answer(json{{"config", config_view(state_.config)}});
  now_ns_ = monotonic_ns();
  link_.refresh(now_ns_);
  if (!link_.alive(now_ns_)) {
    return error_answer(ApiError{ErrorCode::kDataplane,
                                 "no dataplane attached: " + link_.reason(now_ns_), "applied"});
  }
  std::optional<TableConfig> config = read_applied();
  if (!config) {
    return error_answer(ApiError{ErrorCode::kDataplane,
                                 "the dataplane is rewriting its applied configuration; retry",
                                 "applied"});
  }
  normalize(*config);
  return ok_answer(json{{"config", config_view(*config)}});
}

json Controller::op_vip_show(const RequestArgs& args) {
  json error;
  const VipConfig* vip = queried_vip(args, error);
  if (vip == nullptr) return error;
  json view = vip_health_view(*vip);
  if (link_.alive(monotonic_ns())) {
    const ControlSegment& seg = *link_.segment();
    view["counters"] = counters_json(seg.vip_traffic(vip->id));
    for (size_t i = 0; i < vip->backends.size(); ++i) {
      view["backends"][i]["counters"] =
          backend_counters_json(seg.backend_traffic(vip->backends[i].id));
    }
  }
  return ok_answer(json{{"vip", std::move(view)}});
}

json Controller::op_flow_explain(const RequestArgs& args) {
  FlowQuery q;
  uint64_t client_port = 0, vip_port = 0;
  if (auto e = args.only({"client", "client_port", "vip", "vip_port", "protocol"})) {
    return error_answer(*e);
  }
  if (auto e = args.address("client", q.client)) return error_answer(*e);
  if (auto e = args.uint("client_port", 65535, client_port)) return error_answer(*e);
  if (auto e = args.address("vip", q.vip)) return error_answer(*e);
  if (auto e = args.uint("vip_port", 65535, vip_port)) return error_answer(*e);
  if (auto e = args.protocol("protocol", q.protocol)) return error_answer(*e);
  q.client_port = static_cast<uint16_t>(client_port);
  q.vip_port = static_cast<uint16_t>(vip_port);
  if (q.client.family != q.vip.family) {
    return error_answer(invalid_error("client", format_ip_address(q.client) + " and VIP " +
                                                    format_ip_address(q.vip) +
                                                    " are of different address families"));
  }
  const uint64_t seed =
      link_.segment() != nullptr ? link_.segment()->header().hash_seed : config_.hash_seed;
  FlowAnswer a;
  if (std::string e = explainer_.explain(state_.config, q, seed, a); !e.empty()) {
    return error_answer(ApiError{ErrorCode::kInternal, e, ""});
  }
  if (a.vip == nullptr) {
    VipKey key{q.vip, q.vip_port, q.protocol};
    return error_answer(not_found_error("vip", "no VIP takes flows to " + format_vip_key(key) +
                                                   " (nor an all-ports VIP on that address)"));
  }
  auto backend_json = [&](const BackendConfig* be) -> json {
    if (be == nullptr) return nullptr;
    return json{{"name", be->name}, {"id", be->id}, {"address", format_ip_address(be->address)}};
  };
  json answer{{"vip", format_vip_key(*a.vip)},
              {"scheduler", scheduler_name(a.vip->scheduler)},
              {"host_local", scheduler_is_host_local(a.vip->scheduler)},
              {"hash", hex64(a.hash)},
              {"table_size", a.vip->table_size},
              {"slot", a.slot},
              {"backend", backend_json(a.backend)},
              {"existing_flow_backend", backend_json(a.existing_backend)}};
  // What the workers' connection tables hold for the flow, if a dataplane
  // is attached: the backend its packets go to while the entry lives.
  if (ControlSegment* segment = link_.segment(); segment != nullptr) {
    const FlowEntries entries = lookup_flow_entries(*segment, a.hash, a.fingerprint, 500);
    json found = json::array();
    for (const WorkerEntry& e : entries.found) {
      const BackendConfig* be = nullptr;
      for (const BackendConfig& b : a.vip->backends) be = b.id == e.backend_id ? &b : be;
      json backend = be != nullptr ? backend_json(be) : json{{"id", e.backend_id}};
      found.push_back(json{{"worker", e.worker},
                           {"state", conn_state_name(static_cast<ConnState>(e.state))},
                           {"backend", std::move(backend)},
                           {"idle_ms", e.idle_ms},
                           {"expires_in_ms", e.expires_in_ms}});
    }
    answer["connection_table"] = json{{"workers", entries.workers},
                                      {"workers_answered", entries.answered},
                                      {"entries", std::move(found)}};
  }
  return ok_answer(std::move(answer));
}

std::optional<ApiError> Controller::op_vip_add(const RequestArgs& args, State& next,
                                               json& result) {
  VipConfig vip;
  if (auto e = args.only({"vip"})) return e;
  if (auto e = args.vip_spec("vip", vip)) return e;
  const VipKey key = key_of(vip);
  if (auto e = add_vip(next, std::move(vip), limits())) return e;
  result = json{{"vip", vip_view(*find_vip(next, key))}};
  return std::nullopt;
}

std::optional<ApiError> Controller::op_vip_set(const RequestArgs& args, State& next,
                                               json& result) {
  VipKey key;
  VipChange change;
  if (auto e = args.only({"vip", "scheduler", "no_backend", "slow_start"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  if (auto e = args.vip_change(change)) return e;
  if (change.empty()) {
    return usage_error("", "vip.set needs \"scheduler\", \"no_backend\" and/or \"slow_start\"");
  }
  if (auto e = set_vip(next, key, change, limits())) return e;
  result = json{{"vip", vip_view(*find_vip(next, key))}};
  return std::nullopt;
}

std::optional<ApiError> Controller::op_vip_del(const RequestArgs& args, State& next,
                                               json& result) {
  VipKey key;
  if (auto e = args.only({"vip"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  if (auto e = del_vip(next, key)) return e;
  result = json::object();
  return std::nullopt;
}

std::optional<ApiError> Controller::op_backend_add(const RequestArgs& args, State& next,
                                                   json& result) {
  VipKey key;
  BackendConfig be;
  if (auto e = args.only({"vip", "backend"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  if (auto e = args.backend_spec("backend", be)) return e;
  const std::string name = be.name;
  if (auto e = add_backend(next, key, std::move(be), limits())) return e;
  result = json{{"backend", backend_view(*find_backend(*find_vip(next, key), name))}};
  return std::nullopt;
}

std::optional<ApiError> Controller::op_backend_del(const RequestArgs& args, State& next,
                                                   json& result) {
  VipKey key;
  std::string name;
  if (auto e = args.only({"vip", "name"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  if (auto e = args.string("name", name)) return e;
  if (auto e = del_backend(next, key, name)) return e;
  result = json::object();
  return std::nullopt;
}

std::optional<ApiError> Controller::op_backend_set(const RequestArgs& args, State& next,
                                                   json& result) {
  VipKey key;
  std::string name;
  BackendChange change;
  if (auto e = args.only({"vip", "name", "weight", "state", "backup"})) return e;
  if (auto e = args.vip_key("vip", key)) return e;
  if (auto e = args.string("name", name)) return e;
  if (!args.has("weight") && !args.has("state") && !args.has("backup")) {
    return usage_error("", "backend.set needs \"weight\", \"state\" and/or \"backup\"");
  }
  if (auto e = args.backend_change(change)) return e;
  if (auto e = set_backend(next, key, name, change, limits())) return e;
  result = json{{"backend", backend_view(*find_backend(*find_vip(next, key), name))}};
  return std::nullopt;
}

std::optional<ApiError> Controller::op_config_apply(const RequestArgs& args, State& next,
                                                    json& result) {
  TableConfig config;
  if (auto e = args.only({"config", "allow_empty"})) return e;
  if (auto e = args.config("config", config)) return e;
  if (auto e = empty_config_refusal(args, config)) return e;
  ApplySummary s;
  if (auto e = apply_config(next, std::move(config), limits(), s)) return e;
  result = json{{"changed", s.changed},
                {"vips_added", s.vips_added},
                {"vips_removed", s.vips_removed},
                {"vips_changed", s.vips_changed}};
  return std::nullopt;
}

}  // namespace sluice::cp
