#include "controlplane/metrics_exporter.h"

#include <exception>

#include "controlplane/build_info.h"
#include "controlplane/vip_key.h"

namespace sluice::cp {

namespace {

constexpr uint64_t kFiguresEveryNs = 100'000'000;

std::vector<std::string> operation_names() {
  std::vector<std::string> names;
  for (const Controller::Operation& op : Controller::operations()) names.emplace_back(op.name);
  return names;
}

}  // namespace

MetricsExporter::MetricsExporter(const ExporterOptions& options)
    : control_(operation_names()),
      collector_(std::make_shared<MetricsCollector>(
          hub_, CollectorOptions{options.per_backend, SLUICE_VERSION, SLUICE_COMMIT})) {}

std::unique_ptr<MetricsExporter> MetricsExporter::start(const ExporterOptions& options,
                                                        std::string& error) {
  std::unique_ptr<MetricsExporter> e(new MetricsExporter(options));
  try {
    // One serving thread: scrapes are rare, and the machine's cores belong
    // to the dataplane.
    e->exposer_ = std::make_unique<prometheus::Exposer>(options.address, 1);
  } catch (const std::exception& ex) {
    error = "cannot serve metrics on " + options.address + " (--metrics-address): " + ex.what() +
            " (is the port in use?)";
    return nullptr;
  }
  e->exposer_->RegisterCollectable(e->collector_);
  e->exposer_->RegisterCollectable(e->control_.registry());
  return e;
}

int MetricsExporter::port() const {
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void MetricsExporter::publish(const Controller& controller, const DataplaneLink& link,
                              const AuditLog& audit, size_t api_connections, uint64_t now_ns) {
  const bool alive = link.alive(now_ns);
  if (link.epoch() != published_epoch_ || alive != published_alive_ ||
      link.attached() != published_attached_) {
    hub_.publish_segment(link.shared_segment(), alive);
    published_epoch_ = link.epoch();
    published_alive_ = alive;
    published_attached_ = link.attached();
  }
  if (controller.state_version() != published_version_) {
    auto snap = std::make_shared<ConfigSnapshot>();
    snap->version = controller.state_version();
    snap->config = controller.state().config;
    for (const VipConfig& vip : snap->config.vips) snap->vip_keys.push_back(format_vip_key(vip));
    hub_.publish_config(std::move(snap));
    published_version_ = controller.state_version();
  }
  if (const HealthMonitor* health = controller.health();
      health != nullptr && health->generation() != published_health_) {
    auto figures = std::make_shared<HealthFigures>();
    for (const auto& [id, h] : health->backend_health()) {
      figures->emplace(id, BackendHealthFigure{health::health_name(h.health), h.removed});
    }
    hub_.publish_health(std::move(figures));
    published_health_ = health->generation();
  }
  if (now_ns >= next_figures_ns_) {
    ControlFigures f;
    f.in_sync = controller.in_sync(now_ns);
    f.desired_digest = controller.desired_digest();
    f.queued_changes = controller.queued_changes();
    f.push_in_flight = controller.push_in_flight();
    f.transactions_pushed = controller.transactions_pushed();
    f.changes_pushed = controller.changes_pushed();
    f.audit_path = audit.path();
    f.audit_lines = audit.lines_written();
    f.audit_write_errors = audit.write_errors();
    f.audit_reopens = audit.reopens();
    f.audit_rotations = audit.rotations();
    f.api_connections = api_connections;
    hub_.publish_figures(f);
    next_figures_ns_ = now_ns + kFiguresEveryNs;
  }
}

}  // namespace sluice::cp
