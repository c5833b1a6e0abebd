#include "health/tunnel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

#include "health/tunnel_shared.h"
#include "tunnel_encap.skel.h"

namespace sluice::health {

namespace {

std::string sys_error(const std::string& what, int err) {
  std::string s = what;
  s += ": ";
  s += std::strerror(err < 0 ? -err : err);
  return s;
}

bpf_tc_hook egress_hook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_EGRESS;
  return hook;
}

bpf_tc_opts our_opts() {
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  // Our own handle and priority, so that detaching removes ours and
  // nothing another program put there.
  opts.handle = 0x51c;
  opts.priority = 0x51c;
  return opts;
}

}  // namespace

uint32_t tunnel_mark(uint32_t backend_id) { return TUNNEL_MARK_BASE | (backend_id & ~TUNNEL_MARK_MASK); }

TunnelEncap::~TunnelEncap() { detach(); }

std::string TunnelEncap::attach(const std::string& iface) {
  detach();
  const unsigned idx = if_nametoindex(iface.c_str());
  if (idx == 0) return sys_error("tunnel probes: interface " + iface, errno);
  tunnel_encap* skel = tunnel_encap__open_and_load();
  if (skel == nullptr) {
    return sys_error("tunnel probes: cannot load the tc program (needs root)", errno);
  }
  bpf_tc_hook hook = egress_hook(static_cast<int>(idx));
  // The clsact qdisc may be there already (another program's): fine.
  if (int rc = bpf_tc_hook_create(&hook); rc != 0 && rc != -EEXIST) {
    tunnel_encap__destroy(skel);
    return sys_error("tunnel probes: cannot add a clsact qdisc on " + iface, rc);
  }
  bpf_tc_opts opts = our_opts();
  opts.prog_fd = bpf_program__fd(skel->progs.sluice_tunnel_encap);
  opts.flags = BPF_TC_F_REPLACE;
  if (int rc = bpf_tc_attach(&hook, &opts); rc != 0) {
    tunnel_encap__destroy(skel);
    return sys_error("tunnel probes: cannot attach to " + iface + "'s egress", rc);
  }
  skel_ = skel;
  map_fd_ = bpf_map__fd(skel->maps.tunnel_dests);
  ifindex_ = static_cast<int>(idx);
  iface_ = iface;
  return {};
}

std::string TunnelEncap::set(uint32_t backend_id, const IpAddress& backend, Encap encap,
                             uint16_t gue_port) {
  if (map_fd_ < 0) return "tunnel probes need lb-controlplane --health-tunnel-iface";
  tunnel_dest d{};
  d.family = backend.family;
  d.encap = encap == Encap::kGue ? TUNNEL_GUE : TUNNEL_IPIP;
  d.gue_port_be = htons(gue_port);
  std::memcpy(d.addr, backend.bytes, 16);
  const uint32_t mark = tunnel_mark(backend_id);
  if (bpf_map_update_elem(map_fd_, &mark, &d, BPF_ANY) != 0) {
    return sys_error("tunnel probes: map update", errno);
  }
  return {};
}

void TunnelEncap::remove(uint32_t backend_id) {
  if (map_fd_ < 0) return;
  const uint32_t mark = tunnel_mark(backend_id);
  bpf_map_delete_elem(map_fd_, &mark);
}

void TunnelEncap::detach() {
  if (skel_ == nullptr) return;
  bpf_tc_hook hook = egress_hook(ifindex_);
  bpf_tc_opts opts = our_opts();
  bpf_tc_detach(&hook, &opts);
  tunnel_encap__destroy(static_cast<tunnel_encap*>(skel_));
  skel_ = nullptr;
  map_fd_ = -1;
}

}  // namespace sluice::health
