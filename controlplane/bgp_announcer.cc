#include "controlplane/bgp_announcer.h"

#include <cstdio>

namespace sluice::cp {

using nlohmann::json;

namespace {

double seconds(uint64_t ns) { return static_cast<double>(ns / 1'000'000) / 1000.0; }

std::string seconds_text(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

const char* host_state_name(HostState state) {
  switch (state) {
    case HostState::kServing: return "serving";
    case HostState::kGracefulShutdown: return "graceful-shutdown";
    case HostState::kWithdrawing: return "withdrawn";
    case HostState::kDrained: return "drained";
  }
  return "?";
}

BgpAnnouncer::BgpAnnouncer(AnnounceTiming timing, const BirdVipsFile& adopted, uint64_t now_ns)
    : timing_(timing), started_ns_(now_ns), host_since_ns_(now_ns) {
  for (const BirdRoute& r : adopted.routes) {
    Prefix& p = prefixes_[r.prefix];
    p.ipv6 = r.ipv6;
    p.announced = true;
    p.reason = "adopted from the include file";
  }
  if (adopted.host_drained) {
    host_ = HostState::kDrained;
    for (auto& [name, p] : prefixes_) p.announced = false;
  }
}

std::string BgpAnnouncer::vip_problem(const VipCondition& vip, const HostCondition& host,
                                      uint64_t now_ns, std::map<std::string, uint64_t>& differs_now) {
  if (!host.dataplane_alive) return "dataplane not alive: " + host.dataplane_reason;
  if (!host.liveness_up) return host.liveness_reason;
  if (!vip.installed) return "not in the dataplane's tables yet";
  if (vip.differs) {
    // Since when it differs: kept only for VIPs that differ now, so a VIP
    // that is gone or back in sync leaves no trace.
    const auto before = differs_since_.find(vip.vip);
    const uint64_t since = before != differs_since_.end() ? before->second : now_ns;
    differs_now.emplace(vip.vip, since);
    if (now_ns - since >= timing_.sync_grace_ns) {
      return "out of sync with the dataplane for " + seconds_text(now_ns - since);
    }
  }
  if (vip.serving < vip.min_healthy) {
    return std::to_string(vip.serving) + " of " + std::to_string(vip.backends) +
           " backends active and healthy or unknown, min_healthy " +
           std::to_string(vip.min_healthy);
  }
  return {};
}

bool BgpAnnouncer::update(uint64_t now_ns, const HostCondition& host,
                          const std::vector<VipCondition>& vips) {
  const BirdVipsFile before = desired();
  if (startup_ && (host.in_sync || now_ns - started_ns_ >= timing_.startup_grace_ns)) {
    startup_ = false;
  }
  for (auto& [name, p] : prefixes_) p.present = false;

  // Each VIP, then each address: it can serve while all of its VIPs can.
  vips_.clear();
  std::map<std::string, std::string> problems;  // by prefix: the first VIP's problem
  std::map<std::string, uint64_t> differs_now;
  for (const VipCondition& c : vips) {
    VipView v{c, false, vip_problem(c, host, now_ns, differs_now)};
    v.can_serve = v.problem.empty();
    Prefix& p = prefixes_[c.prefix];
    p.ipv6 = c.ipv6;
    p.present = true;
    if (!v.can_serve && problems[c.prefix].empty()) problems[c.prefix] = c.vip + ": " + v.problem;
    vips_.push_back(std::move(v));
  }
  differs_since_.swap(differs_now);

  advance_drain(now_ns, host.vip_packets);
  for (auto it = prefixes_.begin(); it != prefixes_.end();) {
    Prefix& p = it->second;
    const bool was = p.announced;
    if (!p.present) {
      if (startup_ && p.announced) {
        p.reason = "starting: keeping the announcement until the configuration is known";
      } else {
        p.announced = false;
        p.reason = "no VIP has this address";
      }
    } else {
      const std::string& problem = problems[it->first];
      if (problem.empty()) {
        if (p.servable_since == 0) p.servable_since = now_ns;
      } else {
        p.servable_since = 0;
      }
      if (host_ != HostState::kServing) {
        // Graceful shutdown keeps what is announced (tagged) but adds
        // nothing; the later states withdraw everything.
        p.announced = host_ == HostState::kGracefulShutdown && p.announced && problem.empty();
        p.reason = std::string("host ") + host_state_name(host_) + " (lbctl host drain)";
      } else if (!problem.empty()) {
        if (startup_ && p.announced) {
          p.reason = "starting: keeping the announcement until in sync with the dataplane (" +
                     problem + ")";
        } else {
          p.announced = false;
          p.reason = problem;
        }
      } else if (p.announced) {
        p.reason = "can serve";
      } else if (!p.withdrawn_once || now_ns - p.servable_since >= timing_.hold_down_ns) {
        p.announced = true;
        p.reason = "can serve";
      } else {
        p.reason = "hold-down: can serve again, announced after " +
                   seconds_text(timing_.hold_down_ns - (now_ns - p.servable_since));
      }
    }
    if (was && !p.announced && host_ == HostState::kServing) p.withdrawn_once = true;
    if (was != p.announced) {
      changes_.push_back(json{{"prefix", it->first}, {"announced", p.announced}, {"reason", p.reason}});
    }
    if (!p.present && !p.announced) {
      it = prefixes_.erase(it);
    } else {
      ++it;
    }
  }
  return desired() != before;
}

void BgpAnnouncer::advance_drain(uint64_t now_ns, uint64_t vip_packets) {
  if (vip_packets != last_packets_) {
    last_packets_ = vip_packets;
    last_traffic_ns_ = now_ns;
  }
  if (host_ == HostState::kGracefulShutdown && now_ns >= gshut_until_ns_) {
    host_ = HostState::kWithdrawing;
    host_since_ns_ = now_ns;
    last_traffic_ns_ = now_ns;  // wait a whole quiet period after the withdrawal
  }
  if (host_ == HostState::kWithdrawing) {
    const bool quiet = now_ns - last_traffic_ns_ >= timing_.quiet_ns;
    if (quiet || now_ns >= withdraw_deadline_ns_) {
      drain_timed_out_ = !quiet;
      host_ = HostState::kDrained;
      host_since_ns_ = now_ns;
    }
  }
}

void BgpAnnouncer::drain(uint64_t now_ns, uint64_t gshut_ns, uint64_t timeout_ns) {
  if (host_ != HostState::kServing) return;
  host_ = HostState::kGracefulShutdown;
  host_since_ns_ = now_ns;
  gshut_until_ns_ = now_ns + gshut_ns;
  withdraw_deadline_ns_ = gshut_until_ns_ + timeout_ns;
  drain_timed_out_ = false;
}

void BgpAnnouncer::undrain(uint64_t now_ns) {
  if (host_ == HostState::kServing) return;
  host_ = HostState::kServing;
  host_since_ns_ = now_ns;
  // The operator brings the host back: no hold-down.
  for (auto& [name, p] : prefixes_) p.withdrawn_once = false;
}

BirdVipsFile BgpAnnouncer::desired() const {
  BirdVipsFile file;
  file.host_drained = host_ != HostState::kServing;
  for (const auto& [name, p] : prefixes_) {
    if (!p.announced) continue;
    file.routes.push_back(BirdRoute{name, p.ipv6, host_ == HostState::kGracefulShutdown});
  }
  return file;
}

json BgpAnnouncer::view(uint64_t now_ns) const {
  json host = {{"state", host_state_name(host_)}, {"since_s", seconds(now_ns - host_since_ns_)}};
  if (host_ == HostState::kGracefulShutdown) {
    host["graceful_shutdown_remaining_s"] = seconds(gshut_until_ns_ - now_ns);
  }
  if (host_ == HostState::kWithdrawing) {
    host["last_vip_packet_s_ago"] = seconds(now_ns - last_traffic_ns_);
    host["timeout_remaining_s"] =
        seconds(withdraw_deadline_ns_ > now_ns ? withdraw_deadline_ns_ - now_ns : 0);
  }
  if (host_ == HostState::kDrained) {
    host["traffic_stopped"] = !drain_timed_out_;
    if (drain_timed_out_) host["detail"] = "the timeout ended the wait; VIP traffic still arrived";
  }
  host["starting"] = startup_;
  json vips = json::array();
  for (const VipView& v : vips_) {
    const auto it = prefixes_.find(v.condition.prefix);
    const bool announced = it != prefixes_.end() && it->second.announced;
    uint64_t hold_down_left = 0;
    if (it != prefixes_.end() && !announced && it->second.servable_since != 0 &&
        it->second.withdrawn_once && host_ == HostState::kServing) {
      const uint64_t served = now_ns - it->second.servable_since;
      hold_down_left = served < timing_.hold_down_ns ? timing_.hold_down_ns - served : 0;
    }
    // The host's state first, then the VIP's own problem, then what holds
    // its address (hold-down, another VIP on it).
    std::string reason = it != prefixes_.end() ? it->second.reason : "";
    if (host_ == HostState::kServing && !v.can_serve) {
      reason = announced ? reason + "; this VIP cannot serve: " + v.problem : v.problem;
    }
    vips.push_back(json{{"vip", v.condition.vip},
                        {"prefix", v.condition.prefix},
                        {"announced", announced},
                        {"reason", reason},
                        {"can_serve", v.can_serve},
                        {"hold_down_remaining_s", seconds(hold_down_left)},
                        {"graceful_shutdown", announced && host_ == HostState::kGracefulShutdown},
                        {"installed", v.condition.installed},
                        {"in_sync", v.condition.installed && !v.condition.differs},
                        {"serving_backends", v.condition.serving},
                        {"backends", v.condition.backends},
                        {"min_healthy", v.condition.min_healthy}});
  }
  json prefixes = json::array();
  for (const auto& [name, p] : prefixes_) {
    prefixes.push_back(json{{"prefix", name}, {"announced", p.announced}, {"reason", p.reason}});
  }
  return json{{"host", std::move(host)},
              {"hold_down_s", seconds(timing_.hold_down_ns)},
              {"vips", std::move(vips)},
              {"prefixes", std::move(prefixes)}};
}

std::vector<json> BgpAnnouncer::take_changes() {
  std::vector<json> out;
  out.swap(changes_);
  return out;
}

}  // namespace sluice::cp
