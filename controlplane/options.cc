#include "controlplane/options.h"

#include "common/control_segment.h"
#include "common/iface_name.h"
#include "controlplane/metrics_address.h"

#include <boost/program_options.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace sluice::cp {

namespace po = boost::program_options;

namespace {

// Options a config file may set too (everything but --help and --config).
// Numbers are read as text and converted strictly: Boost's lexical_cast
// turns "-1" into 2^64 - 1 for an unsigned option.
struct RawNumbers {
  std::string ack_timeout_ms = "5000", hash_seed = "0", max_vips = "4096", max_backend_id = "65535",
              max_clients = "64", client_idle_timeout_ms = "10000",
              audit_log_max_bytes = "10485760", audit_log_keep = "5",
              metrics_address = "127.0.0.1:9650", bgp_hold_down = "10";
  bool metrics_no_backends = false;
};

po::options_description daemon_options(Options& o, RawNumbers& raw) {
  po::options_description desc("Options (also in the --config file, as NAME = VALUE)");
  // clang-format off
  desc.add_options()
      ("instance", po::value(&o.instance)->default_value(o.instance),
       "Dataplane instance to drive: its segment is /dev/shm/sluice-NAME.")
      ("socket", po::value(&o.socket_path),
       "Unix socket of the control API (default /run/sluice/INSTANCE.sock; mode 0660, the "
       "directory is created).")
      ("state-file", po::value(&o.state_file),
       "Desired state with its ids (default /var/lib/sluice/INSTANCE.state.json). Loaded and "
       "pushed at start; a corrupt one is moved aside and the daemon refuses to start.")
      ("ack-timeout-ms", po::value(&raw.ack_timeout_ms)->default_value(raw.ack_timeout_ms),
       "How long a change waits for the dataplane's acknowledgement (ring writes included).")
      ("audit-log", po::value(&o.audit_log),
       "Append one JSON line per accepted change to this file.")
      ("audit-log-max-bytes",
       po::value(&raw.audit_log_max_bytes)->default_value(raw.audit_log_max_bytes),
       "Rotate the audit log once it would exceed this many bytes: FILE becomes FILE.1, "
       "FILE.1 becomes FILE.2 and so on (0: never).")
      ("audit-log-keep", po::value(&raw.audit_log_keep)->default_value(raw.audit_log_keep),
       "Rotated audit log files kept (FILE.1 .. FILE.N, 1 to 1000); older ones are removed.")
      ("metrics-address", po::value(&raw.metrics_address)->default_value(raw.metrics_address),
       "Serve Prometheus metrics on http://HOST:PORT/metrics (IPv6 in brackets; port 0 picks "
       "one); 'none' turns the exporter off.")
      ("metrics-no-backends", po::bool_switch(&raw.metrics_no_backends),
       "Leave per-backend series out of the metrics (for very large pools).")
      ("health-tunnel-iface", po::value(&o.health_tunnel_iface),
       "Attach the through-the-tunnel health probe's tc egress program to this interface "
       "(the one toward the backends; README, \"Health checking\"). Without it, tunnel "
       "checks do not run and their backends stay unknown.")
      ("bird-socket", po::value(&o.bird_socket),
       "Announce the VIPs over BGP through the BIRD 2 daemon whose control socket this is "
       "(README, \"Many hosts\"). Without it nothing about BGP runs.")
      ("bird-include", po::value(&o.bird_include),
       "The file lb-controlplane writes for BIRD's configuration to include: static protocols "
       "sluice4 and sluice6 with a route per announced VIP address (default "
       "/run/sluice/INSTANCE.bird.conf; read back at start).")
      ("bird-liveness-iface", po::value(&o.bird_liveness_iface)->default_value(o.bird_liveness_iface),
       "The device every announced route goes via: lb-dataplane --liveness-iface keeps it while "
       "it runs, so BIRD withdraws the moment the dataplane is gone, even without us.")
      ("bgp-hold-down", po::value(&raw.bgp_hold_down)->default_value(raw.bgp_hold_down),
       "Seconds a withdrawn VIP must be able to serve before it is announced again, so a "
       "flapping backend cannot make upstream dampening suppress it (decimals allowed).")
      ("hash-seed", po::value(&raw.hash_seed)->default_value(raw.hash_seed),
       "Flow hash seed for flow.explain while no dataplane is attached (then the dataplane's).")
      ("max-vips", po::value(&raw.max_vips)->default_value(raw.max_vips),
       "Largest VIP id while no dataplane is attached (then the dataplane's limit).")
      ("max-backend-id", po::value(&raw.max_backend_id)->default_value(raw.max_backend_id),
       "Largest backend id while no dataplane is attached (then the dataplane's limit).")
      ("max-clients", po::value(&raw.max_clients)->default_value(raw.max_clients),
       "Control API connections served at once. A new one beyond it closes the connection "
       "idle the longest (which gets an 'unavailable' answer), so idle clients never lock an "
       "operator out; it is refused only while every connection waits for an answer.")
      ("client-idle-timeout-ms",
       po::value(&raw.client_idle_timeout_ms)->default_value(raw.client_idle_timeout_ms),
       "A control API connection with no request and no answer outstanding for this long is "
       "closed (with an 'unavailable' answer).");
  // clang-format on
  return desc;
}

po::options_description command_line_only() {
  po::options_description desc("General");
  // clang-format off
  desc.add_options()
      ("help,h", "Print this help and exit.")
      ("config", po::value<std::string>(), "Daemon config file (INI style, same option names).");
  // clang-format on
  return desc;
}

// Decimal, no sign, within [min, max].
bool parse_number(const std::string& text, uint64_t min, uint64_t max, uint64_t& out) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return false;
  }
  out = v;
  return true;
}

}  // namespace

std::string options_help() {
  Options o;
  RawNumbers raw;
  po::options_description all;
  all.add(command_line_only()).add(daemon_options(o, raw));
  std::ostringstream out;
  out << "Usage: lb-controlplane [options]\n\n"
         "Sluice's control plane: keeps the desired VIPs and backends, validates and persists\n"
         "them, pushes them to lb-dataplane through shared memory and serves the control API\n"
         "(docs/control-api.md) that lbctl talks to. No DPDK; runs with or without a dataplane.\n\n"
      << all;
  return out.str();
}

std::optional<Options> parse_options(int argc, char** argv, int& exit_code) {
  Options o;
  RawNumbers raw;
  const auto daemon = daemon_options(o, raw);
  po::options_description all;
  all.add(command_line_only()).add(daemon);
  po::variables_map vm;
  auto fail = [&](const std::string& msg) -> std::optional<Options> {
    std::cerr << "lb-controlplane: " << msg << " (see lb-controlplane --help)\n";
    exit_code = 2;
    return std::nullopt;
  };
  try {
    // Stored first, so the command line wins over the file.
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    if (vm.count("help")) {
      std::cout << options_help();
      exit_code = 0;
      return std::nullopt;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) return fail("--config " + path + ": cannot read the file");
      try {
        po::store(po::parse_config_file(in, daemon), vm);
      } catch (const po::error& e) {
        return fail("--config " + path + ": " + e.what());
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what());
  }
  if (!valid_instance_name(o.instance)) {
    return fail("--instance '" + o.instance + "' must be 1 to 64 characters of [A-Za-z0-9._-]");
  }
  if (o.socket_path.empty()) o.socket_path = "/run/sluice/" + o.instance + ".sock";
  if (o.state_file.empty()) o.state_file = "/var/lib/sluice/" + o.instance + ".state.json";
  uint64_t v = 0;
  if (!parse_number(raw.ack_timeout_ms, 1, 600000, v)) {
    return fail("--ack-timeout-ms '" + raw.ack_timeout_ms + "' is not a number in [1, 600000]");
  }
  o.ack_timeout_ms = static_cast<uint32_t>(v);
  if (!parse_number(raw.hash_seed, 0, UINT64_MAX, o.hash_seed)) {
    return fail("--hash-seed '" + raw.hash_seed + "' is not a number in [0, 2^64 - 1]");
  }
  if (!parse_number(raw.max_vips, 1, 1u << 20, v)) {
    return fail("--max-vips '" + raw.max_vips + "' is not a number in [1, 1048576]");
  }
  o.max_vips = static_cast<uint32_t>(v);
  if (!parse_number(raw.max_backend_id, 1, 1u << 24, v)) {
    return fail("--max-backend-id '" + raw.max_backend_id + "' is not a number in [1, 16777216]");
  }
  o.max_backend_id = static_cast<uint32_t>(v);
  if (!parse_number(raw.max_clients, 1, 65536, v)) {
    return fail("--max-clients '" + raw.max_clients + "' is not a number in [1, 65536]");
  }
  o.max_clients = static_cast<uint32_t>(v);
  if (!parse_number(raw.client_idle_timeout_ms, 100, 86400000, v)) {
    return fail("--client-idle-timeout-ms '" + raw.client_idle_timeout_ms +
                "' is not a number in [100, 86400000]");
  }
  o.client_idle_timeout_ms = static_cast<uint32_t>(v);
  if (!parse_number(raw.audit_log_max_bytes, 0, UINT64_MAX, o.audit_log_max_bytes)) {
    return fail("--audit-log-max-bytes '" + raw.audit_log_max_bytes +
                "' is not a number of bytes (0: never rotate)");
  }
  if (o.audit_log_max_bytes != 0 && o.audit_log_max_bytes < 4096) {
    return fail("--audit-log-max-bytes " + raw.audit_log_max_bytes +
                " is below 4096 (one audit line can be that long)");
  }
  if (!parse_number(raw.audit_log_keep, 1, 1000, v)) {
    return fail("--audit-log-keep '" + raw.audit_log_keep + "' is not a number in [1, 1000]");
  }
  o.audit_log_keep = static_cast<uint32_t>(v);
  if (std::string e = parse_metrics_address(raw.metrics_address, o.metrics_address); !e.empty()) {
    return fail(e);
  }
  o.metrics_per_backend = !raw.metrics_no_backends;
  if (o.bird_include.empty()) o.bird_include = "/run/sluice/" + o.instance + ".bird.conf";
  if (!valid_iface_name(o.bird_liveness_iface)) {
    return fail("--bird-liveness-iface '" + o.bird_liveness_iface +
                "' is not an interface name (1 to 15 characters of [A-Za-z0-9._-])");
  }
  {
    char* end = nullptr;
    const double s = std::strtod(raw.bgp_hold_down.c_str(), &end);
    if (raw.bgp_hold_down.empty() || end != raw.bgp_hold_down.c_str() + raw.bgp_hold_down.size() ||
        !(s >= 0 && s <= 3600)) {
      return fail("--bgp-hold-down '" + raw.bgp_hold_down + "' is not a number of seconds in [0, 3600]");
    }
    o.bgp_hold_down_ns = static_cast<uint64_t>(s * 1e9);
  }
  o.metrics_address_given = vm.count("metrics-address") != 0 && !vm["metrics-address"].defaulted();
  exit_code = 0;
  return o;
}

}  // namespace sluice::cp
