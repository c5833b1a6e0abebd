// The through-the-tunnel probe's tc egress program (tunnel_encap.bpf.c) on
// one interface of the probing host, and its map of socket marks to
// backends. Attached when lb-controlplane starts with
// --health-tunnel-iface and detached when it stops; the map follows the
// configuration (one entry per backend with a tunnel check). Needs
// CAP_NET_ADMIN and CAP_BPF (root). One thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/ip_address.h"
#include "common/table_config.h"

namespace sluice::health {

// The mark a tunnel probe of backend `backend_id` carries.
uint32_t tunnel_mark(uint32_t backend_id);

class TunnelEncap {
 public:
  TunnelEncap() = default;
  ~TunnelEncap();
  TunnelEncap(const TunnelEncap&) = delete;
  TunnelEncap& operator=(const TunnelEncap&) = delete;

  // Loads the program and attaches it to `iface`'s egress; empty on success.
  std::string attach(const std::string& iface);
  bool attached() const { return map_fd_ >= 0; }
  const std::string& iface() const { return iface_; }

  // Probes marked tunnel_mark(backend_id) go to `backend` with `encap`;
  // empty on success.
  std::string set(uint32_t backend_id, const IpAddress& backend, Encap encap, uint16_t gue_port);
  void remove(uint32_t backend_id);
  void detach();

 private:
  void* skel_ = nullptr;  // the generated skeleton
  int map_fd_ = -1;
  int ifindex_ = 0;
  std::string iface_;
};

}  // namespace sluice::health
