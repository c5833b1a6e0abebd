#include "controlplane/controller.h"

#include <cstdio>
#include <unordered_map>

#include "common/config_digest.h"
#include "common/json_strict.h"
#include "common/control_segment.h"
#include "common/table_delta.h"
#include "controlplane/change_record.h"
#include "controlplane/state_file.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

constexpr uint64_t kPushPollNs = 100'000;  // while a push waits for its ack
constexpr uint64_t kIdleTickNs = 50'000'000;

// The audit log's summary of a request: all of it but "op", with a config
// reduced to its size.
json summarize(const json& request) {
  json s = request;
  s.erase("op");
  if (s.contains("config") && s["config"].is_object()) {
    const json& vips = s["config"].value("vips", json::array());
    size_t backends = 0;
    for (const json& v : vips) {
      if (v.is_object() && v.contains("backends") && v["backends"].is_array()) {
        backends += v["backends"].size();
      }
    }
    s["config"] = json{{"vips", vips.size()}, {"backends", backends}};
  }
  return s;
}

json internal_error(const std::exception& e) {
  return error_answer(
      ApiError{ErrorCode::kInternal, std::string("internal error: ") + e.what(), ""});
}

}  // namespace

Controller::Controller(ControllerConfig config, State initial, bool has_state, DataplaneLink& link,
                       AuditLog& audit, Deliver deliver)
    : config_(std::move(config)),
      state_(std::move(initial)),
      desired_digest_(config_digest(state_.config)),
      has_state_(has_state),
      link_(link),
      audit_(audit),
      // Deferred answers pass the observer on their way out.
      deliver_([this, deliver = std::move(deliver)](ConnId conn, const std::string& line) {
        auto it = deferred_ops_.find(conn);
        if (it != deferred_ops_.end()) {
          const std::string op = std::move(it->second.front());
          it->second.pop_front();
          if (it->second.empty()) deferred_ops_.erase(it);
          if (observer_ != nullptr) observe_answer(op, json::parse(line, nullptr, false));
        }
        deliver(conn, line);
      }),
      started_ns_(monotonic_ns()),
      now_ns_(started_ns_) {}

TableLimits Controller::limits() const {
  TableLimits l = config_.limits;
  if (const ControlSegment* seg = link_.segment()) {
    l.max_vips = seg->header().max_vips;
    l.max_backend_id = seg->header().max_backend_id;
    l.table_memory_budget = seg->header().table_memory_budget.load(std::memory_order_acquire);
  }
  return l;
}

bool Controller::in_sync(uint64_t now_ns) const {
  return link_.alive(now_ns) && synced_boot_ == link_.boot_id() && synced_version_ == version_ &&
         link_.applied_digest() == desired_digest_;
}

Controller::VipSync Controller::vip_sync(uint64_t now_ns) const {
  VipSync out;
  if (!link_.alive(now_ns) || synced_boot_ != link_.boot_id() || !synced_config_) return out;
  if (in_sync(now_ns)) {
    out.all = true;
    return out;
  }
  const TableConfig target = pushable(state_.config);
  std::unordered_map<uint32_t, const VipConfig*> held;
  for (const VipConfig& v : synced_config_->vips) held.emplace(v.id, &v);
  for (const VipConfig& v : target.vips) {
    const auto it = held.find(v.id);
    if (it != held.end() && same_key(key_of(*it->second), key_of(v))) out.installed.insert(v.id);
  }
  const TableDelta delta = diff_configs(*synced_config_, target);
  for (const VipConfig& v : delta.vip_upserts) out.differing.insert(v.id);
  for (const BackendUpsert& b : delta.backend_upserts) out.differing.insert(b.vip_id);
  for (const BackendDelete& b : delta.backend_deletes) out.differing.insert(b.vip_id);
  return out;
}

void Controller::observe_answer(const std::string& op, const json& answer) {
  if (observer_ == nullptr) return;
  std::string outcome = "internal";
  if (answer.is_object() && answer.value("ok", false)) {
    outcome = "ok";
  } else if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
    outcome = answer["error"].value("code", "internal");
  }
  observer_->request_answered(op, outcome);
}

std::optional<std::string> Controller::handle(ConnId conn, const std::string& line) {
  now_ns_ = monotonic_ns();
  // Before any change is built on an empty state, or a status is answered.
  maybe_adopt();
  const Operation* op = nullptr;
  std::optional<std::string> answered = handle_request(conn, line, op);
  const std::string op_name = op != nullptr ? op->name : "unknown";
  if (answered) {
    if (observer_ != nullptr) observe_answer(op_name, json::parse(*answered, nullptr, false));
  } else {
    deferred_ops_[conn].push_back(op_name);
  }
  return answered;
}

std::optional<std::string> Controller::handle_request(ConnId conn, const std::string& line,
                                                      const Operation*& op) {
  json answer;
  try {
    if (json_nesting_depth(line) > kMaxRequestDepth) {
      return answer_line(
          error_answer(usage_error("", "the request nests arrays and objects deeper than " +
                                           std::to_string(kMaxRequestDepth) + " levels")));
    }
    json request;
    JsonStrictError parse_error;
    if (!parse_json_strict(line, request, parse_error)) {
      // Not JSON, or a key twice in one object (which would otherwise let
      // a later "op" override an earlier one).
      answer = error_answer(ApiError{ErrorCode::kUsage, parse_error.message, parse_error.field});
    } else if (!request.is_object()) {
      answer = error_answer(usage_error("",
                                        "the request must be a JSON object like "
                                        "{\"op\": \"status\"}"));
    } else if (!request.contains("op")) {
      answer = error_answer(usage_error("op", "is required"));
    } else if (!request["op"].is_string()) {
      answer = error_answer(usage_error("op", "must be a string"));
    } else if (op = find_operation(request["op"].get<std::string>()); op == nullptr) {
      answer = error_answer(
          usage_error("op", "unknown op " + in_quotes(request["op"].get<std::string>())));
    } else if (op->query != nullptr) {
      answer = (this->*op->query)(RequestArgs(request));
    } else if (stopping_) {
      answer = error_answer(
          ApiError{ErrorCode::kInternal, "lb-controlplane is stopping; nothing changed", ""});
    } else if (pending_ || !queue_.empty()) {
      // Coalesced into the next transaction, in order of arrival.
      queue_.push_back(Queued{conn, request});
      return std::nullopt;
    } else {
      Batch batch{{}, state_};
      if (auto e = add_change(conn, *op, request, batch)) return answer_line(error_answer(*e));
      Answers now = commit(std::move(batch));
      if (now.empty()) return std::nullopt;
      answer = std::move(now.front().second);
    }
  } catch (const std::exception& e) {
    answer = internal_error(e);
  }
  return answer_line(answer);
}

std::optional<ApiError> Controller::add_change(ConnId conn, const Operation& op,
                                               const json& request, Batch& batch) {
  Change change;
  change.conn = conn;
  change.op = op.name;
  change.request = summarize(request);
  if (api_server_ != nullptr) {
    if (auto peer = api_server_->peer(conn)) change.uid = peer->uid;
  }
  change.before = change_before(batch.next, change.op, request);
  // In place: a refused operation leaves the state as it was (state.h), so
  // a batch of 1,000 changes costs 1,000 small edits, not 1,000 copies.
  if (auto e = (this->*op.mutation)(RequestArgs(request), batch.next, change.result)) return e;
  change.after = change_after(batch.next, change.op, request, change.result);
  batch.changes.push_back(std::move(change));
  return std::nullopt;
}

Controller::Answers Controller::commit(Batch batch) {
  link_.refresh(now());
  if (same_config(batch.next.config, state_.config)) {
    // Nothing to do (config.apply of the current config, a weight set to
    // what it is): not a change, so no push, no write, no audit line.
    Answers answers;
    for (Change& c : batch.changes) {
      json answer = ok_answer(c.result);
      if (!link_.alive(now())) answer["dataplane"] = "not attached";
      answers.emplace_back(c.conn, std::move(answer));
    }
    return answers;
  }
  if (link_.alive(now())) {
    // A backend this change brings into service starts its ramp with it.
    slow_start_.update(effective(batch.next.config), now());
    const TableConfig target = pushable(batch.next.config);
    if (synced_config_ && synced_boot_ == link_.boot_id() && synced_version_ == version_ &&
        link_.applied_digest() == synced_digest_ && diff_configs(*synced_config_, target).empty()) {
      // A change the dataplane does not see (a health check's settings):
      // persisted and answered without an empty transaction.
      const uint64_t generation =
          link_.segment()->header().applied_generation.load(std::memory_order_acquire);
      const uint64_t before = version_;
      Answers answers = accept(batch, generation);
      if (version_ != before) synced_version_ = version_;
      return answers;
    }
    start_push(std::move(batch), target, version_ + 1);
    // The acknowledgement is read by tick(), never from inside handle():
    // the answer must not be delivered before the server knows it waits.
    return {};
  }
  return accept(batch, std::nullopt);
}

Controller::Answers Controller::accept(Batch& batch, std::optional<uint64_t> generation) {
  Answers answers;
  if (std::string e = save_state_file(config_.state_file, batch.next); !e.empty()) {
    std::fprintf(stderr, "lb-controlplane: %s: refused %zu change(s)\n", e.c_str(),
                 batch.changes.size());
    for (Change& c : batch.changes) {
      answers.emplace_back(c.conn, error_answer(ApiError{
                                       ErrorCode::kInternal,
                                       "cannot persist the state: " + e + "; nothing changed", ""}));
    }
    return answers;
  }
  state_ = std::move(batch.next);
  desired_digest_ = config_digest(pushable(state_.config));
  ++version_;
  has_state_ = true;
  explainer_.invalidate();
  for (Change& c : batch.changes) {
    audit_.record(AuditEntry{c.op, c.request, c.result, c.before, c.after, generation, c.uid});
    json answer = ok_answer(c.result);
    if (!generation) answer["dataplane"] = "not attached";
    answers.emplace_back(c.conn, std::move(answer));
  }
  return answers;
}

void Controller::start_push(std::optional<Batch> batch, const TableConfig& target,
                            uint64_t version) {
  Pending p;
  p.version = version;
  p.boot_id = link_.boot_id();
  p.pushed = target;
  p.digest = config_digest(target);
  p.started_ns = now();
  // A delta only from a state this very dataplane acknowledged and still
  // reports (its digest): otherwise the whole state.
  const bool known = synced_config_ && synced_boot_ == link_.boot_id() &&
                     link_.applied_digest() == synced_digest_;
  const TableDelta delta = known ? diff_configs(*synced_config_, target) : full_delta(target);
  changes_pushed_ += batch ? batch->changes.size() : 0;
  ++transactions_pushed_;
  p.batch = std::move(batch);
  pending_ = std::move(p);
  link_.start_push(delta, now());
}

void Controller::finish_push(const PushResult& r) {
  Pending p = std::move(*pending_);
  pending_.reset();
  using Kind = PushResult::Kind;
  if (observer_ != nullptr) {
    static constexpr const char* kOutcome[] = {"acked", "refused", "timed_out", "lost"};
    observer_->push_finished(kOutcome[static_cast<int>(r.kind)], r.apply_ns,
                             now() > p.started_ns ? now() - p.started_ns : 0);
  }
  if (r.kind == Kind::kAcked) {
    synced_boot_ = p.boot_id;
    synced_config_ = std::move(p.pushed);
    synced_digest_ = p.digest;
    sync_error_.clear();
    if (link_.applied_digest() != p.digest) {
      // Divergence: what the dataplane applied is not what we sent on top
      // of what we thought it had. The whole state goes next.
      sync_error_ = "the dataplane's configuration digest " + hex64(link_.applied_digest()) +
                    " differs from the pushed one " + hex64(p.digest) + "; pushing the whole state";
      std::fprintf(stderr, "lb-controlplane: %s\n", sync_error_.c_str());
      synced_config_.reset();
    }
  } else if (r.kind != Kind::kRefused) {
    // Timed out or lost: the dataplane may still apply what it got, or
    // restarted. Converge by pushing the whole state after a back-off.
    synced_config_.reset();
    synced_version_ = UINT64_MAX;
    push_not_before_ns_ = now() + config_.resync_backoff_ns;
  }

  if (!p.batch) {  // a re-push of the current state
    if (r.kind == Kind::kAcked) {
      synced_version_ = p.version;
      std::fprintf(stderr,
                   "lb-controlplane: pushed the state (%zu VIPs, %zu backends): dataplane "
                   "generation %llu\n",
                   state_.config.vips.size(), backend_count(state_.config),
                   static_cast<unsigned long long>(r.generation));
      return;
    }
    sync_error_ = r.error;
    std::fprintf(stderr, "lb-controlplane: pushing the state failed: %s\n", r.error.c_str());
    if (r.kind == Kind::kRefused) {
      refused_boot_ = p.boot_id;
      refused_version_ = p.version;
    }
    return;
  }
  Batch& batch = *p.batch;
  Answers answers;
  switch (r.kind) {
    case Kind::kAcked: {
      answers = accept(batch, r.generation);
      if (version_ == p.version) {
        synced_version_ = version_;
      } else {
        // Not persisted, so not accepted: the dataplane runs a state we do
        // not hold. Put the current one back.
        synced_version_ = UINT64_MAX;
      }
      break;
    }
    case Kind::kRefused:
      for (Change& c : batch.changes) {
        answers.emplace_back(
            c.conn, error_answer(ApiError{ErrorCode::kDataplane,
                                          "the dataplane refused the change: " + r.error +
                                              "; nothing changed",
                                          ""}));
      }
      break;
    case Kind::kTimedOut:
    case Kind::kLost: {
      // Never "nothing changed" when it may have: the change is accepted as
      // the desired state, and the dataplane is converged to it.
      Answers accepted = accept(batch, std::nullopt);
      for (auto& [conn, answer] : accepted) {
        if (answer["ok"] == true) {
          answer = error_answer(ApiError{
              ErrorCode::kPending,
              r.error +
                  ": the outcome is not known yet. The change is accepted as the desired state; "
                  "lb-controlplane keeps pushing it until the dataplane acknowledges (see "
                  "'lbctl status')",
              ""});
        }
        answers.emplace_back(conn, std::move(answer));
      }
      break;
    }
  }
  for (auto& [conn, answer] : answers) deliver_(conn, answer_line(answer));
}

bool Controller::needs_push(uint64_t now_ns) const {
  if (!has_state_ || !link_.alive(now_ns) || now_ns < push_not_before_ns_) return false;
  if (synced_boot_ == link_.boot_id() && synced_version_ == version_ &&
      link_.applied_digest() == desired_digest_) {
    return false;
  }
  return !(refused_boot_ == link_.boot_id() && refused_version_ == version_);
}

void Controller::run_queue() {
  Batch batch{{}, state_};
  Answers refused;
  while (!queue_.empty() && batch.changes.size() < kMaxBatch) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    try {
      const Operation* op = find_operation(q.request["op"].get<std::string>());
      if (stopping_) {
        refused.emplace_back(q.conn, error_answer(ApiError{ErrorCode::kInternal,
                                                           "lb-controlplane is stopping; nothing "
                                                           "changed",
                                                           ""}));
      } else if (auto e = add_change(q.conn, *op, q.request, batch)) {
        refused.emplace_back(q.conn, error_answer(*e));
      }
    } catch (const std::exception& e) {
      refused.emplace_back(q.conn, internal_error(e));
    }
  }
  for (auto& [conn, answer] : refused) deliver_(conn, answer_line(answer));
  if (batch.changes.empty()) return;
  for (auto& [conn, answer] : commit(std::move(batch))) deliver_(conn, answer_line(answer));
}

std::optional<TableConfig> Controller::read_applied() {
  if (!link_.alive(now())) return std::nullopt;
  TableConfig applied;
  if (!link_.segment()->read_applied(applied)) return std::nullopt;
  // The mirror follows the build, the digest the publication: equal, they
  // describe one generation.
  if (config_digest(applied) != link_.applied_digest()) return std::nullopt;
  return applied;
}

void Controller::maybe_adopt() {
  // Never while a change of ours is on its way: the dataplane may already
  // show it, and it is ours, not something to adopt.
  if (has_state_ || pending_ || !queue_.empty()) return;
  if (!link_.alive(now()) || adopt_checked_boot_ == link_.boot_id()) return;
  std::optional<TableConfig> applied = read_applied();
  if (!applied) return;  // being rewritten: next tick
  adopt_checked_boot_ = link_.boot_id();
  if (applied->vips.empty()) return;
  State adopted;
  adopted.config = std::move(*applied);
  normalize(adopted.config);
  for (const VipConfig& vip : adopted.config.vips) {
    adopted.next_vip_id = std::max(adopted.next_vip_id, vip.id + 1);
    for (const BackendConfig& be : vip.backends) {
      adopted.next_backend_id = std::max(adopted.next_backend_id, be.id + 1);
    }
  }
  const SegmentHeader& h = link_.segment()->header();
  const json summary = {{"from", "dataplane"},
                        {"pid", h.pid},
                        {"boot_id", hex64(h.boot_id)},
                        {"generation", h.applied_generation.load(std::memory_order_acquire)},
                        {"vips", adopted.config.vips.size()},
                        {"backends", backend_count(adopted.config)},
                        {"config_digest", hex64(link_.applied_digest())}};
  if (std::string e = save_state_file(config_.state_file, adopted); !e.empty()) {
    // Not adopted, but nothing is pushed either: has_state_ stays false.
    std::fprintf(stderr, "lb-controlplane: cannot persist the adopted configuration: %s\n",
                 e.c_str());
    adopt_checked_boot_ = 0;
    return;
  }
  state_ = std::move(adopted);
  desired_digest_ = config_digest(state_.config);
  ++version_;
  has_state_ = true;
  explainer_.invalidate();
  synced_boot_ = link_.boot_id();
  synced_version_ = version_;
  synced_config_ = state_.config;
  synced_digest_ = desired_digest_;
  adopted_ = summary;
  adopted_["at"] = utc_timestamp_now();
  audit_.record("adopt", summary, json::object(), h.applied_generation.load());
  std::fprintf(stderr,
               "lb-controlplane: no state of our own: adopted the configuration lb-dataplane pid "
               "%u applies (%zu VIPs, %zu backends, digest %s) as the desired state\n",
               h.pid, state_.config.vips.size(), backend_count(state_.config),
               hex64(desired_digest_).c_str());
}

void Controller::tick(uint64_t now_ns) {
  now_ns_ = now_ns;
  link_.tick(now_ns);
  maybe_adopt();
  // A health verdict that takes a backend out or puts it back changes what
  // the dataplane must run: a new desired digest makes needs_push() send
  // the delta (one backend's state) at once.
  const bool health_changed =
      health_ != nullptr && health_->sync(state_.config, version_, now_ns, link_);
  // The same for a slow-start ramp's next level (or a backend health put
  // back, which starts one). While a change is being pushed, its
  // configuration is the one to follow: a backend it brings back keeps the
  // ramp its push started.
  // The ramps' inputs change only with health, with the configuration
  // followed, or when a ramp reaches its next level: only then is the
  // effective configuration built and looked at (not on every loop pass).
  const bool following_push = pending_ && pending_->batch;
  const TableConfig& heading = following_push ? pending_->batch->next.config : state_.config;
  const uint64_t heading_version = following_push ? pending_->version : version_;
  const uint64_t next_level_ns = slow_start_.next_change_ns();
  const bool ramp_due = health_changed || !ramp_seen_version_ ||
                        *ramp_seen_version_ != heading_version ||
                        (next_level_ns != 0 && now_ns >= next_level_ns);
  ramp_seen_version_ = heading_version;
  const bool ramp_changed = ramp_due && slow_start_.update(effective(heading), now_ns);
  if (health_changed || ramp_changed) {
    desired_digest_ = config_digest(pushable(state_.config));
  }
  if (pending_) {
    if (auto r = link_.poll_push(now_ns)) finish_push(*r);
  }
  // Queued changes first: they carry the current state along anyway.
  if (!pending_ && !queue_.empty()) run_queue();
  if (!pending_ && !stopping_ && needs_push(now_ns)) {
    start_push(std::nullopt, pushable(state_.config), version_);
    if (auto r = link_.poll_push(now_ns)) finish_push(*r);
  }
}

uint64_t Controller::sleep_ns() const {
  if (pending_) return kPushPollNs;
  if (!queue_.empty()) return 0;
  if (const uint64_t next = slow_start_.next_change_ns(); next != 0) {
    return next <= now_ns_ ? 0 : std::min(kIdleTickNs, next - now_ns_);
  }
  return kIdleTickNs;
}

}  // namespace sluice::cp
