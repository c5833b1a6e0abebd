// AF_XDP steering (DESIGN.md section 6): lb-dataplane's side of the XDP
// program in dataplane/xdp/steer.bpf.c, which sends only VIP traffic to
// the net_af_xdp port's sockets and passes the rest to the kernel.
//
// DPDK's net_af_xdp loads the program (its xdp_prog= devarg, which
// add_steering_program() supplies for --xdp-steering) and puts one socket
// per RX queue in the program's xsks_map. This side then finds the program
// on the port's interface, keeps its VIP map equal to the published tables
// and reads its counters. A net_af_xdp port that runs another program (the
// PMD's default sends every packet to DPDK: how a NIC owned by DPDK is
// emulated on a veth) is legitimate without --xdp-steering; it is logged.
//
// Threads: add_steering_program() before the EAL starts; everything else
// on the main thread / main lcore (start-up, then its loop). Nothing here
// runs on a worker or per packet.
#pragma once

#include <cstdint>
#include <set>
#include <array>
#include <string>
#include <vector>

#include "common/control_segment.h"
#include "dataplane/tables.h"

namespace sluice::dp {

// The EAL's command line, possibly with the steering program added.
struct EalArgs {
  std::vector<std::string> text;
  std::vector<char*> pointers;  // into `text`, NULL-terminated like argv
  int argc() const { return static_cast<int>(pointers.size()) - 1; }
  char** argv() { return pointers.data(); }
};

// With --xdp-steering among the program's options (after "--"): adds
// ",xdp_prog=OBJECT" to every net_af_xdp --vdev before "--" that names no
// program, OBJECT being --xdp-program or the default one. Returns an empty
// string, or a start-up error (no such object file; `out` is then not to
// be used). Without the option `out` is argv as it is.
std::string add_steering_program(int argc, char** argv, EalArgs& out);

// Whether DPDK drives the port with net_af_xdp (false for a port that
// does not exist).
bool is_af_xdp_port(uint16_t port_id);
// Mbufs a net_af_xdp queue holds beyond its descriptors: the PMD's fill
// ring, 4,096 deep in DPDK 22.11 (2 x ETH_AF_XDP_DFLT_NUM_DESCS).
inline constexpr uint32_t kAfXdpFillMbufs = 4096;

// Where lb-dataplane looks for the program by default: next to the binary
// in the build tree (xdp/sluice-steer.bpf.o), else the installed one.
std::string default_steering_program();

class XdpSteering {
 public:
  XdpSteering(uint16_t port_id, bool required) : port_id_(port_id), required_(required) {}
  ~XdpSteering();
  XdpSteering(const XdpSteering&) = delete;
  XdpSteering& operator=(const XdpSteering&) = delete;

  // After the EAL, before the port starts. With --xdp-steering the port
  // must be a net_af_xdp one. On a net_af_xdp port's interface it removes
  // a steering program that a killed lb-dataplane left attached (the PMD
  // refuses to attach over any program), and refuses to start over some
  // other program when steering is required. Empty string or the error.
  std::string prepare();

  // After the port started: finds the program the PMD attached and, if it
  // is ours, its maps; logs which case applies. An error when steering is
  // required and the program is not ours.
  std::string attach();

  XdpMode mode() const { return mode_; }

  // Main lcore, every pass: when `t` is a generation the VIP map does not
  // hold yet (or the last update failed and a second passed), makes the
  // map equal to t's VIP keys, adding new keys before deleting gone ones.
  // Between a publication and this call a new VIP's packets still go to
  // the kernel and a removed one's reach the workers (which drop them as
  // not_for_us): the same moment either way, since the workers switch
  // tables at their next burst.
  void follow(const TableSnapshot& t, uint64_t now_ns);

  // About once a second: the program's counters (summed over the CPUs),
  // the map's size and the failed updates into `out`.
  void refresh(PortStatus& out) const;

 private:
  using Key = std::array<uint8_t, 20>;  // struct sluice_vip_key

  std::string interface_index(int& ifindex) const;

  uint16_t port_id_;
  bool required_;
  XdpMode mode_ = XdpMode::kNone;
  int vips_fd_ = -1;
  int stats_fd_ = -1;
  std::set<Key> keys_;  // what the map holds
  uint64_t synced_generation_ = UINT64_MAX;
  bool retry_ = false;
  uint64_t next_retry_ns_ = 0;
  uint64_t sync_errors_ = 0;
  uint64_t last_failed_ = 0;  // updates the last follow() could not make
};

}  // namespace sluice::dp
