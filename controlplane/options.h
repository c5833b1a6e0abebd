// lb-controlplane's options, from the command line and from an INI-style
// daemon config file (--config FILE: the same option names, one
// "name = value" a line; the command line wins). Boost.Program_options.
// Start-up only; main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::cp {

struct Options {
  std::string instance = "sluice";
  std::string socket_path;  // default /run/sluice/INSTANCE.sock
  std::string state_file;   // default /var/lib/sluice/INSTANCE.state.json
  uint32_t ack_timeout_ms = 5000;
  std::string audit_log;     // empty: none
  uint64_t audit_log_max_bytes = 10 << 20;  // rotate beyond this; 0: never
  uint32_t audit_log_keep = 5;              // rotated files kept (FILE.1 .. FILE.N)
  std::string metrics_address = "127.0.0.1:9650";  // HOST:PORT; empty: no exporter
  bool metrics_per_backend = true;
  // Whether --metrics-address was given (then failing to listen is fatal;
  // on the default address it is a warning: the daemon runs without).
  bool metrics_address_given = false;
  uint64_t hash_seed = 0;    // flow.explain's seed while no dataplane is attached
  uint32_t max_vips = 4096;  // limits while no dataplane is attached
  uint32_t max_backend_id = 65535;
  uint32_t max_clients = 64;                // control API connections at once
  uint32_t client_idle_timeout_ms = 10000;  // a connection without a request is closed after it
  std::string health_tunnel_iface;  // tunnel probes' tc program; empty: none
  // BGP through BIRD (bgp_service.h); bird_socket empty: off.
  std::string bird_socket;
  std::string bird_include;  // default /run/sluice/INSTANCE.bird.conf
  std::string bird_liveness_iface = "sluice-alive";
  uint64_t bgp_hold_down_ns = 10'000'000'000;
};

// Returns the options, or nullopt after printing a message (stderr for
// errors, stdout for --help); `exit_code` says how to end then.
std::optional<Options> parse_options(int argc, char** argv, int& exit_code);

std::string options_help();

}  // namespace sluice::cp
