// lb-backend: prepares a Linux host to be a Sluice backend (DESIGN.md
// section 7). `up` attaches the decapsulation XDP program to the interface
// traffic arrives on, adds the VIPs to lo and sets the sysctls DSR needs;
// `down` undoes all of it; `status` prints what was decapsulated. No tunnel
// driver is needed: the kernel sees the inner packet as if it had arrived
// directly, addressed to a VIP it owns.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "decap.skel.h"
#include "decap_shared.h"

extern char** environ;

namespace {

namespace po = boost::program_options;
using nlohmann::json;
using sluice::IpAddress;

constexpr int kExitUsage = 2;
constexpr int kExitFailed = 1;

struct Options {
  std::string command;
  std::string iface;
  std::vector<std::string> vips;
  uint32_t gue_port = 6080;
  std::string mode = "auto";
  std::string state_dir = "/run/sluice";
  bool json_output = false;
};

// The sysctls DSR needs: the VIP sits on lo, so the host must neither answer
// ARP for it on the wire (arp_ignore/arp_announce) nor drop packets whose
// source it would route elsewhere (rp_filter).
struct Sysctl {
  std::string path;
  std::string value;
};

std::vector<Sysctl> dsr_sysctls(const std::string& iface) {
  return {
      {"/proc/sys/net/ipv4/conf/all/arp_ignore", "1"},
      {"/proc/sys/net/ipv4/conf/all/arp_announce", "2"},
      {"/proc/sys/net/ipv4/conf/" + iface + "/arp_ignore", "1"},
      {"/proc/sys/net/ipv4/conf/" + iface + "/arp_announce", "2"},
      {"/proc/sys/net/ipv4/conf/all/rp_filter", "0"},
      {"/proc/sys/net/ipv4/conf/" + iface + "/rp_filter", "0"},
      {"/proc/sys/net/ipv4/conf/lo/rp_filter", "0"},
  };
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::string v;
  std::getline(in, v);
  return v;
}

bool write_text(const std::string& path, const std::string& value, std::string& error) {
  std::ofstream out(path);
  out << value << "\n";
  out.close();
  if (!out) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Runs `ip` with the given arguments (no shell). Returns its exit status.
int run_ip(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string prog = "ip";
  argv.push_back(prog.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Interface names repeat across network namespaces, and /run is shared by
// them: the namespace's inode makes the record unique.
std::string state_path(const Options& o) {
  struct stat st {};
  stat("/proc/self/ns/net", &st);
  return o.state_dir + "/lb-backend-" + std::to_string(st.st_ino) + "-" + o.iface + ".json";
}

std::string vip_prefix(const IpAddress& a) {
  return sluice::format_ip_address(a) + (a.is_v4() ? "/32" : "/128");
}

std::vector<IpAddress> interface_addresses(const std::string& iface) {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || iface != i->ifa_name) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      a.family = 4;
      std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.family = 6;
      std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

int fail(const std::string& msg, const std::string& hint = "") {
  std::cerr << "lb-backend: " << msg << "\n";
  if (!hint.empty()) std::cerr << "  " << hint << "\n";
  return kExitFailed;
}

int cmd_up(const Options& o, int ifindex) {
  std::vector<IpAddress> vips;
  for (const std::string& v : o.vips) {
    auto a = sluice::parse_ip_address(v);
    if (!a) {
      std::cerr << "lb-backend: --vip '" << v << "' is not an IPv4 or IPv6 address\n";
      return kExitUsage;
    }
    vips.push_back(*a);
  }
  const std::vector<IpAddress> local = interface_addresses(o.iface);
  if (local.empty()) {
    return fail("interface " + o.iface + " has no address",
                "give it the address Sluice encapsulates to before running lb-backend up");
  }

  decap* skel = decap__open();
  if (skel == nullptr) return fail(std::string("cannot open the BPF program: ") + std::strerror(errno));
  skel->rodata->gue_port_be = htons(static_cast<uint16_t>(o.gue_port));
  if (int rc = decap__load(skel); rc != 0) {
    decap__destroy(skel);
    return fail("cannot load the BPF program: " + std::string(std::strerror(-rc)),
                "lb-backend needs root (CAP_BPF, CAP_NET_ADMIN)");
  }
  for (const IpAddress& a : local) {
    decap_local_addr key{};
    key.family = a.family;
    std::memcpy(key.addr, a.bytes, a.is_v4() ? 4 : 16);
    const uint8_t one = 1;
    bpf_map_update_elem(bpf_map__fd(skel->maps.local_addrs), &key, &one, BPF_ANY);
  }
  const int prog = bpf_program__fd(skel->progs.sluice_decap);
  int attached = -1;
  std::string mode;
  if (o.mode == "auto" || o.mode == "native") {
    attached = bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, nullptr);
    mode = "native";
  }
  if (attached != 0 && (o.mode == "auto" || o.mode == "generic")) {
    attached = bpf_xdp_attach(ifindex, prog, XDP_FLAGS_SKB_MODE, nullptr);
    mode = "generic";
  }
  // The attachment keeps the program and its maps alive after we exit.
  decap__destroy(skel);
  if (attached != 0) {
    return fail("cannot attach XDP to " + o.iface + ": " + std::strerror(-attached),
                "is another XDP program attached? run lb-backend down first");
  }

  // Remember what we change so `down` restores exactly that.
  json saved = {{"iface", o.iface}, {"mode", mode}, {"vips", json::array()},
                {"sysctls", json::object()}};
  std::string error;
  for (const Sysctl& s : dsr_sysctls(o.iface)) {
    saved["sysctls"][s.path] = read_text(s.path);
    if (!write_text(s.path, s.value, error)) return fail(error);
  }
  for (const IpAddress& a : vips) {
    const int rc = run_ip({"addr", "replace", vip_prefix(a), "dev", "lo"});
    if (rc != 0) return fail("ip addr replace " + vip_prefix(a) + " dev lo failed");
    saved["vips"].push_back(sluice::format_ip_address(a));
  }
  run_ip({"link", "set", "lo", "up"});
  mkdir(o.state_dir.c_str(), 0755);
  if (!write_text(state_path(o), saved.dump(), error)) return fail(error);
  std::cout << "lb-backend: decapsulating on " << o.iface << " (XDP " << mode << ", GUE port "
            << o.gue_port << "), " << vips.size() << " VIP(s) on lo\n";
  return 0;
}

int cmd_down(const Options& o, int ifindex) {
  int rc = 0;
  if (bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr) != 0 &&
      bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, nullptr) != 0) {
    rc = fail("no XDP program to detach from " + o.iface);
  }
  std::ifstream in(state_path(o));
  if (!in) return rc;
  json saved = json::parse(in, nullptr, false);
  if (saved.is_discarded()) return fail(state_path(o) + " is not valid JSON; VIPs and sysctls left as they are");
  const json vips = saved.value("vips", json::array());
  const json sysctls = saved.value("sysctls", json::object());
  for (const auto& v : vips) {
    if (!v.is_string()) continue;
    auto a = sluice::parse_ip_address(v.get<std::string>());
    if (a) run_ip({"addr", "del", vip_prefix(*a), "dev", "lo"});
  }
  std::string error;
  for (const auto& [path, value] : sysctls.items()) {
    if (value.is_string() && !write_text(path, value.get<std::string>(), error)) rc = fail(error);
  }
  unlink(state_path(o).c_str());
  if (rc == 0) std::cout << "lb-backend: " << o.iface << " restored\n";
  return rc;
}

int cmd_status(const Options& o, int ifindex) {
  uint32_t prog_id = 0;
  if (bpf_xdp_query_id(ifindex, 0, &prog_id) != 0 || prog_id == 0) {
    return fail("no decapsulation program on " + o.iface, "run lb-backend up first");
  }
  const int prog_fd = bpf_prog_get_fd_by_id(prog_id);
  bpf_prog_info info{};
  uint32_t map_ids[8] = {};
  info.nr_map_ids = 8;
  info.map_ids = reinterpret_cast<uint64_t>(map_ids);
  uint32_t len = sizeof info;
  if (prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) {
    return fail("cannot read XDP program " + std::to_string(prog_id));
  }
  int stats_fd = -1;
  for (uint32_t i = 0; i < info.nr_map_ids && i < 8; ++i) {
    const int fd = bpf_map_get_fd_by_id(map_ids[i]);
    bpf_map_info minfo{};
    uint32_t mlen = sizeof minfo;
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &minfo, &mlen) == 0 &&
        std::string(minfo.name) == "decap_stats") {
      stats_fd = fd;
      break;
    }
    if (fd >= 0) close(fd);
  }
  if (stats_fd < 0) return fail("the XDP program on " + o.iface + " is not Sluice's decapsulator");
  const int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  const char* names[DECAP_STAT_COUNT] = {"decap_ipip4", "decap_ipip6", "decap_gue", "passed",
                                         "malformed"};
  json out = {{"iface", o.iface}, {"program_id", prog_id}};
  for (uint32_t k = 0; k < DECAP_STAT_COUNT; ++k) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(stats_fd, &k, per_cpu.data()) == 0) {
      for (uint64_t v : per_cpu) sum += v;
    }
    out[names[k]] = sum;
  }
  if (o.json_output) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "interface    " << o.iface << " (XDP program " << prog_id << ")\n";
    for (const char* n : names) std::cout << n << std::string(13 - std::strlen(n), ' ') << out[n] << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  po::options_description desc(
      "Usage: lb-backend up|down|status --iface IF [options]\n\n"
      "  up      attach the decapsulation program, add VIPs to lo, set DSR sysctls\n"
      "  down    undo everything 'up' did on that interface\n"
      "  status  print decapsulation counters\n\nOptions");
  desc.add_options()("help,h", "Print this help.")
      ("iface", po::value(&o.iface), "Interface encapsulated traffic arrives on.")
      ("vip", po::value(&o.vips), "VIP to add to lo (repeatable; up only).")
      ("gue-port", po::value(&o.gue_port)->default_value(o.gue_port),
       "UDP port of GUE packets (lb-dataplane --gue-port).")
      ("mode", po::value(&o.mode)->default_value(o.mode),
       "XDP mode: auto (native, else generic), native, generic.")
      ("state-dir", po::value(&o.state_dir)->default_value(o.state_dir),
       "Where 'up' records what it changed, for 'down'.")
      ("json", po::bool_switch(&o.json_output), "status as JSON.");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&o.command));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lb-backend: " << e.what() << " (see lb-backend --help)\n";
    return kExitUsage;
  }
  if (vm.count("help") || o.command.empty()) {
    std::cout << desc;
    return vm.count("help") ? 0 : kExitUsage;
  }
  if (o.iface.empty()) {
    std::cerr << "lb-backend: --iface is required (see lb-backend --help)\n";
    return kExitUsage;
  }
  if (o.gue_port == 0 || o.gue_port > 65535 ||
      (o.mode != "auto" && o.mode != "native" && o.mode != "generic")) {
    std::cerr << "lb-backend: --gue-port must be 1-65535 and --mode auto, native or generic\n";
    return kExitUsage;
  }
  const int ifindex = static_cast<int>(if_nametoindex(o.iface.c_str()));
  if (ifindex == 0) return fail("no interface named " + o.iface);
  if (o.command == "up") return cmd_up(o, ifindex);
  if (o.command == "down") return cmd_down(o, ifindex);
  if (o.command == "status") return cmd_status(o, ifindex);
  std::cerr << "lb-backend: unknown command '" << o.command << "' (up, down or status)\n";
  return kExitUsage;
}
