// When this host announces each VIP prefix (DESIGN.md section 8): the
// decision alone, on plain inputs and a clock, so that it is tested without
// BIRD; bgp_service.h feeds it and hands its result to BIRD.
//
// A VIP can serve while the dataplane is alive (its heartbeat, not a busy
// build), the liveness device BIRD's routes go via is up, the dataplane
// holds the VIP and has not differed from the desired VIP for longer than
// a push may take, and at least min_healthy of its backends are active and
// healthy or not yet probed. Announcements are per address (a /32 or
// /128): an address is announced while every VIP on it can serve, because
// a host that attracts traffic it cannot serve loses it, while a withdrawn
// host's traffic goes to the others. (A VIP with min_healthy 0 never holds
// its address back for health.)
//
// An address is withdrawn at the first update that finds it cannot serve
// (the service updates every 100 ms). Once withdrawn, it is announced again
// only after it could serve for a whole hold-down, so a flapping backend
// makes one withdrawal upstream, not a flap that route dampening would
// punish. An address never withdrawn (new, or adopted at start) needs no
// hold-down.
//
// At start the announcer adopts what the include file says BIRD announces
// and keeps it until the control plane is in sync with the dataplane (or a
// startup grace ends), so restarting lb-controlplane changes nothing
// upstream.
//
// A planned stop (`lbctl host drain`): the announced routes are tagged with
// the graceful-shutdown community for a while, so that routers move traffic
// away while the routes still exist; then withdrawn; then the host waits
// for VIP traffic to stop arriving (quiet for a second) or a timeout, and
// is drained. A drained host stays so (the include file records it) until
// `lbctl host undrain`, which announces every address that can serve at
// once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "controlplane/bird_vips_file.h"

namespace sluice::cp {

struct AnnounceTiming {
  uint64_t hold_down_ns = 10'000'000'000;
  // How long a VIP may differ from what the dataplane holds (a push under
  // way) before it counts as out of sync.
  uint64_t sync_grace_ns = 5'000'000'000;
  // How long adopted announcements are kept at most while the control
  // plane has not been in sync with the dataplane yet.
  uint64_t startup_grace_ns = 10'000'000'000;
  // A draining host is drained once no VIP packet arrived for this long.
  uint64_t quiet_ns = 1'000'000'000;
};

// One VIP as the service sees it.
struct VipCondition {
  std::string vip;     // its key, "tcp/192.0.2.10:80"
  std::string prefix;  // "192.0.2.10/32"
  bool ipv6 = false;
  bool installed = false;  // the dataplane holds this VIP
  bool differs = false;    // ... but not as desired (yet)
  uint32_t serving = 0;    // backends active and healthy or unknown
  uint32_t backends = 0;
  uint32_t min_healthy = 1;
};

struct HostCondition {
  bool dataplane_alive = false;
  std::string dataplane_reason;  // why not
  bool liveness_up = false;
  std::string liveness_reason;   // why not
  bool in_sync = false;          // the control plane as a whole (ends the startup grace)
  uint64_t vip_packets = 0;      // VIP packets received so far (the drain's quiet check)
};

enum class HostState { kServing, kGracefulShutdown, kWithdrawing, kDrained };
const char* host_state_name(HostState state);

class BgpAnnouncer {
 public:
  BgpAnnouncer(AnnounceTiming timing, const BirdVipsFile& adopted, uint64_t now_ns);

  // Decides again; true when desired() changed.
  bool update(uint64_t now_ns, const HostCondition& host, const std::vector<VipCondition>& vips);
  // What BIRD should announce.
  BirdVipsFile desired() const;

  // `lbctl host drain`: graceful shutdown for `gshut_ns`, then withdraw and
  // wait for quiet at most `timeout_ns`. A drain under way keeps its times.
  void drain(uint64_t now_ns, uint64_t gshut_ns, uint64_t timeout_ns);
  void undrain(uint64_t now_ns);
  HostState host_state() const { return host_; }

  // Per VIP and host, for `bgp show` and `status`.
  nlohmann::json view(uint64_t now_ns) const;
  // Changes since the last call, for the audit log: {prefix, announced, reason}.
  std::vector<nlohmann::json> take_changes();

 private:
  struct Prefix {
    bool ipv6 = false;
    bool announced = false;
    bool withdrawn_once = false;  // since then, re-announcement waits a hold-down
    uint64_t servable_since = 0;  // 0: cannot serve now
    std::string reason;           // why it is (not) announced
    bool present = false;         // some VIP has it (this update)
  };
  struct VipView {
    VipCondition condition;
    bool can_serve = false;
    std::string problem;  // why it cannot serve
  };

  // Why `vip` cannot serve (empty: it can); notes in `differs_now` since
  // when it differs from what the dataplane holds.
  std::string vip_problem(const VipCondition& vip, const HostCondition& host, uint64_t now_ns,
                          std::map<std::string, uint64_t>& differs_now);
  void advance_drain(uint64_t now_ns, uint64_t vip_packets);

  AnnounceTiming timing_;
  uint64_t started_ns_;
  bool startup_ = true;  // adopted announcements are kept
  std::map<std::string, Prefix> prefixes_;
  std::vector<VipView> vips_;
  std::map<std::string, uint64_t> differs_since_;  // by VIP key
  std::vector<nlohmann::json> changes_;

  HostState host_ = HostState::kServing;
  uint64_t host_since_ns_ = 0;
  uint64_t gshut_until_ns_ = 0;
  uint64_t withdraw_deadline_ns_ = 0;
  uint64_t last_packets_ = 0;
  uint64_t last_traffic_ns_ = 0;
  bool drain_timed_out_ = false;
};

}  // namespace sluice::cp
