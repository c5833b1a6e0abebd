// The control plane's core (DESIGN.md sections 1 and 4): the desired state,
// the control API's operations on it (one table, handlers.cc), and the way
// every change reaches the dataplane.
//
// A mutation is validated as a whole against the full resulting state
// (table memory budget included, so an over-large configuration is refused
// before anything is sent) and pushed as a delta from what the dataplane
// acknowledged last. The whole state goes only to a dataplane we have no
// acknowledged state for (a restart: new boot id) or whose published
// digest differs from ours (divergence). Mutations that arrive while a push
// is in flight queue up and are coalesced into the next transaction (at
// most kMaxBatch changes in one), so a burst of changes is not one build
// each.
//
// Answers are honest: "applied" only for an acknowledged generation (then
// the state is persisted and made current); "refused" with the dataplane's
// reason (nothing changed); and when no acknowledgement came in time,
// "pending": the change is accepted as the desired state (persisted) and
// the control plane keeps converging the dataplane to it, since the
// dataplane may well have applied it. Without a live dataplane, a change
// is accepted and pushed once one appears. A fresh control plane with no
// state file and no change pushes nothing, so it never wipes a dataplane's
// tables. Better still, a control plane without state of its own (no state
// file, or one moved aside as corrupt) adopts the configuration a live
// dataplane applies (the mirror in its segment) as its desired state before
// anything else: it persists it, audits it, shows it in status, and pushes
// nothing until then. Its first change is then a delta on what forwards.
//
// Not thread-safe: the event loop calls handle() and tick().
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "controlplane/api_error.h"
#include "controlplane/api_server.h"
#include "controlplane/audit_log.h"
#include "controlplane/control_observer.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/flow_explain.h"
#include "controlplane/health_monitor.h"
#include "controlplane/request_args.h"
#include "controlplane/slow_start.h"
#include "controlplane/state.h"

namespace sluice::cp {

using nlohmann::json;

class BgpService;

struct ControllerConfig {
  std::string state_file;
  uint64_t hash_seed = 0;  // flow.explain's seed without a dataplane
  TableLimits limits;      // without a dataplane (with one: its header's)
  uint64_t resync_backoff_ns = 1'000'000'000;
};

class Controller {
 public:
  // Sends an answer line to a connection whose request was deferred.
  using Deliver = std::function<void(ConnId, const std::string& line)>;

  // Changes coalesced into one transaction at most.
  static constexpr size_t kMaxBatch = 1000;

  // `has_state`: `initial` came from a state file (so it is pushed even if
  // empty).
  Controller(ControllerConfig config, State initial, bool has_state, DataplaneLink& link,
             AuditLog& audit, Deliver deliver);

  // One request line. The answer line now, or nullopt: it comes through
  // Deliver once the dataplane has answered.
  std::optional<std::string> handle(ConnId conn, const std::string& line);

  // Link upkeep, push progress, queued changes, re-pushes. Every loop.
  void tick(uint64_t now_ns);
  // How long the loop may sleep before the next tick is due.
  uint64_t sleep_ns() const;
  bool push_in_flight() const { return pending_.has_value(); }
  // From now on queued and new changes are refused and nothing new is
  // pushed; a push in flight still finishes.
  void begin_stop() { stopping_ = true; }

  const State& state() const { return state_; }
  // The control API's connection figures for `status` (cap refusals, idle
  // closes); the server is made after the controller, so it is set later.
  void set_api_server(const ApiServer* server) { api_server_ = server; }
  // Health checking (null: none). What the dataplane gets is then the
  // desired state with the backends health takes out disabled
  // (health_monitor.h); the desired state itself never holds health.
  void set_health(HealthMonitor* health) { health_ = health; }
  const HealthMonitor* health() const { return health_; }
  // The metrics' observer of answers and pushes (null: none).
  void set_observer(ControlObserver* observer) { observer_ = observer; }
  // +1 per accepted change batch (or adoption): the metrics republish their
  // view of the configuration when it moves.
  uint64_t state_version() const { return version_; }
  uint64_t desired_digest() const { return desired_digest_; }
  size_t queued_changes() const { return queue_.size(); }
  uint64_t transactions_pushed() const { return transactions_pushed_; }
  uint64_t changes_pushed() const { return changes_pushed_; }
  bool in_sync(uint64_t now_ns) const;
  // Which VIPs the live dataplane holds, and which of those differ from what
  // it should hold (a push under way, or a refusal), for BGP (bgp_service.h).
  // `all`: everything is in sync (the sets are then left empty).
  struct VipSync {
    bool all = false;
    std::unordered_set<uint32_t> installed;  // VIP ids held with the same key
    std::unordered_set<uint32_t> differing;
  };
  VipSync vip_sync(uint64_t now_ns) const;
  // BGP announcements (null: off); answers bgp.show, host.drain and
  // host.undrain, and adds its view to status.
  void set_bgp(BgpService* bgp) { bgp_ = bgp; }

  // One API operation: a query answers from the state; a mutation edits a
  // candidate state (a copy) and says what to answer once it is applied.
  using Query = json (Controller::*)(const RequestArgs& args);
  using Mutation = std::optional<ApiError> (Controller::*)(const RequestArgs& args, State& next,
                                                           json& result);
  struct Operation {
    const char* name;
    Query query;        // exactly one of query and mutation is set
    Mutation mutation;
  };
  static const Operation* find_operation(const std::string& name);
  static std::span<const Operation> operations();

 private:
  struct Change {
    ConnId conn = 0;
    std::string op;
    json request;  // summary for the audit log
    json result;
    // The audit log's who, before and after (change_record.h).
    std::optional<uint32_t> uid;
    json before;
    json after;
  };
  struct Batch {
    std::vector<Change> changes;
    State next;
  };
  struct Pending {
    std::optional<Batch> batch;  // nullopt: a re-push of the current state
    uint64_t version = 0;        // of the state pushed
    uint64_t boot_id = 0;
    TableConfig pushed;
    uint64_t digest = 0;         // config_digest(pushed)
    uint64_t started_ns = 0;     // for the metrics' push duration
  };
  struct Queued {
    ConnId conn;
    json request;
  };
  using Answers = std::vector<std::pair<ConnId, json>>;

  // The operations (handlers.cc).
  // The VIP a query names as its only argument ("vip"); null with the error
  // answer in `error` when the request is malformed or no VIP has that key.
  const VipConfig* queried_vip(const RequestArgs& args, json& error) const;
  json op_status(const RequestArgs& args);
  json op_stats(const RequestArgs& args);
  json op_log(const RequestArgs& args);
  json op_vip_list(const RequestArgs& args);
  json op_vip_show(const RequestArgs& args);
  json op_backend_list(const RequestArgs& args);
  json op_health_show(const RequestArgs& args);
  json op_config_check(const RequestArgs& args);
  json op_config_export(const RequestArgs& args);
  json op_flow_explain(const RequestArgs& args);
  json op_bgp_show(const RequestArgs& args);
  json op_host_drain(const RequestArgs& args);
  json op_host_undrain(const RequestArgs& args);
  std::optional<ApiError> op_vip_add(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_vip_del(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_vip_set(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_backend_add(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_backend_del(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_backend_set(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_config_apply(const RequestArgs& args, State& next, json& result);
  std::optional<ApiError> op_health_set(const RequestArgs& args, State& next, json& result);
  // A backend's view with its health, and a VIP's (health_handlers.cc).
  json backend_health_view(const BackendConfig& be) const;
  json vip_health_view(const VipConfig& vip) const;
  // `desired` with health's removals.
  TableConfig effective(const TableConfig& desired) const {
    return health_ != nullptr ? health_->effective(desired) : desired;
  }
  // What goes to the dataplane for `desired`: health's removals, then the
  // slow-start ramps.
  TableConfig pushable(const TableConfig& desired) const {
    return slow_start_.apply(effective(desired));
  }
  // Each backend's share of new flows in its weight's units, as pushed:
  // its turns (state, health, backup rule) times its slow-start level.
  void add_effective_weights(const VipConfig& vip, json& backends) const;

  // handle() without the observer; `op` is set once the operation is known.
  std::optional<std::string> handle_request(ConnId conn, const std::string& line,
                                            const Operation*& op);
  // Adds the mutation `request` to `batch` (edits batch.next), or returns
  // its refusal; the batch is unchanged then.
  std::optional<ApiError> add_change(ConnId conn, const Operation& op, const json& request,
                                     Batch& batch);
  // Pushes `batch` (answers later) or, when there is nothing to push or no
  // dataplane, settles it now and returns the answers.
  Answers commit(Batch batch);
  Answers accept(Batch& batch, std::optional<uint64_t> generation);
  void start_push(std::optional<Batch> batch, const TableConfig& target, uint64_t version);
  void finish_push(const PushResult& result);
  void run_queue();
  // Adopts the live dataplane's applied configuration when we hold no
  // state; once per dataplane boot.
  void maybe_adopt();
  // The dataplane's applied configuration, consistent with its digest;
  // nullopt while it is being rewritten or no dataplane is alive.
  std::optional<TableConfig> read_applied();
  bool needs_push(uint64_t now_ns) const;
  TableLimits limits() const;
  uint64_t now() const { return now_ns_; }

  ControllerConfig config_;
  State state_;
  uint64_t desired_digest_;
  bool has_state_;
  DataplaneLink& link_;
  AuditLog& audit_;
  Deliver deliver_;
  FlowExplainer explainer_;
  uint64_t started_ns_;
  uint64_t now_ns_;

  uint64_t version_ = 0;  // +1 per accepted batch
  // What the dataplane of `synced_boot_` acknowledged last (state version
  // and configuration): deltas are computed from it.
  uint64_t synced_boot_ = 0;
  uint64_t synced_version_ = UINT64_MAX;
  std::optional<TableConfig> synced_config_;
  uint64_t synced_digest_ = 0;
  // A re-push the dataplane refused: not retried until something changes.
  uint64_t refused_boot_ = 0;
  uint64_t refused_version_ = UINT64_MAX;
  uint64_t push_not_before_ns_ = 0;
  std::string sync_error_;
  uint64_t transactions_pushed_ = 0;
  uint64_t changes_pushed_ = 0;
  uint64_t adopt_checked_boot_ = 0;
  const ApiServer* api_server_ = nullptr;
  HealthMonitor* health_ = nullptr;
  BgpService* bgp_ = nullptr;
  SlowStart slow_start_;
  // The version of the configuration the ramps last followed (Controller::
  // tick looks at them again when it changes).
  std::optional<uint64_t> ramp_seen_version_;
  ControlObserver* observer_ = nullptr;
  // Operations of deferred answers, per connection in request order (a
  // connection's answers come in its requests' order), for the observer.
  std::map<ConnId, std::deque<std::string>> deferred_ops_;
  void observe_answer(const std::string& op, const json& answer);
  json adopted_;  // null, or what was adopted from which dataplane and when

  bool stopping_ = false;
  std::optional<Pending> pending_;
  std::deque<Queued> queue_;
};

}  // namespace sluice::cp
