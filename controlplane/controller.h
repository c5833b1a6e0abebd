// The control plane's core (DESIGN.md sections 1 and 4): the desired state,
// the control API's operations on it, and the way every change reaches the
// dataplane. One change at a time: a mutation is validated as a whole
// against the full resulting state, pushed as the whole state in one
// transaction, and only once the dataplane acknowledges (or when no
// dataplane is alive) persisted and made current. A refused, timed-out or
// unpersistable change leaves memory and the state file exactly as before.
// Mutations that arrive while a push is in flight wait their turn, in order.
//
// When the dataplane (re)appears or has not acknowledged the current state,
// the whole state is pushed again (idempotent). An empty state that was
// never loaded from a state file nor changed is not pushed: a fresh control
// plane does not wipe tables a dataplane already forwards with.
//
// Not thread-safe: the event loop calls handle() and tick().
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "controlplane/api_error.h"
#include "controlplane/api_server.h"
#include "controlplane/audit_log.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/flow_explain.h"
#include "controlplane/state.h"

namespace sluice::cp {

using nlohmann::json;

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
  bool in_sync(uint64_t now_ns) const;

 private:
  struct Change {
    ConnId conn = 0;
    std::string op;
    json request;  // summary for the audit log
    State next;
    json result;
  };
  struct Pending {
    std::optional<Change> change;  // nullopt: a re-push of the current state
    uint64_t version = 0;          // of the state pushed
    uint64_t boot_id = 0;
  };
  struct Queued {
    ConnId conn;
    json request;
  };

  // Answers of the query operations (handlers.cc).
  json run_query(const std::string& op, const json& request);
  // Builds the candidate state of a mutation (handlers.cc).
  std::optional<ApiError> build_change(const std::string& op, const json& request, Change& out);

  json status();
  json stats();
  json vip_show(const json& request);
  json flow_explain(const json& request);

  // Runs a mutation now: the answer, or nullopt if it waits for the dataplane.
  std::optional<json> run_mutation(ConnId conn, const json& request);
  std::optional<json> commit(Change change);
  json accept(Change& change, std::optional<uint64_t> generation);
  void finish_push(const PushResult& result);
  bool needs_push(uint64_t now_ns) const;
  TableLimits limits() const;
  uint64_t now() const { return now_ns_; }

  ControllerConfig config_;
  State state_;
  bool has_state_;
  DataplaneLink& link_;
  AuditLog& audit_;
  Deliver deliver_;
  FlowExplainer explainer_;
  uint64_t started_ns_;
  uint64_t now_ns_;

  uint64_t version_ = 0;  // +1 per accepted change
  // What the dataplane of `synced_boot_` acknowledged last.
  uint64_t synced_boot_ = 0;
  uint64_t synced_version_ = UINT64_MAX;
  // A re-push the dataplane refused: not retried until something changes.
  uint64_t refused_boot_ = 0;
  uint64_t refused_version_ = UINT64_MAX;
  uint64_t push_not_before_ns_ = 0;
  std::string sync_error_;

  bool stopping_ = false;
  std::optional<Pending> pending_;
  std::deque<Queued> queue_;
};

}  // namespace sluice::cp
