#include "controlplane/health_monitor.h"

#include "controlplane/control_observer.h"

#include <cstdio>

#include "common/control_segment.h"
#include "controlplane/audit_log.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/vip_key.h"
#include "health/removal_cap.h"

namespace sluice::cp {

using health::Health;
using nlohmann::json;

namespace {

json latency_json(double ms) { return json(static_cast<double>(static_cast<int64_t>(ms * 1000)) / 1000); }

}  // namespace

HealthMonitor::HealthMonitor(AuditLog& audit, std::string tunnel_iface)
    : audit_(audit), tunnel_iface_(std::move(tunnel_iface)),
      runner_(std::make_unique<health::Runner>()) {}

HealthMonitor::~HealthMonitor() {
  runner_.reset();  // no probe in flight when the tunnel program goes
  tunnel_.detach();
}

std::string HealthMonitor::start() {
  if (tunnel_iface_.empty()) return {};
  return tunnel_.attach(tunnel_iface_);
}

bool HealthMonitor::sync(const TableConfig& config, uint64_t version, uint64_t now_ns,
                         const DataplaneLink& link) {
  if (version != version_) {
    version_ = version;
    reconcile(config);
  }
  take_reports();
  passive(now_ns, link);
  return decide();
}

void HealthMonitor::reconcile(const TableConfig& config) {
  std::vector<health::Target> targets;
  std::unordered_map<uint32_t, Entry> next;
  std::unordered_set<uint32_t> tunnel_now;
  for (const VipConfig& vip : config.vips) {
    const std::string key = format_vip_key(vip);
    for (const BackendConfig& be : vip.backends) {
      const HealthCheck c = resolve_health(vip.health.get(), be.health.get(), vip.port);
      health::ProbeTarget pt;
      pt.address = be.address;
      pt.port = c.port;
      pt.check = c;
      std::string cannot;  // why this backend's check cannot run
      if (c.tunnel && c.kind != HealthKind::kNone) {
        pt.address = vip.address;
        pt.mark = health::tunnel_mark(be.id);
        if (vip.address.family != be.address.family) {
          cannot = "a tunnel probe needs the VIP and the backend in one address family";
        } else if (std::string e = tunnel_.set(be.id, be.address, vip.encap, c.gue_port);
                   !e.empty()) {
          cannot = e;
        } else {
          tunnel_now.insert(be.id);
        }
      }
      Entry e;
      const auto old = entries_.find(be.id);
      const bool kept = old != entries_.end() && old->second.vip_key == key &&
                        old->second.name == be.name && health::same_probe(old->second.target, pt) &&
                        old->second.runnable == cannot.empty();
      if (kept) {
        e = std::move(old->second);
      } else {
        e.vip_key = key;
        e.name = be.name;
        e.since = utc_timestamp_now();
        if (old != entries_.end() && old->second.health != Health::kUnknown &&
            c.kind != HealthKind::kNone && old->second.vip_key == key) {
          // Its check changed: no verdict for the new one yet.
          audit_.record_event(json{{"op", "health"},
                                   {"vip", key},
                                   {"backend", be.name},
                                   {"from", health::health_name(old->second.health)},
                                   {"to", "unknown"},
                                   {"reason", "the check changed"}});
        }
      }
      e.check = c;
      e.target = pt;
      e.runnable = cannot.empty();
      if (c.kind == HealthKind::kNone) {
        e.health = Health::kHealthy;
        e.probed = false;
        e.last_result = "not checked";
      } else if (!cannot.empty()) {
        e.health = Health::kUnknown;
        e.probed = false;
        e.last_result = cannot;
      } else {
        targets.push_back(health::Target{be.id, pt});
      }
      next.emplace(be.id, std::move(e));
    }
  }
  for (uint32_t id : tunnel_ids_) {
    if (tunnel_now.count(id) == 0) tunnel_.remove(id);
  }
  tunnel_ids_ = std::move(tunnel_now);
  entries_ = std::move(next);
  last_config_ = config;
  runner_->set_targets(std::move(targets));
}

void HealthMonitor::take_reports() {
  for (const health::ProbeReport& r : runner_->take_reports()) {
    const auto it = entries_.find(static_cast<uint32_t>(r.key));
    if (it == entries_.end()) continue;
    Entry& e = it->second;
    e.probed = true;
    e.last_ok = r.outcome.ok;
    e.last_result = r.outcome.detail;
    e.last_latency_ms = static_cast<double>(r.outcome.latency_ns) / 1e6;
    if (observer_ != nullptr) observer_->probe_reported(r.outcome.ok, r.outcome.latency_ns);
    if (r.after == e.health) continue;
    const Health from = e.health;
    e.health = r.after;
    ++generation_;
    if (observer_ != nullptr) observer_->health_transition(health::health_name(e.health));
    e.since = utc_timestamp_now();
    if (e.health == Health::kUnhealthy) e.unhealthy_since_ns = health::monotonic_ns();
    ++transitions_;
    audit_.record_event(json{{"op", "health"},
                             {"vip", e.vip_key},
                             {"backend", e.name},
                             {"from", health::health_name(from)},
                             {"to", health::health_name(e.health)},
                             {"last_probe_result", e.last_result},
                             {"last_probe_ok", e.last_ok},
                             {"last_probe_latency_ms", latency_json(e.last_latency_ms)}});
    std::fprintf(stderr, "lb-controlplane: health: %s backend %s: %s -> %s (%s)\n",
                 e.vip_key.c_str(), e.name.c_str(), health::health_name(from),
                 health::health_name(e.health), e.last_result.c_str());
  }
}

void HealthMonitor::passive(uint64_t now_ns, const DataplaneLink& link) {
  const ControlSegment* seg = link.segment();
  if (seg == nullptr || !link.alive(now_ns)) return;
  const SegmentHeader& h = seg->header();
  for (auto& [id, e] : entries_) {
    const HealthCheck& c = e.check;
    if (c.kind == HealthKind::kNone || c.passive_threshold == 0 || id > h.max_backend_id) continue;
    if (e.passive_seen && now_ns - e.passive_at_ns < uint64_t{c.interval_ms} * 1'000'000) continue;
    const TrafficCounters t = seg->backend_traffic(id);
    const uint64_t sum = t.syn_retries + t.non_syn_misses;
    // Counters only go up within one dataplane's life; a smaller sum is a
    // restarted dataplane: a new baseline.
    if (e.passive_seen && sum >= e.passive_base && sum - e.passive_base >= c.passive_threshold) {
      // Suspect: an immediate probe decides, never the signal itself.
      runner_->probe_now(id);
      ++passive_probes_;
    }
    e.passive_base = sum;
    e.passive_at_ns = now_ns;
    e.passive_seen = true;
  }
}

bool HealthMonitor::decide() {
  std::unordered_set<uint32_t> removed;
  std::unordered_map<uint32_t, VipState> vips;
  for (const VipConfig& vip : last_config_.vips) {
    std::vector<health::CapMember> members;
    members.reserve(vip.backends.size());
    uint32_t cap = kHealthDefaultMaxUnhealthyPercent;
    if (vip.health && vip.health->max_unhealthy_percent) cap = *vip.health->max_unhealthy_percent;
    for (const BackendConfig& be : vip.backends) {
      health::CapMember m;
      m.active = be.state == BackendState::kActive;
      m.name = be.name;
      if (const auto it = entries_.find(be.id); it != entries_.end()) {
        m.health = it->second.health;
        m.unhealthy_since = it->second.unhealthy_since_ns;
      }
      members.push_back(m);
    }
    const health::CapDecision d = health::apply_removal_cap(members, cap);
    for (size_t i = 0; i < d.remove.size(); ++i) {
      if (d.remove[i]) removed.insert(vip.backends[i].id);
    }
    VipState& v = vips[vip.id];
    const auto before = vips_.find(vip.id);
    if (d.held > 0 && (before == vips_.end() || before->second.held == 0)) {
      ++cap_holds_;
      std::fprintf(stderr,
                   "lb-controlplane: health: VIP %s is degraded: %u of its %zu backends are "
                   "unhealthy, and the removal cap (%u%%) lets health take out %u; the other %u "
                   "stay in\n",
                   format_vip_key(vip).c_str(), d.unhealthy, vip.backends.size(), cap, d.allowed,
                   d.held);
    }
    v.unhealthy = d.unhealthy;
    v.allowed = d.allowed;
    v.held = d.held;
  }
  vips_ = std::move(vips);
  const bool changed = removed != removed_;
  removed_ = std::move(removed);
  if (changed) ++generation_;
  return changed;
}

TableConfig HealthMonitor::effective(const TableConfig& desired) const {
  TableConfig out = desired;
  if (removed_.empty()) return out;
  for (VipConfig& vip : out.vips) {
    for (BackendConfig& be : vip.backends) {
      // Administrative state wins: only an active backend is taken out.
      if (be.state == BackendState::kActive && removed_.count(be.id) != 0) {
        be.state = BackendState::kDisabled;
      }
    }
  }
  return out;
}

uint32_t HealthMonitor::serving_backends(const VipConfig& vip) const {
  uint32_t n = 0;
  for (const BackendConfig& be : vip.backends) {
    if (maglev_turn_weight(be) == 0) continue;  // takes no new flows: not serving
    const auto it = entries_.find(be.id);
    if (it == entries_.end() || it->second.health != health::Health::kUnhealthy) ++n;
  }
  return n;
}

json HealthMonitor::backend_view(const BackendConfig& be) const {
  const auto it = entries_.find(be.id);
  if (it == entries_.end()) {
    return json{{"health", "unknown"},
                {"health_since", nullptr},
                {"last_probe_result", nullptr},
                {"last_probe_latency_ms", nullptr},
                {"health_removed", false}};
  }
  const Entry& e = it->second;
  return json{{"health", health::health_name(e.health)},
              {"health_since", e.since.empty() ? json(nullptr) : json(e.since)},
              {"last_probe_result", e.probed || !e.last_result.empty() ? json(e.last_result)
                                                                      : json(nullptr)},
              {"last_probe_latency_ms", e.probed ? latency_json(e.last_latency_ms) : json(nullptr)},
              {"health_removed", removed_.count(be.id) != 0}};
}

json HealthMonitor::vip_view(const VipConfig& vip) const {
  const HealthCheck c = resolve_health(vip.health.get(), nullptr, vip.port);
  VipState v;
  if (const auto it = vips_.find(vip.id); it != vips_.end()) v = it->second;
  uint32_t removed = 0;
  for (const BackendConfig& be : vip.backends) removed += removed_.count(be.id) != 0 ? 1 : 0;
  return json{{"kind", health_kind_name(c.kind)},
              {"unhealthy", v.unhealthy},
              {"removed", removed},
              {"held_by_cap", v.held},
              {"max_unhealthy_percent", c.max_unhealthy_percent},
              {"degraded", v.held > 0}};
}

std::unordered_map<uint32_t, HealthMonitor::BackendHealth> HealthMonitor::backend_health() const {
  std::unordered_map<uint32_t, BackendHealth> out;
  for (const auto& [id, e] : entries_) {
    if (e.check.kind == HealthKind::kNone) continue;
    out.emplace(id, BackendHealth{e.health, removed_.count(id) != 0});
  }
  return out;
}

json HealthMonitor::status_view() const {
  uint32_t checked = 0, unhealthy = 0, unknown = 0, degraded = 0;
  for (const auto& [id, e] : entries_) {
    if (e.check.kind == HealthKind::kNone) continue;
    ++checked;
    unhealthy += e.health == Health::kUnhealthy ? 1 : 0;
    unknown += e.health == Health::kUnknown ? 1 : 0;
  }
  for (const auto& [id, v] : vips_) degraded += v.held > 0 ? 1 : 0;
  return json{{"backends_checked", checked},
              {"unknown", unknown},
              {"unhealthy", unhealthy},
              {"removed", removed_.size()},
              {"degraded_vips", degraded},
              {"cap_holds", cap_holds_},
              {"transitions", transitions_},
              {"passive_probes", passive_probes_},
              {"tunnel_iface", tunnel_.attached() ? json(tunnel_.iface()) : json(nullptr)}};
}

}  // namespace sluice::cp
