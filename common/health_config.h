// A VIP's health check as the configuration document carries it (README,
// "Health checking"; DESIGN.md section 5): the VIP's "health" object and a
// backend's own "health" object that overrides some of its fields. Part of
// the one configuration document (parse_config_document), so it round-trips
// through the state file, config.export and config.apply. The dataplane
// never reads it: health reaches the dataplane only as the effective state
// of a backend. Plain data and pure functions; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sluice {

enum class HealthKind : uint8_t {
  kNone = 0,  // no probing: the backend is taken as healthy
  kTcp = 1,   // a TCP connect
  kHttp = 2,  // an HTTP request with an expected status (libcurl)
  kHttps = 3,
  kUdp = 4,   // a datagram out, a reply back (optionally matching bytes)
};

// The defaults, documented in the README's health section.
inline constexpr uint32_t kHealthDefaultIntervalMs = 2000;
inline constexpr uint32_t kHealthDefaultTimeoutMs = 1000;
inline constexpr uint32_t kHealthDefaultRise = 2;
inline constexpr uint32_t kHealthDefaultFall = 3;
inline constexpr uint32_t kHealthDefaultMaxUnhealthyPercent = 50;
inline constexpr uint32_t kHealthDefaultJitterPercent = 10;
// Passive signal: SYN retries plus non-SYN misses counted against a backend
// in one interval that make it suspect (an immediate probe); 0 turns it off.
inline constexpr uint32_t kHealthDefaultPassiveThreshold = 10;
inline constexpr uint16_t kHealthDefaultGuePort = 6080;

// What one "health" object says; a field left out inherits (a backend's
// from its VIP's, a VIP's from the defaults). Kept as written so that
// export prints what the operator wrote, not the defaults.
struct HealthSpec {
  std::optional<HealthKind> kind;
  std::optional<uint16_t> port;
  std::optional<uint32_t> interval_ms, timeout_ms, rise, fall, jitter_percent;
  std::optional<std::string> method, path, host;        // http, https
  std::optional<std::vector<uint16_t>> expect_status;   // http, https
  std::optional<std::string> expect_body;               // http, https: a substring
  std::optional<std::string> payload, expect;           // udp
  std::optional<bool> tunnel;                           // tcp, http
  std::optional<uint16_t> gue_port;                     // tunnel probes of a GUE VIP
  std::optional<uint32_t> max_unhealthy_percent;        // VIP only: the removal cap
  std::optional<uint32_t> passive_threshold;

  bool operator==(const HealthSpec&) const = default;
};

// Every field resolved: what a prober runs for one backend.
struct HealthCheck {
  HealthKind kind = HealthKind::kNone;
  uint16_t port = 0;
  uint32_t interval_ms = kHealthDefaultIntervalMs;
  uint32_t timeout_ms = kHealthDefaultTimeoutMs;
  uint32_t rise = kHealthDefaultRise;
  uint32_t fall = kHealthDefaultFall;
  uint32_t jitter_percent = kHealthDefaultJitterPercent;
  std::string method = "GET";
  std::string path = "/";
  std::string host;  // empty: the address probed
  std::vector<uint16_t> expect_status = {200};
  std::string expect_body;
  std::string payload;
  std::string expect;
  bool tunnel = false;
  uint16_t gue_port = kHealthDefaultGuePort;
  uint32_t max_unhealthy_percent = kHealthDefaultMaxUnhealthyPercent;
  uint32_t passive_threshold = kHealthDefaultPassiveThreshold;

  bool operator==(const HealthCheck&) const = default;
};

// Shared and immutable: configurations are copied per change, specs rarely
// change.
using HealthSpecPtr = std::shared_ptr<const HealthSpec>;

bool same_health(const HealthSpecPtr& a, const HealthSpecPtr& b);

const char* health_kind_name(HealthKind kind);
std::optional<HealthKind> parse_health_kind(const std::string& name);

// Strict reading of one "health" object at `path` ("config.vips[0].health"):
// unknown fields, wrong types and values out of range are errors naming the
// field. `backend_level` refuses the VIP-only fields.
std::string parse_health_spec(const nlohmann::json& obj, const std::string& path,
                              bool backend_level, HealthSpec& out);
// The object as written (only the fields given).
nlohmann::json health_spec_json(const HealthSpec& spec);
// Every field resolved (lbctl health show).
nlohmann::json health_check_json(const HealthCheck& check);

// `over`'s fields replace `base`'s.
void merge_health(HealthSpec& base, const HealthSpec& over);

// The check a backend of a VIP on `vip_port` runs: defaults, then the VIP's
// spec, then the backend's. Without a VIP spec the kind is none.
HealthCheck resolve_health(const HealthSpec* vip, const HealthSpec* backend, uint16_t vip_port);

// Rules across fields of a resolved check (timeout within the interval, a
// port for an all-ports VIP, the tunnel only on tcp and http, kind-specific
// fields only on their kind); `spec_path` names where the spec was written.
std::string validate_health(const HealthCheck& check, const HealthSpec* vip,
                            const HealthSpec* backend, const std::string& spec_path);

}  // namespace sluice
