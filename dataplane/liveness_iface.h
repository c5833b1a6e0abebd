// The liveness device (--liveness-iface NAME, DESIGN.md section 8): a TUN
// interface that exists exactly as long as this lb-dataplane process does.
//
// BIRD holds a static route `route VIP/32 via "NAME";` only while the
// interface NAME exists and is up. The device is not persistent
// (TUNSETPERSIST is never called), so the kernel deletes it when the last
// file descriptor on it closes: when the process ends in any way, kill -9
// included. A host whose dataplane is gone therefore stops announcing its
// VIPs within milliseconds, even when lb-controlplane is gone too and can
// no longer withdraw them.
//
// The device is created down at start (so that a name already in use is a
// start-up error) and set up once the dataplane has tables (the first
// generation published, from --static-config or the control plane): a
// dataplane restarted while its control plane is down has no VIPs, and
// must not bring back the routes an earlier control plane left in BIRD.
//
// Nothing is ever read from or written to the device: packets the kernel
// routes to it (none should be; BIRD must not export these routes to the
// kernel) queue up to its txqueuelen and are dropped.
//
// Main thread / main lcore only.
#pragma once

#include <string>

#include "common/iface_name.h"

namespace sluice::dp {

class LivenessIface {
 public:
  // Creates the TUN device `name` (down) in the calling thread's network
  // namespace. Empty on success; otherwise why not, naming the device
  // (name in use, no /dev/net/tun, no CAP_NET_ADMIN).
  std::string create(const std::string& name);

  // Sets the device IFF_UP. Empty on success, otherwise why not.
  std::string set_up();

  bool created() const { return fd_ >= 0; }
  bool is_up() const { return up_; }
  const std::string& name() const { return name_; }

  // Closes the descriptor: the kernel deletes the device at once. Called at
  // the start of a clean stop so that the routes go before anything else.
  void close();

  LivenessIface() = default;
  ~LivenessIface() { close(); }
  LivenessIface(const LivenessIface&) = delete;
  LivenessIface& operator=(const LivenessIface&) = delete;

 private:
  std::string name_;
  int fd_ = -1;
  bool up_ = false;
};

}  // namespace sluice::dp
