// BGP inside lb-controlplane (DESIGN.md section 8), on when --bird-socket
// is given: every 100 ms it reads the conditions of each VIP (dataplane
// liveness, sync, health), lets the announcer decide (bgp_announcer.h) and
// hands the result to the BIRD adapter (bird_adapter.h), which writes the
// include file and has BIRD apply it. Announcement changes and drains go to
// the audit log.
//
// The dataplane counts as alive here only while its heartbeat is younger
// than 500 ms and its process exists: the announcement must go within a
// second of the dataplane's death, sooner than the control link's own
// staleness limit. Even without us, BIRD drops the routes the moment the
// dataplane's liveness device disappears.
//
// The control plane's loop calls tick(); not thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "controlplane/bgp_announcer.h"
#include "controlplane/bird_adapter.h"

namespace sluice::cp {

class AuditLog;
class Controller;
class DataplaneLink;
class HealthMonitor;

struct BgpOptions {
  std::string bird_socket;
  std::string bird_include;
  std::string liveness_iface;
  AnnounceTiming timing;
};

class BgpService {
 public:
  static constexpr uint64_t kTickNs = 100'000'000;
  static constexpr uint64_t kAliveHeartbeatNs = 500'000'000;

  // Reads the include file (what BIRD announces now) and starts the
  // adapter; nullptr with `error` when the file exists but is not ours.
  static std::unique_ptr<BgpService> start(const BgpOptions& options, AuditLog& audit,
                                           uint64_t now_ns, std::string& error);

  // Decides and applies, at most once per kTickNs.
  void tick(uint64_t now_ns, const Controller& controller, DataplaneLink& link,
            const HealthMonitor* health);
  uint64_t sleep_ns(uint64_t now_ns) const {
    return next_tick_ns_ > now_ns ? next_tick_ns_ - now_ns : 0;
  }

  // bgp.show: BIRD, the host and every VIP.
  nlohmann::json view(uint64_t now_ns) const;
  // The part of status: the host state and every VIP's announcement.
  nlohmann::json status_view(uint64_t now_ns) const;
  void drain(uint64_t now_ns, uint64_t gshut_ns, uint64_t timeout_ns, nlohmann::json& result);
  void undrain(uint64_t now_ns, nlohmann::json& result);

 private:
  BgpService(const BgpOptions& options, AuditLog& audit, const BirdVipsFile& adopted,
             uint64_t now_ns);

  BgpOptions options_;
  AuditLog& audit_;
  BgpAnnouncer announcer_;
  BirdAdapter adapter_;
  BirdVipsFile published_;  // what the adapter was given last
  uint64_t next_tick_ns_ = 0;
};

}  // namespace sluice::cp
