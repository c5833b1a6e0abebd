#include "common/table_config.h"

#include <nlohmann/json.hpp>

#include "common/json_strict.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

namespace sluice {

namespace {

using nlohmann::json;

// An IPv4 address lives in the first 4 of 16 bytes; anything in the rest
// would make it print as one address and match as none.
bool well_formed(const IpAddress& a) {
  if (a.family == 6) return true;
  if (a.family != 4) return false;
  for (int i = 4; i < 16; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return true;
}

std::string vip_label(const VipConfig& vip) {
  return "vip " + format_ip_address(vip.address) + ":" + std::to_string(vip.port) + "/" +
         protocol_name(vip.protocol);
}

std::string validate_backend(const VipConfig& vip, const BackendConfig& be,
                             const TableLimits& limits) {
  const std::string where = vip_label(vip) + " backend '" + be.name + "': ";
  if (be.id == 0 || be.id > limits.max_backend_id) {
    return where + "id " + std::to_string(be.id) + " is out of range [1, " +
           std::to_string(limits.max_backend_id) + "]";
  }
  if (!well_formed(be.address)) return where + "address is not set or malformed";
  if (!encap_supports(vip.encap, vip.address.family, be.address.family)) {
    return where + "address " + format_ip_address(be.address) + " is IPv" +
           std::to_string(be.address.family) + " but encap " + encap_name(vip.encap) +
           " cannot carry IPv" + std::to_string(vip.address.family) + " to it";
  }
  if ((be.address.family == 4 && !limits.outer_v4) || (be.address.family == 6 && !limits.outer_v6)) {
    return where + "address " + format_ip_address(be.address) + " needs an IPv" +
           std::to_string(be.address.family) + " outer source address, and the dataplane has none";
  }
  if (be.weight > kMaxBackendWeight) {
    return where + "weight " + std::to_string(be.weight) + " is out of range [0, " +
           std::to_string(kMaxBackendWeight) + "]";
  }
  if (be.state != BackendState::kActive && be.state != BackendState::kDraining &&
      be.state != BackendState::kDisabled) {
    return where + "state " + std::to_string(static_cast<int>(be.state)) + " is unknown";
  }
  return {};
}

}  // namespace

bool encap_supports(Encap encap, uint8_t inner_family, uint8_t outer_family) {
  if (encap == Encap::kGue) return true;
  // IPIP: the outer family decides the protocol number (4 or 41); IPv6 inside
  // IPv4 (6in4) is left out on purpose: backends' decapsulation is v4-in-v4,
  // v6-in-v6 and v4-in-v6 only (DESIGN.md section 2, step 5).
  return !(inner_family == 6 && outer_family == 4);
}

const char* encap_name(Encap encap) {
  switch (encap) {
    case Encap::kIpip: return "ipip";
    case Encap::kGue: return "gue";
  }
  return "unknown";
}

const char* backend_state_name(BackendState state) {
  switch (state) {
    case BackendState::kActive: return "active";
    case BackendState::kDraining: return "draining";
    case BackendState::kDisabled: return "disabled";
  }
  return "unknown";
}

const char* protocol_name(uint8_t protocol) {
  switch (protocol) {
    case 6: return "tcp";
    case 17: return "udp";
  }
  return "unknown";
}

std::string validate_vip_config(const VipConfig& vip, const TableLimits& limits) {
  const std::string where = vip_label(vip) + ": ";
  if (!well_formed(vip.address)) return "vip: address is not set or malformed";
  if (vip.id == 0 || vip.id > limits.max_vips) {
    return where + "id " + std::to_string(vip.id) + " is out of range [1, " +
           std::to_string(limits.max_vips) + "]";
  }
  if (vip.protocol != 6 && vip.protocol != 17) {
    return where + "protocol " + std::to_string(vip.protocol) + " is not tcp (6) or udp (17)";
  }
  if (vip.encap != Encap::kIpip && vip.encap != Encap::kGue) {
    return where + "encap " + std::to_string(static_cast<int>(vip.encap)) + " is unknown";
  }
  if (std::string e = validate_maglev_table_size(vip.table_size); !e.empty()) {
    return where + e;
  }
  if (std::string field, e = validate_vip_policy(vip.scheduler, vip.no_backend, vip.slow_start_s,
                                                 vip.protocol, field);
      !e.empty()) {
    return where + e;
  }
  if (vip.backends.size() > limits.max_backends_per_vip) {
    return where + std::to_string(vip.backends.size()) +
           " backends exceed the per-VIP limit of " + std::to_string(limits.max_backends_per_vip);
  }
  if (vip.backends.size() > vip.table_size) {
    return where + std::to_string(vip.backends.size()) + " backends do not fit in table_size " +
           std::to_string(vip.table_size);
  }
  std::set<std::string_view> names;
  std::set<std::pair<uint8_t, std::string>> addresses;
  std::set<uint32_t> ids;
  for (const BackendConfig& be : vip.backends) {
    if (be.name.empty()) {
      return where + "backend with address " + format_ip_address(be.address) +
             " has an empty name";
    }
    if (std::string e = validate_backend(vip, be, limits); !e.empty()) return e;
    if (!names.insert(be.name).second) return where + "duplicate backend name '" + be.name + "'";
    const std::string baddr(reinterpret_cast<const char*>(be.address.bytes), 16);
    if (!addresses.emplace(be.address.family, baddr).second) {
      return where + "duplicate backend address " + format_ip_address(be.address);
    }
    if (!ids.insert(be.id).second) {
      return where + "backend '" + be.name + "': id " + std::to_string(be.id) +
             " is used twice (ids are global across VIPs)";
    }
  }
  return {};
}

std::string vip_key_conflict(const VipConfig& vip) {
  return vip_label(vip) + ": duplicate VIP";
}

std::string backend_id_conflict(const VipConfig& vip, const BackendConfig& be) {
  return vip_label(vip) + ": backend '" + be.name + "': id " + std::to_string(be.id) +
         " is used twice (ids are global across VIPs)";
}

std::string vip_id_conflict(const VipConfig& vip) {
  return vip_label(vip) + ": id " + std::to_string(vip.id) + " is used by another VIP";
}

std::string memory_budget_error(uint64_t needed, uint64_t budget) {
  auto mib = [](uint64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
    return std::string(buf);
  };
  return "vips: the tables need " + mib(needed) + " of memory, over the dataplane's table " +
         "memory budget of " + mib(budget) + " (lb-dataplane --table-memory-mb)";
}

std::string validate_table_config(const TableConfig& config, const TableLimits& limits) {
  if (config.vips.size() > limits.max_vips) {
    return "vips: " + std::to_string(config.vips.size()) + " VIPs exceed the limit of " +
           std::to_string(limits.max_vips);
  }
  std::set<std::tuple<uint8_t, std::string, uint16_t, uint8_t>> vip_keys;
  std::set<uint32_t> backend_ids, vip_ids;
  uint64_t memory = 0;
  for (const VipConfig& vip : config.vips) {
    if (std::string e = validate_vip_config(vip, limits); !e.empty()) return e;
    if (!vip_ids.insert(vip.id).second) return vip_id_conflict(vip);
    const std::string addr(reinterpret_cast<const char*>(vip.address.bytes), 16);
    if (!vip_keys.emplace(vip.address.family, addr, vip.port, vip.protocol).second) {
      return vip_key_conflict(vip);
    }
    for (const BackendConfig& be : vip.backends) {
      if (!backend_ids.insert(be.id).second) return backend_id_conflict(vip, be);
    }
    memory += vip_table_memory_bytes(vip);
  }
  if (limits.table_memory_budget != 0 && memory > limits.table_memory_budget) {
    return memory_budget_error(memory, limits.table_memory_budget);
  }
  return {};
}

uint32_t maglev_turn_weight(const BackendConfig& be, MaglevTurns turns) {
  switch (be.state) {
    case BackendState::kActive: return be.weight;
    case BackendState::kDraining: return turns == MaglevTurns::kExistingFlows ? be.weight : 0;
    case BackendState::kDisabled: return 0;
  }
  return 0;
}

std::vector<uint32_t> vip_turn_weights(const VipConfig& vip, MaglevTurns turns) {
  std::vector<uint32_t> w;
  w.reserve(vip.backends.size());
  bool primary_turns = false;
  for (const BackendConfig& be : vip.backends) {
    w.push_back(maglev_turn_weight(be, turns));
    primary_turns = primary_turns || (!be.backup && w.back() != 0);
  }
  if (primary_turns) {
    for (size_t i = 0; i < w.size(); ++i) {
      if (vip.backends[i].backup) w[i] = 0;
    }
  }
  return w;
}

bool needs_existing_flows_table(const VipConfig& vip) {
  return vip_turn_weights(vip, MaglevTurns::kNewFlows) !=
         vip_turn_weights(vip, MaglevTurns::kExistingFlows);
}

std::string build_vip_maglev(const VipConfig& vip, std::vector<uint32_t>& out,
                             MaglevTurns turns) {
  const std::vector<uint32_t> turn_weights = vip_turn_weights(vip, turns);
  std::vector<MaglevBackend> weights;
  weights.reserve(vip.backends.size());
  for (size_t i = 0; i < vip.backends.size(); ++i) {
    const BackendConfig& be = vip.backends[i];
    weights.push_back(MaglevBackend{be.name, turn_weights[i], be.id});
  }
  return maglev_build(weights, vip.table_size, out);
}

void vip_candidates(const VipConfig& vip, std::vector<uint32_t>& ids,
                    std::vector<uint64_t>& cumulative) {
  ids.clear();
  cumulative.clear();
  const std::vector<uint32_t> w = vip_turn_weights(vip, MaglevTurns::kNewFlows);
  uint64_t sum = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0) continue;
    sum += w[i];
    ids.push_back(vip.backends[i].id);
    cumulative.push_back(sum);
  }
}

std::string build_vip_tables(const VipConfig& vip, std::vector<uint32_t>& out) {
  if (std::string e = build_vip_maglev(vip, out, MaglevTurns::kNewFlows); !e.empty()) return e;
  if (!needs_existing_flows_table(vip)) return {};
  std::vector<uint32_t> existing;
  if (std::string e = build_vip_maglev(vip, existing, MaglevTurns::kExistingFlows); !e.empty()) {
    return e;
  }
  out.insert(out.end(), existing.begin(), existing.end());
  return {};
}

bool same_maglev_inputs(const VipConfig& a, const VipConfig& b) {
  if (a.table_size != b.table_size || a.backends.size() != b.backends.size()) return false;
  for (size_t i = 0; i < a.backends.size(); ++i) {
    const BackendConfig& x = a.backends[i];
    const BackendConfig& y = b.backends[i];
    if (x.id != y.id || x.name != y.name) return false;
  }
  return vip_turn_weights(a, MaglevTurns::kNewFlows) ==
             vip_turn_weights(b, MaglevTurns::kNewFlows) &&
         vip_turn_weights(a, MaglevTurns::kExistingFlows) ==
             vip_turn_weights(b, MaglevTurns::kExistingFlows);
}

uint64_t vip_table_memory_bytes(const VipConfig& vip) {
  // The Maglev tables (two while a backend drains), the VIP's entry and
  // index slots, and per backend its configuration with the name. Within a
  // few percent of what the builder allocates; the Maglev tables dominate.
  const uint64_t tables = needs_existing_flows_table(vip) ? 2 : 1;
  uint64_t bytes = tables * vip.table_size * sizeof(uint32_t) + 512;
  for (const BackendConfig& be : vip.backends) bytes += sizeof(BackendConfig) + be.name.size();
  return bytes;
}

std::string validate_vip_health(const VipConfig& vip, const std::string& path) {
  const HealthSpec* vspec = vip.health.get();
  if (vspec != nullptr) {
    const HealthCheck c = resolve_health(vspec, nullptr, vip.port);
    if (std::string e = validate_health(c, vspec, nullptr, path + ".health"); !e.empty()) return e;
  }
  for (size_t i = 0; i < vip.backends.size(); ++i) {
    const HealthSpec* bspec = vip.backends[i].health.get();
    if (bspec == nullptr) continue;
    const HealthCheck c = resolve_health(vspec, bspec, vip.port);
    std::string where = path;
    where += ".backends[" + std::to_string(i) + "].health";
    if (std::string e = validate_health(c, vspec, bspec, where); !e.empty()) return e;
  }
  return {};
}

namespace {

// A small strict reader over nlohmann::json: every accessor checks the type
// and range and reports the JSON path on failure.
struct Reader {
  std::string error;

  bool fail(const std::string& path, const std::string& what) {
    if (error.empty()) error = path + ": " + what;
    return false;
  }

  bool only_fields(const json& obj, const std::string& path,
                   std::initializer_list<const char*> allowed) {
    if (!obj.is_object()) return fail(path, "must be an object");
    for (const auto& [key, value] : obj.items()) {
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) return fail(path + "." + key, "unknown field");
    }
    return true;
  }

  bool string_field(const json& obj, const std::string& path, const char* key, bool required,
                    std::string& out) {
    const auto it = obj.find(key);
    if (it == obj.end()) return required ? fail(path + "." + key, "is required") : true;
    if (!it->is_string()) return fail(path + "." + key, "must be a string");
    out = it->get<std::string>();
    return true;
  }

  bool uint_field(const json& obj, const std::string& path, const char* key, bool required,
                  uint64_t max, uint64_t& out) {
    const auto it = obj.find(key);
    if (it == obj.end()) return required ? fail(path + "." + key, "is required") : true;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
      return fail(path + "." + key, "must be a non-negative integer");
    }
    const uint64_t v = it->get<uint64_t>();
    if (v > max) return fail(path + "." + key, std::to_string(v) + " exceeds " + std::to_string(max));
    out = v;
    return true;
  }

  bool bool_field(const json& obj, const std::string& path, const char* key, bool& out) {
    const auto it = obj.find(key);
    if (it == obj.end()) return true;
    if (!it->is_boolean()) return fail(path + "." + key, "must be true or false");
    out = it->get<bool>();
    return true;
  }

  // scheduler, no_backend and slow_start, and their rules.
  bool policy(const json& obj, const std::string& path, VipConfig& vip) {
    std::string scheduler = scheduler_name(vip.scheduler);
    std::string no_backend = no_backend_name(vip.no_backend);
    uint64_t slow_start = 0;
    if (!string_field(obj, path, "scheduler", false, scheduler) ||
        !string_field(obj, path, "no_backend", false, no_backend) ||
        !uint_field(obj, path, "slow_start", false, UINT32_MAX, slow_start)) {
      return false;
    }
    const auto s = parse_scheduler(scheduler);
    if (!s) return fail(path + ".scheduler", "'" + scheduler + "' is not " + scheduler_names());
    const auto n = parse_no_backend(no_backend);
    if (!n) return fail(path + ".no_backend", "'" + no_backend + "' is not " + no_backend_names());
    vip.scheduler = *s;
    vip.no_backend = *n;
    vip.slow_start_s = static_cast<uint32_t>(slow_start);
    std::string field;
    if (std::string e = validate_vip_policy(vip.scheduler, vip.no_backend, vip.slow_start_s,
                                            vip.protocol, field);
        !e.empty()) {
      return fail(path + "." + field, e);
    }
    return true;
  }

  bool address_field(const json& obj, const std::string& path, IpAddress& out) {
    std::string text;
    if (!string_field(obj, path, "address", true, text)) return false;
    auto addr = parse_ip_address(text);
    if (!addr) return fail(path + ".address", "'" + text + "' is not an IPv4 or IPv6 address");
    out = *addr;
    return true;
  }

  bool backend(const json& obj, const std::string& path, BackendConfig& be) {
    if (!only_fields(obj, path,
                     {"id", "name", "address", "weight", "state", "backup", "health"})) {
      return false;
    }
    if (!bool_field(obj, path, "backup", be.backup)) return false;
    if (!health(obj, path, true, be.health)) return false;
    uint64_t id = 0, weight = 1;
    std::string state = "active";
    if (!uint_field(obj, path, "id", false, UINT32_MAX, id) ||
        !string_field(obj, path, "name", true, be.name) || !address_field(obj, path, be.address) ||
        !uint_field(obj, path, "weight", false, UINT32_MAX, weight) ||
        !string_field(obj, path, "state", false, state)) {
      return false;
    }
    be.id = static_cast<uint32_t>(id);
    be.weight = static_cast<uint32_t>(weight);
    if (state == "active") {
      be.state = BackendState::kActive;
    } else if (state == "draining") {
      be.state = BackendState::kDraining;
    } else if (state == "disabled") {
      be.state = BackendState::kDisabled;
    } else {
      return fail(path + ".state", "'" + state + "' is not active, draining or disabled");
    }
    return true;
  }

  bool vip(const json& obj, const std::string& path, VipConfig& vip) {
    if (!only_fields(obj, path,
                     {"id", "address", "port", "protocol", "encap", "table_size", "scheduler",
                      "no_backend", "slow_start", "health", "min_healthy", "backends"})) {
      return false;
    }
    if (!health(obj, path, false, vip.health)) return false;
    uint64_t id = 0, port = 0, table_size = kMaglevDefaultTableSize, min_healthy = 1;
    std::string protocol, encap = "ipip";
    if (!uint_field(obj, path, "id", false, UINT32_MAX, id) ||
        !address_field(obj, path, vip.address) ||
        !uint_field(obj, path, "port", true, 65535, port) ||
        !string_field(obj, path, "protocol", true, protocol) ||
        !string_field(obj, path, "encap", false, encap) ||
        !uint_field(obj, path, "table_size", false, UINT32_MAX, table_size) ||
        !uint_field(obj, path, "min_healthy", false, kMaxMinHealthy, min_healthy)) {
      return false;
    }
    vip.id = static_cast<uint32_t>(id);
    vip.min_healthy = static_cast<uint32_t>(min_healthy);
    vip.port = static_cast<uint16_t>(port);
    vip.table_size = static_cast<uint32_t>(table_size);
    if (protocol == "tcp") {
      vip.protocol = 6;
    } else if (protocol == "udp") {
      vip.protocol = 17;
    } else {
      return fail(path + ".protocol", "'" + protocol + "' is not tcp or udp");
    }
    if (encap == "ipip") {
      vip.encap = Encap::kIpip;
    } else if (encap == "gue") {
      vip.encap = Encap::kGue;
    } else {
      return fail(path + ".encap", "'" + encap + "' is not ipip or gue");
    }
    if (!policy(obj, path, vip)) return false;
    const auto it = obj.find("backends");
    if (it == obj.end()) return true;
    if (!it->is_array()) return fail(path + ".backends", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      BackendConfig be;
      if (!backend((*it)[i], path + ".backends[" + std::to_string(i) + "]", be)) return false;
      vip.backends.push_back(std::move(be));
    }
    return health_rules(vip, path);
  }

  // An optional "health" object (common/health_config.h).
  bool health(const json& obj, const std::string& path, bool backend_level, HealthSpecPtr& out) {
    const auto it = obj.find("health");
    if (it == obj.end()) return true;
    HealthSpec spec;
    if (std::string e = parse_health_spec(*it, path + ".health", backend_level, spec); !e.empty()) {
      if (error.empty()) error = e;
      return false;
    }
    out = std::make_shared<const HealthSpec>(std::move(spec));
    return true;
  }

  // The rules across fields, on what each backend would run.
  bool health_rules(const VipConfig& vip, const std::string& path) {
    const std::string e = validate_vip_health(vip, path);
    if (!e.empty() && error.empty()) error = e;
    return e.empty();
  }
};

}  // namespace

std::string parse_config_document(const std::string& text, ConfigDocument& out) {
  json doc;
  if (JsonStrictError e; !parse_json_strict(text, doc, e, "config")) return e.message;
  Reader r;
  ConfigDocument result;
  if (!r.only_fields(doc, "config",
                     {"vips", "format", "version", "next_vip_id", "next_backend_id"})) {
    return r.error;
  }
  if (doc.contains("format") || doc.contains("version")) {
    std::string format;
    uint64_t version = 0, next_vip = 0, next_backend = 0;
    if (!r.string_field(doc, "config", "format", true, format) ||
        !r.uint_field(doc, "config", "version", true, UINT32_MAX, version) ||
        !r.uint_field(doc, "config", "next_vip_id", false, UINT32_MAX, next_vip) ||
        !r.uint_field(doc, "config", "next_backend_id", false, UINT32_MAX, next_backend)) {
      return r.error;
    }
    if (format != kStateFormat) {
      return "config.format: '" + format + "' is not \"" + kStateFormat + "\"";
    }
    if (version != kStateVersion) {
      return "config.version: " + std::to_string(version) + " is not " +
             std::to_string(kStateVersion);
    }
    result.state_file = true;
    result.next_vip_id = static_cast<uint32_t>(next_vip);
    result.next_backend_id = static_cast<uint32_t>(next_backend);
  } else if (doc.contains("next_vip_id") || doc.contains("next_backend_id")) {
    return "config.format: is required beside next_vip_id and next_backend_id (a state file)";
  }
  const auto it = doc.find("vips");
  // Explicit, so that {} or a document that lost its key is never taken for
  // "no VIPs at all".
  if (it == doc.end()) return "config.vips: is required (\"vips\": [] for no VIPs)";
  if (!it->is_array()) return "config.vips: must be an array";
  size_t with_id = 0, without_id = 0;
  for (size_t i = 0; i < it->size(); ++i) {
    VipConfig vip;
    const std::string path = "config.vips[" + std::to_string(i) + "]";
    if (!r.vip((*it)[i], path, vip)) return r.error;
    const auto& v = (*it)[i];
    (v.contains("id") ? with_id : without_id) += 1;
    if (const auto b = v.find("backends"); b != v.end()) {
      for (const auto& be : *b) (be.contains("id") ? with_id : without_id) += 1;
    }
    if (with_id != 0 && without_id != 0) {
      return path + ": ids must be given for every VIP and backend, or for none";
    }
    result.config.vips.push_back(std::move(vip));
  }
  result.has_ids = with_id != 0;
  out = std::move(result);
  return {};
}

bool vip_order_less(const IpAddress& a, uint16_t a_port, uint8_t a_protocol, const IpAddress& b,
                    uint16_t b_port, uint8_t b_protocol) {
  if (a.family != b.family) return a.family < b.family;
  if (const int c = std::memcmp(a.bytes, b.bytes, 16); c != 0) return c < 0;
  if (a_port != b_port) return a_port < b_port;
  return a_protocol < b_protocol;
}

void number_in_order(TableConfig& config) {
  std::sort(config.vips.begin(), config.vips.end(), [](const VipConfig& a, const VipConfig& b) {
    return vip_order_less(a.address, a.port, a.protocol, b.address, b.port, b.protocol);
  });
  uint32_t vip_id = 0, backend_id = 0;
  for (VipConfig& vip : config.vips) {
    vip.id = ++vip_id;
    std::sort(vip.backends.begin(), vip.backends.end(),
              [](const BackendConfig& a, const BackendConfig& b) { return a.name < b.name; });
    for (BackendConfig& be : vip.backends) be.id = ++backend_id;
  }
}

std::string table_config_to_json(const TableConfig& config, bool with_ids) {
  return table_config_json(config, with_ids).dump(2);
}

nlohmann::json table_config_json(const TableConfig& config, bool with_ids) {
  json vips = json::array();
  for (const VipConfig& vip : config.vips) {
    json backends = json::array();
    for (const BackendConfig& be : vip.backends) {
      json b = {{"name", be.name},
                {"address", format_ip_address(be.address)},
                {"weight", be.weight},
                {"state", backend_state_name(be.state)}};
      // Written only when set, so documents of VIPs without backups read
      // as before.
      if (be.backup) b["backup"] = true;
      if (be.health) b["health"] = health_spec_json(*be.health);
      if (with_ids) b["id"] = be.id;
      backends.push_back(std::move(b));
    }
    json v = {{"address", format_ip_address(vip.address)},
              {"port", vip.port},
              {"protocol", protocol_name(vip.protocol)},
              {"encap", encap_name(vip.encap)},
              {"table_size", vip.table_size},
              {"backends", std::move(backends)}};
    // The policy keys only when not the default: documents of VIPs that
    // keep the defaults read and export as before.
    if (vip.scheduler != Scheduler::kMaglev) v["scheduler"] = scheduler_name(vip.scheduler);
    if (vip.no_backend != NoBackend::kDrop) v["no_backend"] = no_backend_name(vip.no_backend);
    if (vip.slow_start_s != 0) v["slow_start"] = vip.slow_start_s;
    if (vip.health) v["health"] = health_spec_json(*vip.health);
    if (vip.min_healthy != 1) v["min_healthy"] = vip.min_healthy;
    if (with_ids) v["id"] = vip.id;
    vips.push_back(std::move(v));
  }
  return json{{"vips", std::move(vips)}};
}

}  // namespace sluice
