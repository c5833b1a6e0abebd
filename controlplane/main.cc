// lb-controlplane: loads the desired state, attaches to the dataplane's
// control segment (whenever there is one), serves the control API on a Unix
// socket and pushes every accepted change, all from one poll() loop
// (DESIGN.md sections 1 and 4). SIGINT/SIGTERM stop it cleanly: a push in
// flight is finished (bounded by the ack timeout), the socket is removed;
// the dataplane keeps forwarding with its tables (fail static).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/control_segment.h"
#include "controlplane/api_server.h"
#include "controlplane/audit_log.h"
#include "controlplane/bgp_service.h"
#include "controlplane/controller.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/metrics_exporter.h"
#include "controlplane/options.h"
#include "controlplane/state_file.h"
#include "controlplane/views.h"

namespace {

using namespace sluice;
using namespace sluice::cp;

volatile sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

int fatal(const std::string& msg) {
  std::fprintf(stderr, "lb-controlplane: %s\n", msg.c_str());
  return 1;
}

// Creates the parent directory of `path` (and its parents), mode 0755.
std::string make_parent_dirs(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create directory " + part + ": " + std::strerror(errno);
    }
  }
  return {};
}

// The control API may hold max_clients connections plus as many departing
// ones (api_server.h); with the files the daemon keeps besides, that must
// fit the descriptor limit, or accept() would fail with EMFILE and leave
// the listener ready on every poll. Raises the soft limit if it can.
std::string ensure_descriptors(uint32_t max_clients) {
  const rlim_t need = rlim_t{max_clients} * 2 + 64;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= need ? need : lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
    return "--max-clients " + std::to_string(max_clients) + " needs " + std::to_string(need) +
           " file descriptors; the limit is " + std::to_string(lim.rlim_cur) +
           " (raise ulimit -n or lower --max-clients)";
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  auto parsed = parse_options(argc, argv, exit_code);
  if (!parsed) return exit_code;
  const Options opt = std::move(*parsed);
  if (std::string e = ensure_descriptors(opt.max_clients); !e.empty()) return fatal(e);

  if (std::string e = make_parent_dirs(opt.state_file); !e.empty()) return fatal(e);
  int state_lock_fd = -1;  // held until exit
  if (std::string e = lock_state_file(opt.state_file, state_lock_fd); !e.empty()) return fatal(e);
  LoadResult loaded = load_state_file(opt.state_file);
  switch (loaded.kind) {
    case LoadResult::Kind::kCorrupt:
      return fatal(loaded.error + "; refusing to start. Restore a good copy to " + opt.state_file +
                   ", or start again without one: lb-controlplane then adopts the configuration "
                   "the running dataplane applies (or starts empty if there is none).");
    case LoadResult::Kind::kUnreadable:
      return fatal(loaded.error + "; refusing to start");
    case LoadResult::Kind::kLoaded:
      std::fprintf(stderr, "lb-controlplane: loaded %zu VIPs and %zu backends from %s\n",
                   loaded.state.config.vips.size(), backend_count(loaded.state.config),
                   opt.state_file.c_str());
      break;
    case LoadResult::Kind::kMissing:
      std::fprintf(stderr,
                   "lb-controlplane: no state file %s: adopting what a running dataplane "
                   "applies, else starting empty (nothing is pushed until the first change)\n",
                   opt.state_file.c_str());
      break;
  }

  AuditLog audit;
  if (!opt.audit_log.empty()) {
    if (std::string e = make_parent_dirs(opt.audit_log); !e.empty()) return fatal(e);
    if (std::string e = audit.open(opt.audit_log); !e.empty()) return fatal(e);
    audit.set_rotation(AuditRotation{opt.audit_log_max_bytes, opt.audit_log_keep});
  }

  LinkTiming timing;
  timing.ack_timeout_ns = uint64_t{opt.ack_timeout_ms} * 1000000;
  DataplaneLink link(opt.instance, timing);

  ControllerConfig cc;
  cc.state_file = opt.state_file;
  cc.hash_seed = opt.hash_seed;
  cc.limits.max_vips = opt.max_vips;
  cc.limits.max_backend_id = opt.max_backend_id;

  ApiServer* server_ptr = nullptr;
  Controller controller(cc, std::move(loaded.state), loaded.kind == LoadResult::Kind::kLoaded, link,
                        audit, [&](ConnId conn, const std::string& line) {
                          if (server_ptr != nullptr) server_ptr->deliver(conn, line);
                        });
  ApiServerLimits server_limits;
  server_limits.max_clients = opt.max_clients;
  server_limits.idle_timeout_ns = uint64_t{opt.client_idle_timeout_ms} * 1'000'000;
  ApiServer server(
      [&](ConnId conn, const std::string& line) { return controller.handle(conn, line); },
      [](const ApiError& error) { return answer_line(error_answer(error)); }, server_limits);
  server_ptr = &server;
  controller.set_api_server(&server);

  // Health checks run on their own thread; verdicts reach the dataplane
  // through the controller's pushes (health_monitor.h).
  HealthMonitor health(audit, opt.health_tunnel_iface);
  if (std::string e = health.start(); !e.empty()) return fatal(e);
  controller.set_health(&health);

  // BGP announcements through BIRD (bgp_service.h), when asked for. The
  // include file it reads back says what BIRD announces now; nothing
  // changes upstream until the announcer decides otherwise.
  std::unique_ptr<BgpService> bgp;
  if (!opt.bird_socket.empty()) {
    if (std::string e = make_parent_dirs(opt.bird_include); !e.empty()) return fatal(e);
    BgpOptions bo;
    bo.bird_socket = opt.bird_socket;
    bo.bird_include = opt.bird_include;
    bo.liveness_iface = opt.bird_liveness_iface;
    bo.timing.hold_down_ns = opt.bgp_hold_down_ns;
    std::string error;
    bgp = BgpService::start(bo, audit, monotonic_ns(), error);
    if (!bgp) return fatal(error);
    controller.set_bgp(bgp.get());
  }
  auto tick = [&](uint64_t now_ns) {
    controller.tick(now_ns);
    if (bgp) bgp->tick(now_ns, controller, link, controller.health());
  };
  auto sleep_ns = [&](uint64_t now_ns) {
    const uint64_t s = controller.sleep_ns();
    return bgp ? std::min(s, bgp->sleep_ns(now_ns)) : s;
  };

  std::unique_ptr<MetricsExporter> metrics;
  auto publish_metrics = [&] {
    if (metrics) {
      metrics->publish(controller, link, audit, server.active_connections(), monotonic_ns());
    }
  };

  // Signals are blocked except while poll() waits, so none is lost between
  // a check of g_stop and the wait.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  sigset_t blocked, wait_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigprocmask(SIG_BLOCK, &blocked, &wait_mask);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);

  if (std::string e = server.listen(opt.socket_path); !e.empty()) return fatal(e);
  // The Prometheus endpoint, once the socket is ours (a second daemon is
  // refused by the socket first): its own thread serves scrapes from shared
  // memory and the snapshots publish() hands it (metrics_exporter.h).
  if (!opt.metrics_address.empty()) {
    std::string error;
    metrics = MetricsExporter::start(ExporterOptions{opt.metrics_address, opt.metrics_per_backend},
                                     error);
    if (metrics) {
      controller.set_observer(&metrics->control_metrics());
      health.set_observer(&metrics->control_metrics());
      std::fprintf(stderr, "lb-controlplane: metrics on http://%s/metrics (port %d)\n",
                   opt.metrics_address.c_str(), metrics->port());
    } else if (opt.metrics_address_given) {
      return fatal(error);
    } else {
      // The default address taken (another instance's exporter): serve the
      // control API anyway; metrics need --metrics-address.
      std::fprintf(stderr, "lb-controlplane: %s; running without metrics\n", error.c_str());
    }
  }
  std::fprintf(stderr, "lb-controlplane: instance %s, control API on %s, state in %s\n",
               opt.instance.c_str(), opt.socket_path.c_str(), opt.state_file.c_str());

  tick(monotonic_ns());
  publish_metrics();
  while (!g_stop) {
    server.poll_once(sleep_ns(monotonic_ns()), &wait_mask);
    tick(monotonic_ns());
    publish_metrics();
  }
  std::fprintf(stderr, "lb-controlplane: stopping\n");
  // Stop taking requests, but let a push in flight end so its client gets
  // an answer and the state file matches what the dataplane runs.
  const uint64_t deadline = monotonic_ns() + timing.ack_timeout_ns + 100'000'000;
  server.shutdown_listener();
  controller.begin_stop();
  while (controller.push_in_flight() && monotonic_ns() < deadline) {
    server.poll_once(controller.sleep_ns(), &wait_mask);
    controller.tick(monotonic_ns());
  }
  server.shutdown();
  // BIRD keeps announcing what the include file says (fail static): a
  // restarted control plane takes it over without a flap.
  std::fprintf(stderr, "lb-controlplane: stopped; the dataplane keeps forwarding%s\n",
               bgp ? " and BIRD keeps its announcements" : "");
  return 0;
}
