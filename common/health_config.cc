#include "common/health_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice {

namespace {

using nlohmann::json;

// Bounds: a probe more often than every 100 ms or rarer than once an hour is
// a mistake; 100 consecutive results is already minutes of hysteresis.
constexpr uint32_t kMinIntervalMs = 100, kMaxIntervalMs = 3'600'000;
constexpr uint32_t kMinTimeoutMs = 10;
constexpr uint32_t kMaxRiseFall = 100;
constexpr size_t kMaxText = 1024;     // method, path, host, body substring
constexpr size_t kMaxPayload = 1400;  // a UDP payload that fits one packet

std::string fail(const std::string& path, const char* key, const std::string& what) {
  std::string s = path;
  s += '.';
  s += key;
  s += ": ";
  s += what;
  return s;
}

std::string read_uint(const json& obj, const std::string& path, const char* key, uint64_t lo,
                      uint64_t hi, std::optional<uint32_t>& out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return fail(path, key, "must be a non-negative integer");
  }
  const uint64_t v = it->get<uint64_t>();
  if (v < lo || v > hi) {
    return fail(path, key,
                std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
  }
  out = static_cast<uint32_t>(v);
  return {};
}

std::string read_port(const json& obj, const std::string& path, const char* key, uint64_t lo,
                      std::optional<uint16_t>& out) {
  std::optional<uint32_t> v;
  if (std::string e = read_uint(obj, path, key, lo, 65535, v); !e.empty()) return e;
  if (v) out = static_cast<uint16_t>(*v);
  return {};
}

std::string read_text(const json& obj, const std::string& path, const char* key, size_t max,
                      std::optional<std::string>& out) {
  const auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_string()) return fail(path, key, "must be a string");
  std::string s = it->get<std::string>();
  if (s.size() > max) return fail(path, key, "is longer than " + std::to_string(max) + " bytes");
  out = std::move(s);
  return {};
}

// HTTP header text must not carry line breaks (a header injection) or
// other control characters.
bool printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

}  // namespace

bool same_health(const HealthSpecPtr& a, const HealthSpecPtr& b) {
  if (!a || !b) return !a && !b;
  return *a == *b;
}

const char* health_kind_name(HealthKind kind) {
  switch (kind) {
    case HealthKind::kNone: return "none";
    case HealthKind::kTcp: return "tcp";
    case HealthKind::kHttp: return "http";
    case HealthKind::kHttps: return "https";
    case HealthKind::kUdp: return "udp";
  }
  return "unknown";
}

std::optional<HealthKind> parse_health_kind(const std::string& name) {
  for (HealthKind k : {HealthKind::kNone, HealthKind::kTcp, HealthKind::kHttp, HealthKind::kHttps,
                       HealthKind::kUdp}) {
    if (name == health_kind_name(k)) return k;
  }
  return std::nullopt;
}

std::string parse_health_spec(const json& obj, const std::string& path, bool backend_level,
                              HealthSpec& out) {
  if (!obj.is_object()) return path + ": must be an object";
  static const char* const kFields[] = {
      "kind",   "port",     "interval_ms", "timeout_ms",  "rise",        "fall",
      "jitter_percent", "method", "path", "host", "expect_status", "expect_body",
      "payload", "expect",  "tunnel",      "gue_port",    "max_unhealthy_percent",
      "passive_threshold"};
  for (const auto& [key, value] : obj.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return fail(path, key.c_str(), "unknown field");
    }
  }
  if (backend_level && obj.contains("max_unhealthy_percent")) {
    return fail(path, "max_unhealthy_percent", "is the VIP's (set it in the VIP's health object)");
  }
  HealthSpec s;
  if (const auto it = obj.find("kind"); it != obj.end()) {
    if (!it->is_string()) return fail(path, "kind", "must be a string");
    s.kind = parse_health_kind(it->get<std::string>());
    if (!s.kind) {
      return fail(path, "kind", "'" + it->get<std::string>() + "' is not none, tcp, http, https or udp");
    }
  }
  std::string e;
  if (!(e = read_port(obj, path, "port", 1, s.port)).empty() ||
      !(e = read_uint(obj, path, "interval_ms", kMinIntervalMs, kMaxIntervalMs, s.interval_ms))
           .empty() ||
      !(e = read_uint(obj, path, "timeout_ms", kMinTimeoutMs, kMaxIntervalMs, s.timeout_ms))
           .empty() ||
      !(e = read_uint(obj, path, "rise", 1, kMaxRiseFall, s.rise)).empty() ||
      !(e = read_uint(obj, path, "fall", 1, kMaxRiseFall, s.fall)).empty() ||
      !(e = read_uint(obj, path, "jitter_percent", 0, 50, s.jitter_percent)).empty() ||
      !(e = read_text(obj, path, "method", 16, s.method)).empty() ||
      !(e = read_text(obj, path, "path", kMaxText, s.path)).empty() ||
      !(e = read_text(obj, path, "host", 255, s.host)).empty() ||
      !(e = read_text(obj, path, "expect_body", kMaxText, s.expect_body)).empty() ||
      !(e = read_text(obj, path, "payload", kMaxPayload, s.payload)).empty() ||
      !(e = read_text(obj, path, "expect", kMaxPayload, s.expect)).empty() ||
      !(e = read_port(obj, path, "gue_port", 1, s.gue_port)).empty() ||
      !(e = read_uint(obj, path, "max_unhealthy_percent", 0, 100, s.max_unhealthy_percent))
           .empty() ||
      !(e = read_uint(obj, path, "passive_threshold", 0, 1'000'000, s.passive_threshold)).empty()) {
    return e;
  }
  if (s.method) {
    static const char* const kMethods[] = {"GET", "HEAD", "POST", "OPTIONS"};
    if (std::find(std::begin(kMethods), std::end(kMethods), *s.method) == std::end(kMethods)) {
      return fail(path, "method", "'" + *s.method + "' is not GET, HEAD, POST or OPTIONS");
    }
  }
  if (s.path && (s.path->empty() || (*s.path)[0] != '/' || !printable(*s.path) ||
                 s.path->find(' ') != std::string::npos)) {
    return fail(path, "path", "must start with '/' and hold no spaces or control characters");
  }
  if (s.host && (s.host->empty() || !printable(*s.host) || s.host->find(' ') != std::string::npos)) {
    return fail(path, "host", "must be a non-empty host name without spaces or control characters");
  }
  if (const auto it = obj.find("expect_status"); it != obj.end()) {
    if (!it->is_array() || it->empty() || it->size() > 32) {
      return fail(path, "expect_status", "must be an array of 1 to 32 HTTP status codes");
    }
    std::vector<uint16_t> codes;
    for (const json& c : *it) {
      if (!c.is_number_unsigned() || c.get<uint64_t>() < 100 || c.get<uint64_t>() > 599) {
        return fail(path, "expect_status", "each status code must be an integer from 100 to 599");
      }
      codes.push_back(static_cast<uint16_t>(c.get<uint64_t>()));
    }
    s.expect_status = std::move(codes);
  }
  if (const auto it = obj.find("tunnel"); it != obj.end()) {
    if (!it->is_boolean()) return fail(path, "tunnel", "must be true or false");
    s.tunnel = it->get<bool>();
  }
  out = std::move(s);
  return {};
}

json health_spec_json(const HealthSpec& s) {
  json j = json::object();
  if (s.kind) j["kind"] = health_kind_name(*s.kind);
  if (s.port) j["port"] = *s.port;
  if (s.interval_ms) j["interval_ms"] = *s.interval_ms;
  if (s.timeout_ms) j["timeout_ms"] = *s.timeout_ms;
  if (s.rise) j["rise"] = *s.rise;
  if (s.fall) j["fall"] = *s.fall;
  if (s.jitter_percent) j["jitter_percent"] = *s.jitter_percent;
  if (s.method) j["method"] = *s.method;
  if (s.path) j["path"] = *s.path;
  if (s.host) j["host"] = *s.host;
  if (s.expect_status) j["expect_status"] = *s.expect_status;
  if (s.expect_body) j["expect_body"] = *s.expect_body;
  if (s.payload) j["payload"] = *s.payload;
  if (s.expect) j["expect"] = *s.expect;
  if (s.tunnel) j["tunnel"] = *s.tunnel;
  if (s.gue_port) j["gue_port"] = *s.gue_port;
  if (s.max_unhealthy_percent) j["max_unhealthy_percent"] = *s.max_unhealthy_percent;
  if (s.passive_threshold) j["passive_threshold"] = *s.passive_threshold;
  return j;
}

json health_check_json(const HealthCheck& c) {
  json j = {{"kind", health_kind_name(c.kind)},
            {"port", c.port},
            {"interval_ms", c.interval_ms},
            {"timeout_ms", c.timeout_ms},
            {"rise", c.rise},
            {"fall", c.fall},
            {"jitter_percent", c.jitter_percent},
            {"max_unhealthy_percent", c.max_unhealthy_percent},
            {"passive_threshold", c.passive_threshold}};
  if (c.kind == HealthKind::kHttp || c.kind == HealthKind::kHttps) {
    j["method"] = c.method;
    j["path"] = c.path;
    j["host"] = c.host.empty() ? json(nullptr) : json(c.host);
    j["expect_status"] = c.expect_status;
    j["expect_body"] = c.expect_body.empty() ? json(nullptr) : json(c.expect_body);
  }
  if (c.kind == HealthKind::kUdp) {
    j["payload"] = c.payload;
    j["expect"] = c.expect.empty() ? json(nullptr) : json(c.expect);
  }
  if (c.kind == HealthKind::kTcp || c.kind == HealthKind::kHttp) {
    j["tunnel"] = c.tunnel;
    if (c.tunnel) j["gue_port"] = c.gue_port;
  }
  return j;
}

void merge_health(HealthSpec& b, const HealthSpec& o) {
  auto take = [](auto& dst, const auto& src) {
    if (src) dst = src;
  };
  take(b.kind, o.kind);
  take(b.port, o.port);
  take(b.interval_ms, o.interval_ms);
  take(b.timeout_ms, o.timeout_ms);
  take(b.rise, o.rise);
  take(b.fall, o.fall);
  take(b.jitter_percent, o.jitter_percent);
  take(b.method, o.method);
  take(b.path, o.path);
  take(b.host, o.host);
  take(b.expect_status, o.expect_status);
  take(b.expect_body, o.expect_body);
  take(b.payload, o.payload);
  take(b.expect, o.expect);
  take(b.tunnel, o.tunnel);
  take(b.gue_port, o.gue_port);
  take(b.max_unhealthy_percent, o.max_unhealthy_percent);
  take(b.passive_threshold, o.passive_threshold);
}

HealthCheck resolve_health(const HealthSpec* vip, const HealthSpec* backend, uint16_t vip_port) {
  HealthSpec s;
  if (vip != nullptr) merge_health(s, *vip);
  if (backend != nullptr) merge_health(s, *backend);
  HealthCheck c;
  // A VIP without a health object is not checked; one with an object but no
  // kind gets a TCP connect, the least a check can be.
  c.kind = vip == nullptr && (backend == nullptr || !backend->kind)
               ? HealthKind::kNone
               : s.kind.value_or(HealthKind::kTcp);
  c.port = s.port.value_or(vip_port);
  c.interval_ms = s.interval_ms.value_or(c.interval_ms);
  c.timeout_ms = s.timeout_ms.value_or(c.timeout_ms);
  c.rise = s.rise.value_or(c.rise);
  c.fall = s.fall.value_or(c.fall);
  c.jitter_percent = s.jitter_percent.value_or(c.jitter_percent);
  c.method = s.method.value_or(c.method);
  c.path = s.path.value_or(c.path);
  c.host = s.host.value_or(c.host);
  c.expect_status = s.expect_status.value_or(c.expect_status);
  c.expect_body = s.expect_body.value_or(c.expect_body);
  c.payload = s.payload.value_or(c.payload);
  c.expect = s.expect.value_or(c.expect);
  c.tunnel = s.tunnel.value_or(c.tunnel);
  c.gue_port = s.gue_port.value_or(c.gue_port);
  c.max_unhealthy_percent = s.max_unhealthy_percent.value_or(c.max_unhealthy_percent);
  c.passive_threshold = s.passive_threshold.value_or(c.passive_threshold);
  return c;
}

std::string validate_health(const HealthCheck& c, const HealthSpec* vip, const HealthSpec* backend,
                            const std::string& spec_path) {
  HealthSpec s;
  if (vip != nullptr) merge_health(s, *vip);
  if (backend != nullptr) merge_health(s, *backend);
  const bool http = c.kind == HealthKind::kHttp || c.kind == HealthKind::kHttps;
  const std::string kind = health_kind_name(c.kind);
  auto only_for = [&](bool given, const char* field, const char* kinds) -> std::string {
    if (!given) return {};
    return spec_path + "." + field + ": applies to " + kinds + " checks only, and the kind is " +
           kind;
  };
  std::string e;
  if (!(e = only_for(!http && (s.method || s.path || s.host || s.expect_status || s.expect_body),
                     s.method ? "method" : s.path ? "path" : s.host ? "host"
                                 : s.expect_status ? "expect_status" : "expect_body",
                     "http and https"))
           .empty() ||
      !(e = only_for(c.kind != HealthKind::kUdp && (s.payload || s.expect),
                     s.payload ? "payload" : "expect", "udp"))
           .empty() ||
      !(e = only_for(c.tunnel && c.kind != HealthKind::kTcp && c.kind != HealthKind::kHttp,
                     "tunnel", "tcp and http"))
           .empty()) {
    return e;
  }
  if (c.kind == HealthKind::kNone) return {};
  if (c.timeout_ms > c.interval_ms) {
    return spec_path + ".timeout_ms: " + std::to_string(c.timeout_ms) +
           " exceeds interval_ms " + std::to_string(c.interval_ms) +
           " (a probe must end before the next one starts)";
  }
  if (c.port == 0) {
    return spec_path + ".port: is required for an all-ports VIP (port 0)";
  }
  return {};
}

}  // namespace sluice
