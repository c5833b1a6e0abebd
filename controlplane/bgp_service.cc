#include "controlplane/bgp_service.h"

#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/control_segment.h"
#include "controlplane/audit_log.h"
#include "controlplane/controller.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/file_io.h"
#include "controlplane/health_monitor.h"
#include "controlplane/vip_key.h"

namespace sluice::cp {

using nlohmann::json;

namespace {

// Empty when `name` exists and is up, else why not.
std::string liveness_problem(const std::string& name) {
  std::string why = "liveness device " + name + " ";
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.c_str(), std::min(name.size(), sizeof ifr.ifr_name - 1));
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return why + "cannot be checked: " + std::strerror(errno);
  const int r = ::ioctl(fd, SIOCGIFFLAGS, &ifr);
  const int err = errno;
  ::close(fd);
  if (r != 0) {
    return err == ENODEV ? why + "is missing (lb-dataplane --liveness-iface " + name +
                               " keeps it while it runs)"
                         : why + "cannot be checked: " + std::strerror(err);
  }
  if ((ifr.ifr_flags & IFF_UP) == 0) return why + "is down";
  return {};
}

// Empty when the dataplane behind `link` is alive for BGP, else why not.
std::string dataplane_problem(const DataplaneLink& link, uint64_t now_ns) {
  if (!link.attached()) return link.reason(now_ns);
  const uint64_t age = link.heartbeat_age_ns(now_ns);
  const uint32_t pid = link.segment()->header().pid;
  if (pid != 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
    return "lb-dataplane pid " + std::to_string(pid) + " is gone";
  }
  if (age >= BgpService::kAliveHeartbeatNs) {
    return "no heartbeat from lb-dataplane pid " + std::to_string(pid) + " for " +
           std::to_string(age / 1'000'000) + " ms";
  }
  return {};
}

std::string host_prefix(const IpAddress& address) {
  std::string p = format_ip_address(address);
  p += address.is_v6() ? "/128" : "/32";
  return p;
}

// BIRD's BGP and BFD protocols: the sessions an operator looks at.
json sessions_json(const std::vector<BirdProtocol>& protocols) {
  json out = json::array();
  for (const BirdProtocol& p : protocols) {
    if (p.proto != "BGP" && p.proto != "BFD") continue;
    out.push_back(json{{"name", p.name},
                       {"protocol", p.proto},
                       {"state", p.state},
                       {"since", p.since},
                       {"info", p.info}});
  }
  return out;
}

}  // namespace

std::unique_ptr<BgpService> BgpService::start(const BgpOptions& options, AuditLog& audit,
                                              uint64_t now_ns, std::string& error) {
  BirdVipsFile adopted;
  std::string text, read_error;
  int err_no = 0;
  if (read_whole_file(options.bird_include, text, read_error, err_no)) {
    std::string parse_error;
    auto parsed = parse_bird_vips_file(text, parse_error);
    if (!parsed) {
      error = "--bird-include " + options.bird_include +
              " holds something lb-controlplane did not write (" + parse_error +
              "); move it away or name another file";
      return nullptr;
    }
    adopted = std::move(*parsed);
  } else if (err_no != ENOENT) {
    error = "cannot read --bird-include " + options.bird_include + ": " + read_error;
    return nullptr;
  }
  std::unique_ptr<BgpService> service(new BgpService(options, audit, adopted, now_ns));
  std::fprintf(stderr,
               "lb-controlplane: BGP through BIRD at %s, include file %s: %zu routes announced "
               "at start%s\n",
               options.bird_socket.c_str(), options.bird_include.c_str(), adopted.routes.size(),
               adopted.host_drained ? ", host drained" : "");
  // The adopted file goes back as it is: BIRD (re)reads what it runs.
  service->adapter_.set_desired(adopted);
  service->published_ = adopted;
  service->adapter_.start();
  return service;
}

BgpService::BgpService(const BgpOptions& options, AuditLog& audit, const BirdVipsFile& adopted,
                       uint64_t now_ns)
    : options_(options),
      audit_(audit),
      announcer_(options.timing, adopted, now_ns),
      adapter_(BirdAdapterOptions{options.bird_socket, options.bird_include,
                                  options.liveness_iface}) {}

void BgpService::tick(uint64_t now_ns, const Controller& controller, DataplaneLink& link,
                      const HealthMonitor* health) {
  if (now_ns < next_tick_ns_) return;
  next_tick_ns_ = now_ns + kTickNs;

  HostCondition host;
  host.dataplane_reason = dataplane_problem(link, now_ns);
  host.dataplane_alive = host.dataplane_reason.empty();
  host.liveness_reason = liveness_problem(options_.liveness_iface);
  host.liveness_up = host.liveness_reason.empty();
  host.in_sync = controller.in_sync(now_ns);

  const TableConfig& config = controller.state().config;
  const ControlSegment* segment = link.segment();
  if (announcer_.host_state() == HostState::kWithdrawing && segment != nullptr) {
    for (const VipConfig& vip : config.vips) host.vip_packets += segment->vip_traffic(vip.id).packets;
  }
  const Controller::VipSync sync = controller.vip_sync(now_ns);
  std::vector<VipCondition> vips;
  vips.reserve(config.vips.size());
  for (const VipConfig& vip : config.vips) {
    VipCondition c;
    c.vip = format_vip_key(vip);
    c.prefix = host_prefix(vip.address);
    c.ipv6 = vip.address.is_v6();
    c.installed = sync.all || sync.installed.count(vip.id) != 0;
    c.differs = !sync.all && sync.differing.count(vip.id) != 0;
    if (health != nullptr) {
      c.serving = health->serving_backends(vip);
    } else {
      for (const BackendConfig& be : vip.backends) c.serving += maglev_turn_weight(be) != 0 ? 1 : 0;
    }
    c.backends = static_cast<uint32_t>(vip.backends.size());
    c.min_healthy = vip.min_healthy;
    vips.push_back(std::move(c));
  }
  announcer_.update(now_ns, host, vips);
  // Compared with what went to BIRD, not with the last update: a drain or
  // undrain changes the desired routes between updates.
  if (BirdVipsFile desired = announcer_.desired(); desired != published_) {
    adapter_.set_desired(desired);
    published_ = std::move(desired);
  }
  for (json& change : announcer_.take_changes()) {
    std::fprintf(stderr, "lb-controlplane: BGP: %s %s: %s\n",
                 change["announced"].get<bool>() ? "announce" : "withdraw",
                 change["prefix"].get<std::string>().c_str(),
                 change["reason"].get<std::string>().c_str());
    change["op"] = "bgp";
    audit_.record_event(change);
  }
}

json BgpService::view(uint64_t now_ns) const {
  json out = announcer_.view(now_ns);
  const BirdStatus s = adapter_.status();
  json bird = {{"socket", options_.bird_socket},
               {"include_file", options_.bird_include},
               {"liveness_iface", options_.liveness_iface},
               {"connected", s.connected},
               {"version", s.version},
               {"error", s.error},
               {"file_error", s.file_error},
               {"applied", s.applied_generation == s.desired_generation},
               {"configures", s.configures},
               {"reconnects", s.reconnects},
               {"last_configure_ms", s.last_configure_ms}};
  bird["sessions"] = sessions_json(s.protocols);
  out["enabled"] = true;
  out["bird"] = std::move(bird);
  return out;
}

json BgpService::status_view(uint64_t now_ns) const {
  const json v = view(now_ns);
  json vips = json::array();
  for (const json& vip : v["vips"]) {
    vips.push_back(json{{"vip", vip["vip"]},
                        {"announced", vip["announced"]},
                        {"reason", vip["reason"]},
                        {"hold_down_remaining_s", vip["hold_down_remaining_s"]}});
  }
  size_t established = 0;
  for (const json& p : v["bird"]["sessions"]) {
    const std::string info = p["info"].get<std::string>();
    if (p["protocol"] == "BGP" && info.rfind("Established", 0) == 0) ++established;
  }
  return json{{"enabled", true},
              {"host", v["host"]["state"]},
              {"bird_connected", v["bird"]["connected"]},
              {"sessions_established", established},
              {"vips", std::move(vips)}};
}

void BgpService::drain(uint64_t now_ns, uint64_t gshut_ns, uint64_t timeout_ns, json& result) {
  const HostState before = announcer_.host_state();
  announcer_.drain(now_ns, gshut_ns, timeout_ns);
  if (before == HostState::kServing) {
    audit_.record_event(json{{"op", "host.drain"},
                             {"graceful_shutdown_s", static_cast<double>(gshut_ns) / 1e9},
                             {"timeout_s", static_cast<double>(timeout_ns) / 1e9}});
    std::fprintf(stderr, "lb-controlplane: BGP: host drain: graceful shutdown for %.1f s\n",
                 static_cast<double>(gshut_ns) / 1e9);
    next_tick_ns_ = 0;  // apply at the next loop pass
  }
  result = announcer_.view(now_ns)["host"];
  result["already"] = before != HostState::kServing;
}

void BgpService::undrain(uint64_t now_ns, json& result) {
  const HostState before = announcer_.host_state();
  announcer_.undrain(now_ns);
  if (before != HostState::kServing) {
    audit_.record_event(json{{"op", "host.undrain"}});
    std::fprintf(stderr, "lb-controlplane: BGP: host undrain\n");
    next_tick_ns_ = 0;
  }
  result = announcer_.view(now_ns)["host"];
  result["already"] = before == HostState::kServing;
}

}  // namespace sluice::cp
