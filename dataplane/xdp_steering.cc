#include "dataplane/xdp_steering.h"
#include "common/errno_text.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "dataplane/xdp/steer_keys.h"
#include "dataplane/xdp/steer_shared.h"

namespace sluice::dp {

static_assert(sizeof(sluice_vip_key) == 20 && sizeof(sluice_vip_key) <= sizeof(VipSlot));
static_assert(static_cast<size_t>(XdpStat::redirected) == SLUICE_STEER_REDIRECTED &&
              static_cast<size_t>(XdpStat::passed) == SLUICE_STEER_PASSED &&
              static_cast<size_t>(XdpStat::no_socket) == SLUICE_STEER_NO_SOCKET &&
              kXdpStatCount == SLUICE_STEER_STAT_COUNT);

namespace {

constexpr const char* kObjectName = "sluice-steer.bpf.o";
constexpr const char* kAfXdpDriver = "net_af_xdp";
// A failed map update is tried again this long after.
constexpr uint64_t kRetryNs = 1'000'000'000;


bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The program's options come after "--"; their values as the EAL sees them.
struct SteeringArgs {
  bool steering = false;
  std::string program;
};

SteeringArgs steering_args(int argc, char** argv) {
  SteeringArgs a;
  int i = 1;
  while (i < argc && std::strcmp(argv[i], "--") != 0) ++i;
  for (++i; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--xdp-steering") a.steering = true;
    if (arg == "--xdp-program" && i + 1 < argc) a.program = argv[i + 1];
    if (starts_with(arg, "--xdp-program=")) a.program = arg.substr(std::strlen("--xdp-program="));
  }
  return a;
}

// The program attached to `ifindex` and, if it is Sluice's, its maps.
struct Attached {
  uint32_t prog_id = 0;
  std::string prog_name;
  int vips_fd = -1;
  int stats_fd = -1;
  bool ours() const { return vips_fd >= 0 && stats_fd >= 0; }
  void close_fds() {
    if (vips_fd >= 0) close(vips_fd);
    if (stats_fd >= 0) close(stats_fd);
    vips_fd = stats_fd = -1;
  }
};

std::string find_attached(int ifindex, Attached& out) {
  if (int rc = bpf_xdp_query_id(ifindex, 0, &out.prog_id); rc != 0) {
    return "bpf_xdp_query_id on interface index " + std::to_string(ifindex) +
           " failed: " + errno_text(rc);
  }
  if (out.prog_id == 0) return {};
  const int prog_fd = bpf_prog_get_fd_by_id(out.prog_id);
  if (prog_fd < 0) {
    return "bpf_prog_get_fd_by_id(" + std::to_string(out.prog_id) +
           ") failed: " + errno_text(errno) + " (lb-dataplane needs CAP_SYS_ADMIN or CAP_BPF)";
  }
  // Twice: once for the number of maps, once for their ids.
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  int rc = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
  std::vector<uint32_t> map_ids(info.nr_map_ids);
  if (rc == 0 && !map_ids.empty()) {
    const uint32_t n = info.nr_map_ids;
    info = bpf_prog_info{};
    info.nr_map_ids = n;
    info.map_ids = reinterpret_cast<uint64_t>(map_ids.data());
    len = sizeof info;
    rc = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
  }
  close(prog_fd);
  if (rc != 0) return "bpf_obj_get_info_by_fd(program) failed: " + errno_text(errno);
  out.prog_name = info.name;
  map_ids.resize(std::min<size_t>(map_ids.size(), info.nr_map_ids));
  for (uint32_t id : map_ids) {
    const int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_map_info map{};
    uint32_t map_len = sizeof map;
    if (bpf_obj_get_info_by_fd(fd, &map, &map_len) != 0) {
      close(fd);
      continue;
    }
    // Names and shapes both: an object of another Sluice version is refused.
    if (std::strcmp(map.name, SLUICE_VIPS_MAP) == 0 && map.key_size == sizeof(sluice_vip_key) &&
        map.value_size == 1 && out.vips_fd < 0) {
      out.vips_fd = fd;
    } else if (std::strcmp(map.name, SLUICE_STATS_MAP) == 0 && map.value_size == 8 &&
               map.max_entries == SLUICE_STEER_STAT_COUNT && out.stats_fd < 0) {
      out.stats_fd = fd;
    } else {
      close(fd);
    }
  }
  if (!out.ours()) out.close_fds();
  return {};
}

std::string iface_name(int ifindex) {
  char name[IF_NAMESIZE] = {};
  return if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr
             ? std::string(name)
             : "index " + std::to_string(ifindex);
}

}  // namespace

bool is_af_xdp_port(uint16_t port_id) {
  rte_eth_dev_info info{};
  return rte_eth_dev_is_valid_port(port_id) && rte_eth_dev_info_get(port_id, &info) == 0 &&
         info.driver_name != nullptr && std::strcmp(info.driver_name, kAfXdpDriver) == 0;
}

std::string default_steering_program() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto built = exe.parent_path() / "xdp" / kObjectName;
    if (std::filesystem::exists(built, ec)) return built.string();
  }
  return std::string(SLUICE_XDP_PROGRAM_DIR) + "/" + kObjectName;
}

std::string add_steering_program(int argc, char** argv, EalArgs& out) {
  out.text.assign(argv, argv + argc);
  const SteeringArgs a = steering_args(argc, argv);
  if (a.steering) {
    const std::string program = a.program.empty() ? default_steering_program() : a.program;
    if (access(program.c_str(), R_OK) != 0) {
      return "--xdp-steering: cannot read the steering program " + program + ": " +
             std::strerror(errno) +
             (a.program.empty() ? " (build it, install it, or give --xdp-program)" : "");
    }
    // The PMD's devargs are comma-separated key=value pairs.
    if (program.find_first_of(",=") != std::string::npos) {
      return "--xdp-program " + program + ": a path with ',' or '=' cannot be a devarg";
    }
    for (size_t i = 1; i < out.text.size() && out.text[i] != "--"; ++i) {
      std::string* vdev = nullptr;
      size_t value = 0;  // where the device's name starts
      if (out.text[i] == "--vdev" && i + 1 < out.text.size()) {
        vdev = &out.text[++i];
      } else if (starts_with(out.text[i], "--vdev=")) {
        vdev = &out.text[i];
        value = std::strlen("--vdev=");
      }
      if (vdev == nullptr || vdev->compare(value, std::strlen(kAfXdpDriver), kAfXdpDriver) != 0 ||
          vdev->find(",xdp_prog=") != std::string::npos) {
        continue;
      }
      *vdev += ",xdp_prog=" + program;
    }
  }
  for (std::string& t : out.text) out.pointers.push_back(t.data());
  out.pointers.push_back(nullptr);
  return {};
}

XdpSteering::~XdpSteering() {
  if (vips_fd_ >= 0) close(vips_fd_);
  if (stats_fd_ >= 0) close(stats_fd_);
}

std::string XdpSteering::interface_index(int& ifindex) const {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id_, &info); rc != 0) {
    return "rte_eth_dev_info_get failed on port " + std::to_string(port_id_) + ": " +
           errno_text(rc);
  }
  if (info.driver_name == nullptr || std::strcmp(info.driver_name, kAfXdpDriver) != 0) {
    ifindex = 0;
    if (!required_) return {};
    return "--xdp-steering: port " + std::to_string(port_id_) + " is driven by " +
           (info.driver_name != nullptr ? info.driver_name : "an unknown driver") +
           ", not net_af_xdp (give the EAL e.g. --vdev net_af_xdp0,iface=eth0)";
  }
  ifindex = static_cast<int>(info.if_index);
  return {};
}

std::string XdpSteering::prepare() {
  int ifindex = 0;
  if (std::string e = interface_index(ifindex); !e.empty() || ifindex == 0) return e;
  Attached a;
  if (std::string e = find_attached(ifindex, a); !e.empty()) return e;
  if (a.prog_id == 0) return {};
  const bool ours = a.ours();
  a.close_fds();
  if (!ours) {
    if (!required_) return {};
    return "--xdp-steering: interface " + iface_name(ifindex) + " already runs XDP program " +
           std::to_string(a.prog_id) + " (" + a.prog_name +
           "), which is not Sluice's; remove it first (ip link set dev " + iface_name(ifindex) +
           " xdp off)";
  }
  // Ours, attached before this process started: a dataplane that did not
  // stop cleanly (the PMD detaches it on a clean stop).
  if (int rc = bpf_xdp_detach(ifindex, 0, nullptr); rc != 0) {
    return "bpf_xdp_detach of the steering program left on " + iface_name(ifindex) +
           " failed: " + errno_text(rc);
  }
  std::fprintf(stderr,
               "lb-dataplane: removed the steering program (id %u) a dataplane that did not stop "
               "cleanly left on %s\n",
               a.prog_id, iface_name(ifindex).c_str());
  return {};
}

std::string XdpSteering::attach() {
  int ifindex = 0;
  if (std::string e = interface_index(ifindex); !e.empty() || ifindex == 0) return e;
  Attached a;
  if (std::string e = find_attached(ifindex, a); !e.empty()) return e;
  const std::string iface = iface_name(ifindex);
  if (!a.ours()) {
    if (required_) {
      return "--xdp-steering: " + iface + " runs XDP program " + std::to_string(a.prog_id) +
             " (" + a.prog_name + ") after the port started, not Sluice's steering program";
    }
    mode_ = XdpMode::kOther;
    std::fprintf(stderr,
                 "lb-dataplane: port %u (net_af_xdp on %s) runs XDP program %u (%s), not Sluice's "
                 "steering program: every packet goes to the dataplane, as with a NIC owned by "
                 "DPDK (--xdp-steering keeps non-VIP traffic in the kernel)\n",
                 port_id_, iface.c_str(), a.prog_id, a.prog_name.c_str());
    return {};
  }
  mode_ = XdpMode::kSteering;
  vips_fd_ = a.vips_fd;
  stats_fd_ = a.stats_fd;
  std::fprintf(stderr,
               "lb-dataplane: port %u (net_af_xdp on %s) runs Sluice's steering program %u: VIP "
               "traffic to the dataplane, everything else to the kernel\n",
               port_id_, iface.c_str(), a.prog_id);
  return {};
}

void XdpSteering::follow(const TableSnapshot& t, uint64_t now_ns) {
  if (mode_ != XdpMode::kSteering) return;
  if (t.generation == synced_generation_ && !(retry_ && now_ns >= next_retry_ns_)) return;
  std::set<Key> wanted;
  for_each_steering_key(t.vip_index, [&](const sluice_vip_key& k) {
    Key bytes;
    std::memcpy(bytes.data(), &k, sizeof k);
    wanted.insert(bytes);
  });
  uint64_t failed = 0;
  int first_error = 0;
  const uint8_t present = 1;
  for (const Key& k : wanted) {
    if (keys_.count(k) != 0) continue;
    if (bpf_map_update_elem(vips_fd_, k.data(), &present, BPF_ANY) == 0) {
      keys_.insert(k);
    } else {
      ++failed;
      if (first_error == 0) first_error = errno;
    }
  }
  for (auto it = keys_.begin(); it != keys_.end();) {
    if (wanted.count(*it) != 0) {
      ++it;
    } else if (bpf_map_delete_elem(vips_fd_, it->data()) == 0 || errno == ENOENT) {
      it = keys_.erase(it);
    } else {
      ++failed;
      if (first_error == 0) first_error = errno;
      ++it;
    }
  }
  // Said once per generation (and when the retries fare differently), not
  // once a second while a full map keeps refusing the same keys.
  const bool say = failed != 0 && (t.generation != synced_generation_ || failed != last_failed_);
  synced_generation_ = t.generation;
  retry_ = failed != 0;
  last_failed_ = failed;
  if (failed != 0) {
    sync_errors_ += failed;
    next_retry_ns_ = now_ns + kRetryNs;
  }
  if (say) {
    std::fprintf(stderr,
                 "lb-dataplane: %lu updates of the steering program's VIP map failed for "
                 "generation %lu (first: %s); retrying every second\n",
                 static_cast<unsigned long>(failed), static_cast<unsigned long>(t.generation),
                 std::strerror(first_error));
  }
}

void XdpSteering::refresh(PortStatus& out) const {
  out.xdp_mode.store(static_cast<uint32_t>(mode_), std::memory_order_relaxed);
  if (mode_ != XdpMode::kSteering) return;
  out.xdp_keys.store(static_cast<uint32_t>(keys_.size()), std::memory_order_relaxed);
  out.xdp_sync_errors.store(sync_errors_, std::memory_order_relaxed);
  // A per-CPU array answers one 8-byte slot per possible CPU.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return;
  std::vector<uint64_t> values(static_cast<size_t>(cpus));
  for (uint32_t i = 0; i < kXdpStatCount; ++i) {
    if (bpf_map_lookup_elem(stats_fd_, &i, values.data()) != 0) continue;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    out.xdp_stats[i].store(sum, std::memory_order_relaxed);
  }
}

}  // namespace sluice::dp
