#include "controlplane/controller.h"

#include <cstdio>

#include "common/control_segment.h"
#include "controlplane/request_args.h"
#include "controlplane/state_file.h"
#include "controlplane/views.h"

namespace sluice::cp {

namespace {

bool is_mutation(const std::string& op) {
  return op == "vip.add" || op == "vip.del" || op == "backend.add" || op == "backend.del" ||
         op == "backend.set" || op == "config.apply";
}

bool is_query(const std::string& op) {
  return op == "status" || op == "stats" || op == "vip.list" || op == "vip.show" ||
         op == "backend.list" || op == "config.check" || op == "config.export" ||
         op == "flow.explain";
}

constexpr uint64_t kPushPollNs = 100'000;  // while a push waits for its ack
constexpr uint64_t kIdleTickNs = 50'000'000;

}  // namespace

Controller::Controller(ControllerConfig config, State initial, bool has_state, DataplaneLink& link,
                       AuditLog& audit, Deliver deliver)
    : config_(std::move(config)),
      state_(std::move(initial)),
      has_state_(has_state),
      link_(link),
      audit_(audit),
      deliver_(std::move(deliver)),
      started_ns_(monotonic_ns()),
      now_ns_(started_ns_) {}

TableLimits Controller::limits() const {
  TableLimits l = config_.limits;
  if (const ControlSegment* seg = link_.segment()) {
    l.max_vips = seg->header().max_vips;
    l.max_backend_id = seg->header().max_backend_id;
  }
  return l;
}

bool Controller::in_sync(uint64_t now_ns) const {
  return link_.alive(now_ns) && synced_boot_ == link_.boot_id() && synced_version_ == version_;
}

std::optional<std::string> Controller::handle(ConnId conn, const std::string& line) {
  now_ns_ = monotonic_ns();
  json answer;
  try {
    if (json_nesting_depth(line) > kMaxRequestDepth) {
      return answer_line(
          error_answer(usage_error("", "the request nests arrays and objects deeper than " +
                                           std::to_string(kMaxRequestDepth) + " levels")));
    }
    const json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string op;
    if (request.is_discarded()) {
      answer = error_answer(usage_error("", "the request is not valid JSON"));
    } else if (!request.is_object()) {
      answer = error_answer(usage_error("",
                                        "the request must be a JSON object like "
                                        "{\"op\": \"status\"}"));
    } else if (!request.contains("op")) {
      answer = error_answer(usage_error("op", "is required"));
    } else if (!request["op"].is_string()) {
      answer = error_answer(usage_error("op", "must be a string"));
    } else if (op = request["op"].get<std::string>(); is_mutation(op)) {
      if (pending_ || !queue_.empty()) {
        queue_.push_back(Queued{conn, request});
        return std::nullopt;
      }
      std::optional<json> now = run_mutation(conn, request);
      if (!now) return std::nullopt;
      answer = std::move(*now);
    } else if (is_query(op)) {
      answer = run_query(op, request);
    } else {
      answer = error_answer(usage_error("op", "unknown op " + in_quotes(op)));
    }
  } catch (const std::exception& e) {
    answer = error_answer(
        ApiError{ErrorCode::kInternal, std::string("internal error: ") + e.what(), ""});
  }
  return answer_line(answer);
}

std::optional<json> Controller::run_mutation(ConnId conn, const json& request) {
  if (stopping_) {
    return error_answer(
        ApiError{ErrorCode::kInternal, "lb-controlplane is stopping; nothing changed", ""});
  }
  Change change;
  change.conn = conn;
  change.op = request["op"].get<std::string>();
  if (auto e = build_change(change.op, request, change)) return error_answer(*e);
  return commit(std::move(change));
}

std::optional<json> Controller::commit(Change change) {
  link_.refresh(now());
  if (same_config(change.next.config, state_.config)) {
    // Nothing to do (config.apply of the current config, a weight set to
    // what it is): not a change, so no push, no write, no audit line.
    json answer = ok_answer(change.result);
    if (!link_.alive(now())) answer["dataplane"] = "not attached";
    return answer;
  }
  if (link_.alive(now())) {
    Pending p;
    p.version = version_ + 1;
    p.boot_id = link_.boot_id();
    link_.start_push(change.next.config, now());
    p.change = std::move(change);
    pending_ = std::move(p);
    // The acknowledgement is read by tick(), never from inside handle():
    // the answer must not be delivered before the server knows it waits.
    return std::nullopt;
  }
  return accept(change, std::nullopt);
}

json Controller::accept(Change& change, std::optional<uint64_t> generation) {
  if (std::string e = save_state_file(config_.state_file, change.next); !e.empty()) {
    std::fprintf(stderr, "lb-controlplane: %s: refused %s\n", e.c_str(), change.op.c_str());
    return error_answer(
        ApiError{ErrorCode::kInternal, "cannot persist the state: " + e + "; nothing changed", ""});
  }
  state_ = std::move(change.next);
  ++version_;
  has_state_ = true;
  explainer_.invalidate();
  audit_.record(change.op, change.request, change.result, generation);
  json answer = ok_answer(change.result);
  if (!generation) answer["dataplane"] = "not attached";
  return answer;
}

void Controller::finish_push(const PushResult& r) {
  Pending p = std::move(*pending_);
  pending_.reset();
  using Kind = PushResult::Kind;
  if (!p.change) {  // a re-push of the current state
    if (r.kind == Kind::kAcked) {
      synced_boot_ = p.boot_id;
      synced_version_ = p.version;
      sync_error_.clear();
      std::fprintf(stderr,
                   "lb-controlplane: pushed the whole state (%zu VIPs, %zu backends): dataplane "
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
    } else {
      push_not_before_ns_ = now() + config_.resync_backoff_ns;
    }
    return;
  }
  Change& change = *p.change;
  json answer;
  switch (r.kind) {
    case Kind::kAcked:
      answer = accept(change, r.generation);
      if (answer["ok"] == true) {
        synced_boot_ = p.boot_id;
        synced_version_ = version_;
        sync_error_.clear();
      } else {
        // The dataplane runs the refused state: put the current one back.
        synced_version_ = UINT64_MAX;
      }
      break;
    case Kind::kRefused:
      answer = error_answer(
          ApiError{ErrorCode::kDataplane,
                   "the dataplane refused the change: " + r.error + "; nothing changed", ""});
      break;
    case Kind::kTimedOut:
    case Kind::kLost:
      // It may still apply what it got: re-push the current state.
      synced_version_ = UINT64_MAX;
      push_not_before_ns_ = now() + config_.resync_backoff_ns;
      answer = error_answer(ApiError{ErrorCode::kDataplane, r.error + "; nothing changed", ""});
      break;
  }
  deliver_(change.conn, answer_line(answer));
}

bool Controller::needs_push(uint64_t now_ns) const {
  if (!has_state_ || !link_.alive(now_ns) || now_ns < push_not_before_ns_) return false;
  if (synced_boot_ == link_.boot_id() && synced_version_ == version_) return false;
  return !(refused_boot_ == link_.boot_id() && refused_version_ == version_);
}

void Controller::tick(uint64_t now_ns) {
  now_ns_ = now_ns;
  link_.tick(now_ns);
  if (pending_) {
    if (auto r = link_.poll_push(now_ns)) finish_push(*r);
  }
  // Queued changes first: each pushes the whole state anyway.
  while (!pending_ && !queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    std::optional<json> answer;
    try {
      answer = run_mutation(q.conn, q.request);
    } catch (const std::exception& e) {
      answer = error_answer(
          ApiError{ErrorCode::kInternal, std::string("internal error: ") + e.what(), ""});
    }
    if (answer) deliver_(q.conn, answer_line(*answer));
  }
  if (!pending_ && !stopping_ && needs_push(now_ns)) {
    Pending p;
    p.version = version_;
    p.boot_id = link_.boot_id();
    link_.start_push(state_.config, now_ns);
    pending_ = std::move(p);
    if (auto r = link_.poll_push(now_ns)) finish_push(*r);
  }
}

uint64_t Controller::sleep_ns() const {
  if (pending_) return kPushPollNs;
  if (!queue_.empty()) return 0;
  return kIdleTickNs;
}

}  // namespace sluice::cp
