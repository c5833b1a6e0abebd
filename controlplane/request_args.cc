#include "controlplane/request_args.h"

#include <algorithm>

namespace sluice::cp {

size_t json_nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::optional<BackendState> parse_backend_state(const std::string& name) {
  if (name == "active") return BackendState::kActive;
  if (name == "draining") return BackendState::kDraining;
  if (name == "disabled") return BackendState::kDisabled;
  return std::nullopt;
}

std::optional<Encap> parse_encap(const std::string& name) {
  if (name == "ipip") return Encap::kIpip;
  if (name == "gue") return Encap::kGue;
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::only(std::initializer_list<const char*> allowed) const {
  for (const auto& [key, value] : req_.items()) {
    if (prefix_.empty() && key == "op") continue;
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return usage_error(prefix_ + key, "unknown field");
  }
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::string(const char* key, std::string& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return usage_error(path(key), "is required");
  if (!it->is_string()) return usage_error(path(key), "must be a string");
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::boolean(const char* key, bool& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return std::nullopt;
  if (!it->is_boolean()) return usage_error(path(key), "must be true or false");
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::uint(const char* key, uint64_t max, uint64_t& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return usage_error(path(key), "is required");
  if (it->is_number_integer() && !it->is_number_unsigned()) {
    return invalid_error(path(key), std::to_string(it->get<int64_t>()) + " is negative");
  }
  if (!it->is_number_unsigned()) return usage_error(path(key), "must be a non-negative integer");
  const uint64_t v = it->get<uint64_t>();
  if (v > max)
    return invalid_error(path(key), std::to_string(v) + " exceeds " + std::to_string(max));
  out = v;
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::address(const char* key, IpAddress& out) const {
  std::string text;
  if (auto e = string(key, text)) return e;
  const auto a = parse_ip_address(text);
  if (!a) return invalid_error(path(key), in_quotes(text) + " is not an IPv4 or IPv6 address");
  out = *a;
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::protocol(const char* key, uint8_t& out) const {
  std::string text;
  if (auto e = string(key, text)) return e;
  out = parse_protocol(text);
  if (out == 0) return invalid_error(path(key), in_quotes(text) + " is not tcp or udp");
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::vip_key(const char* key, VipKey& out) const {
  std::string text, error;
  if (auto e = string(key, text)) return e;
  const auto k = parse_vip_key(text, error);
  if (!k) return usage_error(path(key), error);
  out = *k;
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::vip_spec(const char* key, VipConfig& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return usage_error(path(key), "is required");
  if (!it->is_object()) return usage_error(path(key), "must be an object");
  const RequestArgs a(*it, path(key) + ".");
  if (auto e = a.only({"address", "port", "protocol", "encap", "table_size", "scheduler",
                       "no_backend", "slow_start", "min_healthy"})) {
    return e;
  }
  VipConfig vip;
  uint64_t port = 0;
  if (auto e = a.address("address", vip.address)) return e;
  if (auto e = a.uint("port", 65535, port)) return e;
  vip.port = static_cast<uint16_t>(port);
  if (auto e = a.protocol("protocol", vip.protocol)) return e;
  if (a.has("encap")) {
    std::string encap;
    if (auto e = a.string("encap", encap)) return e;
    const auto en = parse_encap(encap);
    if (!en) return invalid_error(a.path("encap"), in_quotes(encap) + " is not ipip or gue");
    vip.encap = *en;
  }
  if (a.has("table_size")) {
    uint64_t size = 0;
    if (auto e = a.uint("table_size", UINT32_MAX, size)) return e;
    vip.table_size = static_cast<uint32_t>(size);
  }
  VipChange change;
  if (auto e = a.vip_change(change)) return e;
  if (change.scheduler) vip.scheduler = *change.scheduler;
  if (change.no_backend) vip.no_backend = *change.no_backend;
  if (change.slow_start_s) vip.slow_start_s = *change.slow_start_s;
  if (a.has("min_healthy")) {
    uint64_t n = 0;
    if (auto e = a.uint("min_healthy", kMaxMinHealthy, n)) return e;
    vip.min_healthy = static_cast<uint32_t>(n);
  }
  out = std::move(vip);
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::backend_spec(const char* key, BackendConfig& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return usage_error(path(key), "is required");
  if (!it->is_object()) return usage_error(path(key), "must be an object");
  const RequestArgs a(*it, path(key) + ".");
  if (auto e = a.only({"name", "address", "weight", "state", "backup"})) return e;
  BackendConfig be;
  if (auto e = a.string("name", be.name)) return e;
  if (auto e = a.address("address", be.address)) return e;
  BackendChange change;
  if (auto e = a.backend_change(change)) return e;
  if (change.weight) be.weight = *change.weight;
  if (change.state) be.state = *change.state;
  if (change.backup) be.backup = *change.backup;
  out = std::move(be);
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::backend_change(BackendChange& out) const {
  if (has("weight")) {
    uint64_t w = 0;
    if (auto e = uint("weight", UINT32_MAX, w)) return e;
    if (w > kMaxBackendWeight) {
      return invalid_error(path("weight"), std::to_string(w) + " is out of range [0, " +
                                               std::to_string(kMaxBackendWeight) + "]");
    }
    out.weight = static_cast<uint32_t>(w);
  }
  if (has("state")) {
    std::string s;
    if (auto e = string("state", s)) return e;
    out.state = parse_backend_state(s);
    if (!out.state) {
      return invalid_error(path("state"), in_quotes(s) + " is not active, draining or disabled");
    }
  }
  if (has("backup")) {
    bool backup = false;
    if (auto e = boolean("backup", backup)) return e;
    out.backup = backup;
  }
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::vip_change(VipChange& out) const {
  if (has("scheduler")) {
    std::string s;
    if (auto e = string("scheduler", s)) return e;
    out.scheduler = parse_scheduler(s);
    if (!out.scheduler) {
      return invalid_error(path("scheduler"), in_quotes(s) + " is not " + scheduler_names());
    }
  }
  if (has("no_backend")) {
    std::string s;
    if (auto e = string("no_backend", s)) return e;
    out.no_backend = parse_no_backend(s);
    if (!out.no_backend) {
      return invalid_error(path("no_backend"), in_quotes(s) + " is not " + no_backend_names());
    }
  }
  if (has("slow_start")) {
    uint64_t v = 0;
    if (auto e = uint("slow_start", kMaxSlowStartSeconds, v)) return e;
    out.slow_start_s = static_cast<uint32_t>(v);
  }
  return std::nullopt;
}

std::optional<ApiError> RequestArgs::config(const char* key, TableConfig& out) const {
  const auto it = req_.find(key);
  if (it == req_.end()) return usage_error(path(key), "is required");
  if (!it->is_object())
    return usage_error(path(key), "must be a JSON object (a declarative config)");
  // The contract's strict reader works on text; the paths it reports start
  // at "config", which the API leaves out ("vips[0].port").
  ConfigDocument doc;
  std::string error = parse_config_document(it->dump(), doc);
  if (error.empty()) {
    // Ids in a document (an exported state file, say) are not the
    // operator's to set: VIPs match by key and backends by name.
    out = std::move(doc.config);
    for (VipConfig& vip : out.vips) {
      vip.id = 0;
      for (BackendConfig& be : vip.backends) be.id = 0;
    }
    return std::nullopt;
  }
  for (const char* prefix : {"config.", "config"}) {
    if (error.rfind(prefix, 0) == 0) {
      error.erase(0, std::string(prefix).size());
      break;
    }
  }
  if (error.rfind(": ", 0) == 0) error.erase(0, 2);
  const auto colon = error.find(": ");
  std::string field = colon == std::string::npos ? "" : error.substr(0, colon);
  if (field.find(' ') != std::string::npos) field.clear();
  return ApiError{ErrorCode::kInvalid, error, field};
}

}  // namespace sluice::cp
