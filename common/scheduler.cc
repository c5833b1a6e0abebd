#include "common/scheduler.h"

namespace sluice {

namespace {

// Index = enum value; one table per enum, read both ways.
constexpr const char* kSchedulerNames[kSchedulerCount] = {
    "maglev", "source-hash", "weighted-round-robin", "least-connections", "power-of-two"};
constexpr const char* kNoBackendNames[kNoBackendCount] = {"drop", "reset", "unreachable"};

}  // namespace

const char* scheduler_name(Scheduler s) {
  const auto i = static_cast<uint32_t>(s);
  return i < kSchedulerCount ? kSchedulerNames[i] : "unknown";
}

std::optional<Scheduler> parse_scheduler(std::string_view name) {
  for (uint32_t i = 0; i < kSchedulerCount; ++i) {
    if (name == kSchedulerNames[i]) return static_cast<Scheduler>(i);
  }
  return std::nullopt;
}

const char* scheduler_names() {
  return "maglev, source-hash, weighted-round-robin, least-connections or power-of-two";
}

const char* no_backend_name(NoBackend n) {
  const auto i = static_cast<uint32_t>(n);
  return i < kNoBackendCount ? kNoBackendNames[i] : "unknown";
}

std::optional<NoBackend> parse_no_backend(std::string_view name) {
  for (uint32_t i = 0; i < kNoBackendCount; ++i) {
    if (name == kNoBackendNames[i]) return static_cast<NoBackend>(i);
  }
  return std::nullopt;
}

const char* no_backend_names() { return "drop, reset or unreachable"; }

std::string validate_vip_policy(Scheduler scheduler, NoBackend no_backend, uint32_t slow_start_s,
                                uint8_t protocol, std::string& field) {
  if (static_cast<uint32_t>(scheduler) >= kSchedulerCount) {
    field = "scheduler";
    std::string e = "scheduler ";
    e += std::to_string(static_cast<int>(scheduler));
    e += " is unknown";
    return e;
  }
  if (static_cast<uint32_t>(no_backend) >= kNoBackendCount) {
    field = "no_backend";
    std::string e = "no_backend ";
    e += std::to_string(static_cast<int>(no_backend));
    e += " is unknown";
    return e;
  }
  if (no_backend == NoBackend::kReset && protocol != 6) {
    field = "no_backend";
    return "no_backend reset answers with a TCP RST, and this VIP is not tcp (use unreachable)";
  }
  if (slow_start_s > kMaxSlowStartSeconds) {
    field = "slow_start";
    std::string e = "slow_start ";
    e += std::to_string(slow_start_s);
    e += " s exceeds ";
    e += std::to_string(kMaxSlowStartSeconds);
    return e;
  }
  return {};
}

}  // namespace sluice
