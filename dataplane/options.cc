#include "dataplane/options.h"

#include <sys/resource.h>
#include <unistd.h>

#include "common/control_segment.h"
#include "dataplane/liveness_iface.h"
#include "dataplane/program_start.h"
#include "dataplane/worker_loop.h"

#include <boost/program_options.hpp>

#include <cstring>
#include <iostream>
#include <sstream>

namespace sluice::dp {

namespace po = boost::program_options;

namespace {

struct RawOptions {
  std::string outer_src_v4, outer_src_v6, next_hop_mac;
  std::vector<std::string> accept_macs;
  std::vector<std::string> next_hop_ips;
  int egress_port = -1;
  int exception_port = -1;
  uint64_t flows_per_lcore = 0;
  uint32_t tcp_timeout = 0, udp_timeout = 0, half_open_timeout = 0, closing_timeout = 0,
           max_inserts = 0, mtu = 0, gue_port = 0, icmp_rate = 0,
           icmp_burst = 0, max_vips = 0, max_backend_id = 0, port = 0, rx_desc = 0, tx_desc = 0,
           burst = 0;
  uint64_t hash_seed = 0;
};

po::options_description describe(DataplaneOptions& o, RawOptions& raw) {
  const ForwardingConfig d;
  po::options_description general("General");
  general.add_options()
      ("help,h", "Print this help and exit.")
      ("instance", po::value(&o.instance)->default_value(o.instance),
       "Instance name (1 to 64 of [A-Za-z0-9._-]); the control segment is "
       "/dev/shm/sluice-NAME. One lb-dataplane per name: a second one refuses to start while "
       "the first lives; a segment whose owner is gone (kill -9) is reclaimed at start, and a "
       "clean stop (SIGTERM, SIGINT) removes it.")
      ("static-config", po::value(&o.static_config),
       "JSON file of VIPs and backends installed at start through the same table API the "
       "control plane uses (see README). Without it the dataplane starts with no VIPs.")
      ("liveness-iface", po::value(&o.liveness_iface),
       "Name of a TUN device that exists exactly while this process lives (default: none). It "
       "is created at start in the process's network namespace (an existing interface of that "
       "name is an error), set up once the first tables are installed, never read, and deleted "
       "by the kernel when the process ends, kill -9 included. BIRD routes such as `route "
       "192.0.2.10/32 via \"NAME\";` (what lb-controlplane --bird-liveness-iface writes) are "
       "held only while the device is up, so a host whose dataplane is gone stops announcing "
       "its VIPs at once, even when lb-controlplane is gone too. See docs/bird/.");
  po::options_description ports("Ports (DPDK port ids come from the EAL options: --vdev, -a)");
  ports.add_options()
      ("port", po::value(&raw.port)->default_value(0), "Ingress port id.")
      ("egress-port", po::value(&raw.egress_port)->default_value(-1),
       "Port id that encapsulated packets leave by (-1: the ingress port). ICMP replies to "
       "clients leave by the port the request came in on. With a separate egress port, "
       "frames addressed to the ingress port's MAC are accepted too (as if given with "
       "--accept-mac), and everything leaves from the egress port's MAC.")
      ("exception-port", po::value(&raw.exception_port)->default_value(-1),
       "Port id of the kernel's exception interface, for an ingress port the kernel does not "
       "see (a NIC under a DPDK driver): a net_tap vdev (--vdev net_tap0,iface=NAME), or "
       "virtio_user with vhost-kernel where /dev/vhost-net exists. Frames for no VIP (the "
       "host's own addresses, ARP) and broadcast/multicast frames (ARP, neighbour discovery) "
       "go to it, and what the kernel sends on it leaves by the ingress port, so the host's "
       "addresses, BGP and SSH live on that interface. It takes the ingress port's MAC. One "
       "burst of it per worker pass at most, so it never holds VIP traffic back by more than "
       "a burst; frames it could not take are counted (drop_to_kernel_full, "
       "drop_from_kernel_full). -1: none (af_xdp and af_packet ports leave the kernel its "
       "traffic themselves).")
      ("rx-desc", po::value(&raw.rx_desc)->default_value(o.rx_desc), "RX descriptors per queue.")
      ("tx-desc", po::value(&raw.tx_desc)->default_value(o.tx_desc), "TX descriptors per queue.")
      ("mbufs", po::value(&o.mbufs)->default_value(0),
       "Mbufs in the packet pool (0: enough for every queue and burst).")
      ("mtu", po::value(&raw.mtu)->default_value(d.mtu),
       "Egress IP MTU: larger encapsulated packets get ICMP fragmentation-needed / "
       "packet-too-big back to the client.")
      ("next-hop-mac", po::value(&raw.next_hop_mac),
       "Ethernet address encapsulated packets are sent to (the router or the backends' L2 "
       "neighbour), fixed for the process's life: for static set-ups. It serves every family "
       "without a --next-hop-ip. One of --next-hop-mac and --next-hop-ip is required.")
      ("next-hop-ip", po::value(&raw.next_hop_ips)->composing(),
       "Address of the router encapsulated packets are sent to (at most twice: one IPv4, one "
       "IPv6 address, e.g. --next-hop-ip 198.51.100.1 --next-hop-ip 2001:db8:a::1). Its MAC "
       "comes from the kernel's neighbour table (netlink) on the interface the kernel routes "
       "the address by, and follows its changes (a router failover's gratuitous ARP or "
       "unsolicited neighbour advertisement) within a second; the dataplane asks the kernel to "
       "resolve it while it is unknown (once a second) and to re-confirm it every 5 s, since "
       "the forwarded traffic never passes through the kernel. While a family's next hop is "
       "unknown (no entry, INCOMPLETE, FAILED), packets to that family's backends are dropped "
       "and counted (drop_no_neighbour). lbctl status shows the MAC in use. The Sluice host's "
       "kernel must see the router: af_packet and AF_XDP ports share the interface with it.")
      ("accept-mac", po::value(&raw.accept_macs)->composing(),
       "A further unicast MAC whose frames are ours, besides the port's own (repeatable, at "
       "most 16; 15 with --egress-port), e.g. a VRRP virtual MAC. Frames to any other MAC "
       "are dropped and counted (not_our_mac; broadcast and multicast: not_our_mac_group). "
       "Replies still leave from the port's MAC.")
      ("xdp-steering", po::bool_switch(&o.xdp_steering),
       "The ingress port is a net_af_xdp port that runs Sluice's XDP steering program: only "
       "VIP traffic (and echo requests and ICMP errors to VIP addresses) reaches the "
       "dataplane, everything else stays with the kernel (ARP, ND, BGP, SSH). The program is "
       "added to the port's --vdev as xdp_prog= unless it names one; its VIP map follows "
       "every table publication. Without this option a net_af_xdp port keeps what its --vdev "
       "says (the PMD's default program sends every packet to the dataplane: a NIC owned by "
       "DPDK). See docs/ports.md.")
      ("xdp-program", po::value(&o.xdp_program),
       "The steering program's object file (default: sluice-steer.bpf.o from the build tree "
       "next to lb-dataplane, else the installed one, " SLUICE_XDP_PROGRAM_DIR
       "/sluice-steer.bpf.o).");
  po::options_description encap("Encapsulation");
  encap.add_options()
      ("outer-src-v4", po::value(&raw.outer_src_v4),
       "Outer IPv4 source address. Required for IPv4 backends.")
      ("outer-src-v6", po::value(&raw.outer_src_v6),
       "Outer IPv6 source address. Required for IPv6 backends.")
      ("gue-port", po::value(&raw.gue_port)->default_value(d.gue_port),
       "UDP destination port of GUE-encapsulated packets.");
  po::options_description flows("Flows");
  flows.add_options()
      ("flows-per-lcore", po::value(&raw.flows_per_lcore)->default_value(d.flows_per_lcore),
       "Connection table capacity per worker lcore (rounded up to a power of two).")
      ("tcp-idle-timeout", po::value(&raw.tcp_timeout)->default_value(d.tcp_idle_timeout_s),
       "Seconds an idle TCP flow keeps its backend.")
      ("udp-idle-timeout", po::value(&raw.udp_timeout)->default_value(d.udp_idle_timeout_s),
       "Seconds an idle UDP flow keeps its backend.")
      ("tcp-half-open-timeout",
       po::value(&raw.half_open_timeout)->default_value(d.tcp_half_open_timeout_s),
       "Seconds a connection entry made by a SYN lives until a later packet of the client "
       "confirms it (covers the client's first two SYN retransmissions; a spoofed SYN "
       "holds a slot no longer).")
      ("tcp-closing-timeout",
       po::value(&raw.closing_timeout)->default_value(d.tcp_closing_timeout_s),
       "Seconds a connection entry lives unused after the client's FIN or RST (IPVS's "
       "CLOSE timeout; the client's later ACKs renew it).")
      ("max-inserts-per-sec", po::value(&raw.max_inserts)->default_value(d.max_inserts_per_s),
       "Flood guard: connection entries a worker lcore makes per second at most (Katran's "
       "figure per core); past it new flows are still forwarded by the VIP's current table "
       "but not remembered (conn_insert_capped). 0: no cap.")
      ("hash-seed", po::value(&raw.hash_seed)->default_value(0),
       "Flow hash seed. Every Sluice host behind the same ECMP group must use the same one.")
      ("max-vips", po::value(&raw.max_vips)->default_value(d.max_vips),
       "Largest VIP id accepted.")
      ("max-backend-id", po::value(&raw.max_backend_id)->default_value(d.max_backend_id),
       "Largest backend id accepted.")
      ("icmp-rate", po::value(&raw.icmp_rate)->default_value(d.icmp_rate_per_s),
       "Replies to clients (ICMP too big, the no-backend RST or unreachable) per second per worker (0: never send them).")
      ("icmp-burst", po::value(&raw.icmp_burst)->default_value(d.icmp_burst),
       "Replies to clients a worker may send at once after a quiet spell.");
  po::options_description workers("Workers (one per EAL worker lcore; -l 0-2 gives two)");
  workers.add_options()
      ("burst", po::value(&raw.burst)->default_value(o.burst),
       "Packets per receive burst (at most 64).")
      ("idle-backoff-us", po::value(&o.idle_backoff_us)->default_value(0),
       "Microseconds a worker sleeps after a run of empty polls (0: busy poll, for "
       "production; at most 100000, so that a stop is never kept waiting). Set it on hosts "
       "that share cores, such as 2-core test machines.");
  po::options_description tables("Tables");
  tables.add_options()
      ("table-memory-mb", po::value(&o.table_memory_mb)->default_value(0),
       "Memory budget for forwarding tables, in MiB (Maglev tables: 4 bytes per slot per VIP). "
       "A configuration over it is refused before anything is built. 0: half of what the "
       "process may use (physical memory, RLIMIT_AS, RLIMIT_DATA).")
      ("build-threads", po::value(&o.build_threads)->default_value(1),
       "Threads that build Maglev tables in parallel during a change (1 to 64). They are not "
       "EAL lcores and run on whatever cores the process may use: raise it only where cores "
       "outside the worker lcores are free, or a large change slows forwarding.");
  po::options_description testing("Testing (fault injection; never in production)");
  testing.add_options()
      ("test-build-delay-ms", po::value(&o.test_build_delay_ms)->default_value(0),
       "Sleep this long per VIP whose Maglev table is built: a deliberately slow build.")
      ("test-alloc-fail-mb", po::value(&o.test_alloc_fail_mb)->default_value(0),
       "A build that allocates more than this many MiB of Maglev tables fails as if out of "
       "memory (the transaction is refused, the tables stay).")
      ("test-channel-exception", po::value(&o.test_channel_exception)->default_value(0),
       "The Nth committed transaction (counting from 1) throws an exception inside the "
       "control channel's poll, as an allocation failure there would: that transaction is "
       "refused and counted (refused_transactions), forwarding and later transactions go on. "
       "0: never.");
  po::options_description all;
  all.add(general).add(ports).add(encap).add(flows).add(workers).add(tables).add(testing);
  return all;
}

}  // namespace

std::string options_help() {
  DataplaneOptions o;
  RawOptions raw;
  std::ostringstream out;
  out << "Usage: lb-dataplane [EAL options] -- [options]\n\n"
         "Sluice's packet-forwarding process: receives client packets for VIPs, picks a backend\n"
         "(connection table, then Maglev), encapsulates (IPIP or GUE) and sends to the backend.\n"
         "EAL options are DPDK's (see dpdk-testpmd --help); on a host without hugepages use\n"
         "--no-huge -m 512 and --no-shconf or a unique --file-prefix.\n"
         "\n"
         "Port modes (one per host; docs/ports.md says how to choose):\n"
         "  af_xdp: the kernel keeps the interface; Sluice's XDP program sends only VIP traffic\n"
         "  to the dataplane and passes ARP, ND, BGP and SSH to the kernel:\n"
         "    lb-dataplane -l 0-2 --vdev net_af_xdp0,iface=eth1,start_queue=0,queue_count=2 --\n"
         "      --xdp-steering --next-hop-ip 198.51.100.1 --next-hop-ip 2001:db8:a::1\n"
         "      --outer-src-v4 198.51.100.2 --outer-src-v6 2001:db8:a::2\n"
         "  A NIC under a DPDK driver (vfio-pci): what is not VIP traffic goes to the kernel\n"
         "  through an exception interface, where the host's addresses live:\n"
         "    lb-dataplane -l 0-2 -a 0000:3b:00.0 --vdev net_tap0,iface=sluice-exc --\n"
         "      --exception-port 1 --next-hop-ip 198.51.100.1 --next-hop-ip 2001:db8:a::1\n"
         "      --outer-src-v4 198.51.100.2 --outer-src-v6 2001:db8:a::2\n"
         "  af_packet, for labs (the kernel keeps a copy of every packet):\n"
         "    lb-dataplane --no-huge -m 512 --no-pci --no-shconf -l 0,1\n"
         "      --vdev net_af_packet0,iface=eth1 -- --next-hop-mac 02:00:00:00:00:01\n"
         "      --outer-src-v4 198.51.100.2\n"
         "Every lcore but the first is a worker with its own queue on each port (RSS, the\n"
         "AF_XDP queues or af_packet's fanout keep a flow on one worker).\n"
      << describe(o, raw);
  return out.str();
}

std::string next_hop_address_problem(const IpAddress& a) {
  const uint8_t* b = a.bytes;
  if (a.is_v4()) {
    if (a.v4_be() == 0) return "is the unspecified address";
    if (b[0] == 127) return "is a loopback address";
    if (b[0] >= 224) return "is a multicast, broadcast or reserved address";
    return {};
  }
  static const uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 16) == 0) return "is the unspecified address";
  if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return "is the loopback address";
  if (b[0] == 0xff) return "is a multicast address";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
    // Its neighbour entry depends on an interface we are not told.
    return "is link-local: give the router's global (or unique local) address";
  }
  return {};
}

uint64_t default_table_memory_budget() {
  uint64_t usable = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                    static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    rlimit lim{};
    if (getrlimit(resource, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        lim.rlim_cur < usable) {
      usable = lim.rlim_cur;
    }
  }
  return usable / 2;
}

std::optional<DataplaneOptions> parse_options(int argc, char** argv, int& exit_code) {
  DataplaneOptions o;
  RawOptions raw;
  const auto desc = describe(o, raw);
  po::variables_map vm;
  if (!read_command_line("lb-dataplane", desc, argc, argv, vm)) {
    exit_code = 2;
    return std::nullopt;
  }
  if (vm.count("help")) {
    std::cout << options_help();
    exit_code = 0;
    return std::nullopt;
  }
  auto fail = [&](const std::string& msg) -> std::optional<DataplaneOptions> {
    std::cerr << "lb-dataplane: " << msg << " (see lb-dataplane --help)\n";
    exit_code = 2;
    return std::nullopt;
  };
  ForwardingConfig& f = o.forwarding;
  if (raw.port > UINT16_MAX) return fail("--port " + std::to_string(raw.port) + " is not a port id");
  o.port = static_cast<uint16_t>(raw.port);
  if (raw.egress_port > UINT16_MAX) return fail("--egress-port is not a port id");
  o.egress_port = raw.egress_port < 0 ? o.port : static_cast<uint16_t>(raw.egress_port);
  if (raw.exception_port > UINT16_MAX) return fail("--exception-port is not a port id");
  if (raw.exception_port >= 0) {
    const auto id = static_cast<uint16_t>(raw.exception_port);
    if (id == o.port || id == o.egress_port) {
      return fail("--exception-port " + std::to_string(id) +
                  " is the ingress or egress port; it must be a port of its own (a net_tap "
                  "or virtio_user vdev)");
    }
    o.exception_port = id;
    f.kernel_path = true;
  }
  if (raw.rx_desc == 0 || raw.rx_desc > 16384 || raw.tx_desc == 0 || raw.tx_desc > 16384) {
    return fail("--rx-desc and --tx-desc must be in [1, 16384]");
  }
  o.rx_desc = static_cast<uint16_t>(raw.rx_desc);
  o.tx_desc = static_cast<uint16_t>(raw.tx_desc);
  if (raw.burst == 0 || raw.burst > kMaxBurst) {
    return fail("--burst " + std::to_string(raw.burst) + " is out of range [1, 64]");
  }
  o.burst = static_cast<uint16_t>(raw.burst);
  if (raw.mtu < 576 || raw.mtu > 9702) {
    return fail("--mtu " + std::to_string(raw.mtu) + " is out of range [576, 9702]");
  }
  f.mtu = raw.mtu;
  if (raw.gue_port == 0 || raw.gue_port > 65535) {
    return fail("--gue-port " + std::to_string(raw.gue_port) + " is out of range [1, 65535]");
  }
  f.gue_port = static_cast<uint16_t>(raw.gue_port);
  if (raw.flows_per_lcore == 0 || raw.flows_per_lcore > (1ull << 32)) {
    return fail("--flows-per-lcore " + std::to_string(raw.flows_per_lcore) +
                " is out of range [1, 4294967296]");
  }
  f.flows_per_lcore = raw.flows_per_lcore;
  if (raw.tcp_timeout == 0 || raw.udp_timeout == 0 || raw.tcp_timeout > 86400 * 7 ||
      raw.udp_timeout > 86400 * 7) {
    return fail("idle timeouts must be in [1, 604800] seconds");
  }
  f.tcp_idle_timeout_s = raw.tcp_timeout;
  f.udp_idle_timeout_s = raw.udp_timeout;
  if (raw.half_open_timeout == 0 || raw.half_open_timeout > raw.tcp_timeout) {
    return fail("--tcp-half-open-timeout must be in [1, --tcp-idle-timeout] seconds");
  }
  if (raw.closing_timeout == 0 || raw.closing_timeout > raw.tcp_timeout) {
    return fail("--tcp-closing-timeout must be in [1, --tcp-idle-timeout] seconds");
  }
  f.tcp_half_open_timeout_s = raw.half_open_timeout;
  f.tcp_closing_timeout_s = raw.closing_timeout;
  f.max_inserts_per_s = raw.max_inserts;
  f.hash_seed = raw.hash_seed;
  if (raw.max_vips == 0 || raw.max_vips > (1u << 20)) {
    return fail("--max-vips must be in [1, 1048576]");
  }
  if (raw.max_backend_id == 0 || raw.max_backend_id > kConnMaxBackendId) {
    return fail("--max-backend-id must be in [1, " + std::to_string(kConnMaxBackendId) + "]");
  }
  f.max_vips = raw.max_vips;
  f.max_backend_id = raw.max_backend_id;
  if (o.table_memory_mb > (uint64_t{1} << 30)) return fail("--table-memory-mb is out of range");
  if (o.build_threads == 0 || o.build_threads > 64) return fail("--build-threads must be in [1, 64]");
  if (!valid_instance_name(o.instance)) {
    return fail("--instance '" + o.instance + "' must be 1 to 64 characters of [A-Za-z0-9._-]");
  }
  if (!o.liveness_iface.empty() && !valid_iface_name(o.liveness_iface)) {
    return fail("--liveness-iface '" + o.liveness_iface +
                "' is not an interface name (1 to 15 characters of [A-Za-z0-9._-])");
  }
  if (o.idle_backoff_us > kMaxIdleBackoffUs) {
    return fail("--idle-backoff-us " + std::to_string(o.idle_backoff_us) + " is out of range [0, " +
                std::to_string(kMaxIdleBackoffUs) + "]");
  }
  f.icmp_rate_per_s = raw.icmp_rate;
  f.icmp_burst = raw.icmp_burst == 0 ? 1 : raw.icmp_burst;
  if (raw.next_hop_ips.size() > 2) {
    return fail("--next-hop-ip is given " + std::to_string(raw.next_hop_ips.size()) +
                " times; at most twice (one IPv4, one IPv6 address)");
  }
  for (const std::string& text : raw.next_hop_ips) {
    auto a = parse_ip_address(text);
    if (!a) return fail("--next-hop-ip '" + text + "' is not an IPv4 or IPv6 address");
    if (std::string why = next_hop_address_problem(*a); !why.empty()) {
      return fail("--next-hop-ip " + text + " " + why);
    }
    IpAddress& slot = o.next_hop_ip[a->is_v4() ? 0 : 1];
    if (slot.family != 0) {
      return fail("--next-hop-ip is given twice for IPv" + std::to_string(a->family) +
                  " (one address per family)");
    }
    slot = *a;
  }
  const bool have_ip = o.next_hop_ip[0].family != 0 || o.next_hop_ip[1].family != 0;
  if (!vm.count("next-hop-mac") && !have_ip) {
    return fail("a next hop is required: --next-hop-ip ADDRESS (resolved from the kernel) or "
                "--next-hop-mac MAC (static)");
  }
  if (vm.count("next-hop-mac")) {
    if (o.next_hop_ip[0].family != 0 && o.next_hop_ip[1].family != 0) {
      return fail("--next-hop-mac and --next-hop-ip for both IPv4 and IPv6 leave the MAC no "
                  "family to serve: give one or the other for each family");
    }
    if (!parse_mac_address(raw.next_hop_mac, f.next_hop_mac)) {
      return fail("--next-hop-mac '" + raw.next_hop_mac +
                  "' is not a MAC address like 02:00:00:00:00:01");
    }
    o.static_next_hop = true;
  }
  // A separate egress port's ingress MAC takes one of the slots (main.cc).
  const size_t accept_room = kMaxAcceptMacs - (o.egress_port != o.port ? 1 : 0);
  if (raw.accept_macs.size() > accept_room) {
    return fail("--accept-mac is given " + std::to_string(raw.accept_macs.size()) +
                " times; at most " + std::to_string(accept_room) +
                (o.egress_port != o.port ? " with --egress-port (the ingress port's MAC takes one)"
                                         : ""));
  }
  for (const std::string& text : raw.accept_macs) {
    uint8_t* mac = f.accept_macs[f.n_accept_macs];
    if (!parse_mac_address(text, mac)) {
      return fail("--accept-mac '" + text + "' is not a MAC address like 02:00:00:00:00:01");
    }
    if ((mac[0] & 0x01) != 0) {
      return fail("--accept-mac " + text +
                  " is a broadcast or multicast address: group-addressed frames are never ours");
    }
    if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0) {
      return fail("--accept-mac " + text + " is the all-zero address, which no station has");
    }
    ++f.n_accept_macs;
  }
  if (!raw.outer_src_v4.empty()) {
    auto a = parse_ip_address(raw.outer_src_v4);
    if (!a || !a->is_v4()) return fail("--outer-src-v4 '" + raw.outer_src_v4 + "' is not an IPv4 address");
    f.outer_src_v4 = *a;
  }
  if (!raw.outer_src_v6.empty()) {
    auto a = parse_ip_address(raw.outer_src_v6);
    if (!a || !a->is_v6()) return fail("--outer-src-v6 '" + raw.outer_src_v6 + "' is not an IPv6 address");
    f.outer_src_v6 = *a;
  }
  if (f.outer_src_v4.family == 0 && f.outer_src_v6.family == 0) {
    return fail("set --outer-src-v4 and/or --outer-src-v6: encapsulated packets need a source");
  }
  exit_code = 0;
  return o;
}

}  // namespace sluice::dp
