#include "tools/lbctl/output.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "common/control_segment.h"
#include "common/counters.h"

namespace sluice::lbctl {

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// "table_size" -> "table size", for fields a renderer does not know.
std::string label(std::string s) {
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

const json& field(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

const json& array_field(const json& object, const char* key) {
  static const json kEmpty = json::array();
  const json& v = field(object, key);
  return v.is_array() ? v : kEmpty;
}

// Adds the fields of `object` that are not in `known`, in key order.
void add_unknown(KeyValues& kv, const json& object, std::initializer_list<const char*> known,
                 int indent) {
  if (!object.is_object()) return;
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) ==
        known.end()) {
      kv.add(label(key), cell(item.value()), indent);
    }
  }
}

// Counter names in the order people read them; others follow alphabetically.
std::vector<std::string> counter_names(const json& counter_objects) {
  static const char* const kPreferred[] = {"packets", "bytes", "new_flows", "active",
                                           "inactive"};
  std::set<std::string> present;
  for (const json& c : counter_objects) {
    if (c.is_object()) {
      for (const auto& [key, value] : c.items()) present.insert(key);
    }
  }
  std::vector<std::string> names;
  for (const char* p : kPreferred) {
    if (present.erase(p) != 0) names.push_back(p);
  }
  names.insert(names.end(), present.begin(), present.end());
  return names;
}

std::string yes_no(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return cell(v);
}

}  // namespace

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].header.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (c > 0) line += "  ";
      const std::string pad(width[c] - cells[c].size(), ' ');
      line += columns_[c].align == Align::kRight ? pad + cells[c] : cells[c] + pad;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  };
  std::vector<std::string> headers;
  for (const Column& col : columns_) headers.push_back(upper(col.header));
  emit(headers);
  for (const auto& row : rows_) emit(row);
  return out;
}

void KeyValues::add(std::string key, std::string value, int indent) {
  lines_.push_back({std::move(key), std::move(value), indent});
}

std::string KeyValues::render() const {
  size_t width = 0;
  for (const Line& l : lines_) {
    width = std::max(width, static_cast<size_t>(2 * l.indent) + l.key.size() + 1);
  }
  std::string out;
  for (const Line& l : lines_) {
    std::string line = std::string(2 * l.indent, ' ') + l.key + ":";
    if (!l.value.empty()) line += std::string(width + 2 - line.size(), ' ') + l.value;
    out += line + "\n";
  }
  return out;
}

std::string json_text(const json& value) { return value.dump(2) + "\n"; }

std::string cell(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  return value.dump();  // numbers (nlohmann prints them exactly), objects, arrays
}

std::string cell(const json& object, const char* key) { return cell(field(object, key)); }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  if (seconds < 60) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
  }
  uint64_t s = static_cast<uint64_t>(seconds);
  const uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  auto n = [](uint64_t v, const char* unit) { return std::to_string(v) + unit; };
  if (d > 0) return n(d, "d ") + n(h, "h ") + n(m, "m");
  if (h > 0) return n(h, "h ") + n(m, "m ") + n(s, "s");
  return n(m, "m ") + n(s, "s");
}

namespace {

// A VIP's health summary: "tcp", "http, 1 out", "tcp, DEGRADED (2 kept in
// by the cap)".
std::string health_summary(const json& h) {
  std::string s = cell(h, "kind");
  const json& removed = field(h, "removed");
  if (removed.is_number() && removed.get<uint64_t>() > 0) s += ", " + cell(removed) + " out";
  if (field(h, "degraded").is_boolean() && field(h, "degraded").get<bool>()) {
    s += ", DEGRADED (" + cell(h, "held_by_cap") + " unhealthy kept in by the cap)";
  }
  return s;
}

}  // namespace

std::string render_vip_list(const json& result) {
  bool health = false;
  for (const json& vip : array_field(result, "vips")) health = health || vip.contains("health");
  std::vector<Table::Column> columns = {{"key"},
                                       {"encap"},
                                       {"table", Table::Align::kRight},
                                       {"scheduler"},
                                       {"backends", Table::Align::kRight}};
  if (health) columns.push_back({"health"});
  Table t(std::move(columns));
  for (const json& vip : array_field(result, "vips")) {
    const json& backends = field(vip, "backends");
    std::vector<std::string> row = {cell(vip, "key"), cell(vip, "encap"), cell(vip, "table_size"),
                                    cell(vip, "scheduler"),
                                    backends.is_array() ? std::to_string(backends.size()) : "-"};
    if (health) row.push_back(health_summary(field(vip, "health")));
    t.add_row(std::move(row));
  }
  return t.render();
}

namespace {

// A weight as the control plane reports an effective one: "0.3", "2".
std::string weight_cell(const json& w) {
  if (!w.is_number()) return cell(w);
  const double v = w.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof buf, v == static_cast<double>(static_cast<uint64_t>(v)) ? "%.0f" : "%.1f",
                v);
  return buf;
}

// NAME ADDRESS WEIGHT EFFECTIVE STATE (ROLE when any backend is a backup),
// then one column per counter when any backend has counters (vip show with
// a dataplane attached).
std::string backend_table(const json& backends) {
  std::vector<json> counters;
  for (const json& be : backends) counters.push_back(field(be, "counters"));
  const std::vector<std::string> names = counter_names(counters);
  bool backups = false;
  for (const json& be : backends) backups = backups || be.value("backup", false);
  std::vector<Table::Column> columns = {{"name"},
                                        {"address"},
                                        {"weight", Table::Align::kRight},
                                        {"effective", Table::Align::kRight},
                                        {"state"}};
  if (backups) columns.push_back({"role"});
  // Health columns when the control plane checks health (health_monitor.h).
  bool health = false;
  for (const json& be : backends) health = health || be.contains("health");
  if (health) {
    for (const char* h : {"health", "since", "last_probe"}) columns.push_back({h});
    columns.push_back({"latency_ms", Table::Align::kRight});
  }
  for (const std::string& n : names) columns.push_back({n, Table::Align::kRight});
  Table t(std::move(columns));
  for (const json& be : backends) {
    std::vector<std::string> row = {cell(be, "name"), cell(be, "address"), cell(be, "weight"),
                                    weight_cell(field(be, "effective_weight")), cell(be, "state")};
    if (backups) row.push_back(be.value("backup", false) ? "backup" : "primary");
    if (health) {
      std::string h = cell(be, "health");
      // Kept in by the removal cap, or taken out: say which.
      if (be.value("health_removed", false)) h += " (out)";
      for (std::string c : {h, cell(be, "health_since"), cell(be, "last_probe_result"),
                            cell(be, "last_probe_latency_ms")}) {
        row.push_back(std::move(c));
      }
    }
    for (const std::string& n : names) row.push_back(cell(field(be, "counters"), n.c_str()));
    t.add_row(std::move(row));
  }
  return t.render();
}

}  // namespace

std::string render_backend_list(const json& result) {
  return backend_table(array_field(result, "backends"));
}

std::string render_vip_show(const json& result) {
  const json& vip = field(result, "vip");
  const json& backends = array_field(vip, "backends");
  KeyValues kv;
  kv.add("key", cell(vip, "key"));
  kv.add("id", cell(vip, "id"));
  kv.add("encap", cell(vip, "encap"));
  kv.add("table size", cell(vip, "table_size"));
  kv.add("scheduler", cell(vip, "scheduler") + (vip.value("host_local", false)
                                                    ? " (host-local: not kept across hosts)"
                                                    : ""));
  kv.add("no backend", cell(vip, "no_backend"));
  kv.add("slow start", vip.value("slow_start", 0) == 0 ? std::string("off")
                                                         : cell(vip, "slow_start") + " s");
  kv.add("backends", std::to_string(backends.size()));
  if (vip.contains("health")) kv.add("health", health_summary(field(vip, "health")));
  const json& counters = field(vip, "counters");
  for (const std::string& n : counter_names(json::array({counters}))) {
    kv.add(label(n), cell(counters, n.c_str()));
  }
  add_unknown(
      kv, vip,
      {"key", "id", "address", "port", "protocol", "encap", "table_size", "scheduler",
       "host_local", "no_backend", "slow_start", "backends", "counters", "health"},
      0);
  std::string out = kv.render();
  if (!backends.empty()) {
    out += '\n';
    out += backend_table(backends);
  }
  return out;
}

namespace {

std::string mib(const json& bytes) {
  if (!bytes.is_number()) return cell(bytes);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes.get<double>() / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

namespace {

// The BGP part of status: what an operator compares across hosts.
void add_bgp_status(KeyValues& kv, const json& bgp) {
  if (!bgp.is_object()) return;
  if (field(bgp, "enabled") != true) {
    kv.add("bgp", "off (no --bird-socket)");
    return;
  }
  kv.add("bgp", "host " + cell(bgp, "host") + ", BIRD " +
                    (field(bgp, "bird_connected") == true ? "connected" : "not connected") + ", " +
                    cell(bgp, "sessions_established") + " sessions established");
  for (const json& v : array_field(bgp, "vips")) {
    std::string line = field(v, "announced") == true ? "announced" : "withdrawn";
    line += ": " + cell(v, "reason");
    kv.add(cell(v, "vip"), line, 1);
  }
}

}  // namespace

std::string render_status(const json& result) {
  KeyValues kv;
  const json& dp = field(result, "dataplane");
  const json& attached = field(dp, "attached");
  kv.add("dataplane", attached.is_boolean() ? (attached.get<bool>() ? "attached" : "not attached")
                                            : cell(attached));
  kv.add("instance", cell(dp, "instance"), 1);
  if (attached.is_boolean() && !attached.get<bool>()) {
    kv.add("reason", cell(dp, "reason"), 1);
    add_unknown(kv, dp, {"attached", "instance", "reason"}, 1);
  } else {
    kv.add("pid", cell(dp, "pid"), 1);
    kv.add("boot id", cell(dp, "boot_id"), 1);
    kv.add("generation", cell(dp, "generation"), 1);
    kv.add("lcores", cell(dp, "lcores"), 1);
    const json& up = field(dp, "uptime_s");
    kv.add("uptime", up.is_number() ? format_duration(up.get<double>()) : cell(up), 1);
    const json& hb = field(dp, "heartbeat_age_ms");
    kv.add("heartbeat age", hb.is_number() ? cell(hb) + " ms" : cell(hb), 1);
    kv.add("config digest", cell(dp, "config_digest"), 1);
    if (!field(dp, "hash_seed").is_null()) kv.add("hash seed", cell(dp, "hash_seed"), 1);
    // Busy is not dead: a build in progress says how far it got.
    const json& b = field(dp, "building");
    if (b.is_object()) {
      const json& el = field(b, "elapsed_s");
      kv.add("building",
             "generation " + cell(b, "generation") + ": " + cell(b, "done_vips") + " of " +
                 cell(b, "total_vips") + " VIPs" +
                 (el.is_number() ? " (" + format_duration(el.get<double>()) + ")" : ""),
             1);
    } else {
      kv.add("building", "no", 1);
    }
    kv.add("table memory", mib(field(dp, "table_memory_used_bytes")) + " of " +
                               mib(field(dp, "table_memory_budget_bytes")) + " budget",
           1);
    kv.add("refused txns", cell(dp, "refused_transactions"), 1);
    // One line per port: "net_af_packet0 (net_af_packet) 02:00:00:00:00:01
    // link up 10000 Mb/s mtu 1500, ingress".
    const json& ports = array_field(dp, "ports");
    for (size_t i = 0; i < ports.size(); ++i) {
      const json& p = ports[i];
      const json& up = field(p, "link_up");
      const json& speed = field(p, "speed_mbps");
      std::string line = cell(p, "name") + " (" + cell(p, "driver") + ") " + cell(p, "mac") +
                         " link " + (up.is_boolean() ? (up.get<bool>() ? "up" : "down") : cell(up));
      if (speed.is_number_unsigned() && speed.get<uint64_t>() != 0) {
        line += " " + cell(speed) + " Mb/s";
      }
      line += " mtu " + cell(p, "mtu");
      // An AF_XDP port: whose XDP program decides what reaches the dataplane.
      const json& xdp = field(p, "xdp");
      if (xdp.is_string() && xdp.get<std::string>() != "none") line += " xdp " + cell(xdp);
      // What the port is for (ingress, egress, exception); a dataplane
      // older than ABI 8 does not say.
      if (const json& role = field(p, "role"); role.is_string()) line += ", " + cell(role);
      const json& errors = field(p, "query_errors");
      if (errors.is_number_unsigned() && errors.get<uint64_t>() != 0) {
        line += " (" + cell(errors) + " failed link/MTU queries)";
      }
      const json& id = field(p, "port_id");
      kv.add("port " + (id.is_null() ? std::to_string(i) : cell(id)), line, 1);
    }
    // One line per family: "198.51.100.1 (kernel) 02:00:00:00:00:01,
    // changed 3.2s ago (2 changes)", "02:00:00:00:00:fe (static)",
    // "unresolved" while the kernel has no usable entry.
    for (const json& n : array_field(dp, "next_hops")) {
      const json& source = field(n, "source");
      const json& mac = field(n, "mac");
      std::string line;
      if (source == "none") {
        line = "none (packets to these backends are dropped: drop_no_neighbour)";
      } else {
        if (source == "kernel") line = cell(n, "address") + " (kernel) ";
        line += mac.is_string() ? mac.get<std::string>() : std::string("unresolved");
        if (source != "kernel") line += " (" + cell(source) + ")";
        const json& ago = field(n, "changed_ago_s");
        if (ago.is_number()) {
          line += ", changed " + format_duration(ago.get<double>()) + " ago (" +
                  cell(n, "changes") + " changes)";
        }
      }
      kv.add("next hop v" + cell(n, "family"), line, 1);
    }
    add_unknown(kv, dp,
                {"attached", "instance", "pid", "boot_id", "hash_seed", "generation", "lcores",
                 "uptime_s", "heartbeat_age_ms", "config_digest", "building", "table_memory_used_bytes",
                 "table_memory_budget_bytes", "refused_transactions", "ports", "next_hops"},
                1);
  }
  const json& cp = field(result, "controlplane");
  kv.add("control plane", "running");
  const json& up = field(cp, "uptime_s");
  kv.add("uptime", up.is_number() ? format_duration(up.get<double>()) : cell(up), 1);
  kv.add("state file", cell(cp, "state_file"), 1);
  kv.add("vips", cell(cp, "vips"), 1);
  kv.add("backends", cell(cp, "backends"), 1);
  kv.add("config digest", cell(cp, "config_digest"), 1);
  kv.add("in sync", yes_no(field(cp, "in_sync")), 1);
  if (field(cp, "sync_error").is_string()) kv.add("sync error", cell(cp, "sync_error"), 1);
  kv.add("push in flight", yes_no(field(cp, "push_in_flight")), 1);
  kv.add("queued changes", cell(cp, "queued_changes"), 1);
  kv.add("pushes", cell(cp, "transactions_pushed") + " transactions carrying " +
                       cell(cp, "changes_pushed") + " changes",
         1);
  const json& audit = field(cp, "audit_log");
  if (audit.is_object()) {
    const json& path = field(audit, "path");
    std::string shown = "none (--audit-log not set)";
    if (!path.is_null()) {
      shown = cell(path) + " (" + cell(audit, "write_errors") + " write errors";
      // A file deleted under the daemon is created again; say how often
      // (and how often it was rotated) once it happened.
      if (audit.value("reopened", 0) != 0) shown += ", " + cell(audit, "reopened") + " re-created";
      if (audit.value("rotations", 0) != 0) shown += ", " + cell(audit, "rotations") + " rotations";
      shown += ")";
    }
    kv.add("audit log", shown, 1);
  }
  // The control API's cap and idle timeout at work.
  const json& api = field(cp, "api");
  if (api.is_object()) {
    kv.add("api clients", cell(api, "connections") + " of " + cell(api, "max_clients") + " (" +
                              cell(api, "refused_busy") + " refused at the cap, " +
                              cell(api, "evicted_idle") + " idle closed for room, " +
                              cell(api, "idle_timeouts") + " idle timeouts)",
           1);
  }
  // A control plane that started without state took the dataplane's.
  const json& adopted = field(cp, "adopted");
  if (adopted.is_object()) {
    kv.add("adopted", cell(adopted, "vips") + " VIPs, " + cell(adopted, "backends") +
                          " backends from lb-dataplane pid " + cell(adopted, "pid") + " at " +
                          cell(adopted, "at"),
           1);
  }
  // Health checking at a glance (health_monitor.h's status_view).
  const json& health = field(cp, "health");
  if (health.is_object()) {
    std::string shown = cell(health, "backends_checked") + " backends checked, " +
                        cell(health, "unknown") + " unknown, " + cell(health, "unhealthy") +
                        " unhealthy, " + cell(health, "removed") + " removed, " +
                        cell(health, "degraded_vips") + " VIPs degraded (" +
                        cell(health, "cap_holds") + " kept in by the cap), " +
                        cell(health, "transitions") + " transitions, " +
                        cell(health, "passive_probes") + " probes on passive signals";
    const json& iface = field(health, "tunnel_iface");
    shown += iface.is_string() ? ", tunnel probes via " + cell(iface) : ", no tunnel probes";
    kv.add("health", shown, 1);
  }
  add_unknown(kv, cp,
              {"uptime_s", "state_file", "vips", "backends", "config_digest", "in_sync",
               "sync_error", "push_in_flight", "queued_changes", "transactions_pushed",
               "changes_pushed", "audit_log", "adopted", "api", "health"},
              1);
  add_bgp_status(kv, field(result, "bgp"));
  return kv.render();
}

std::string render_bgp_show(const json& result) {
  if (field(result, "enabled") != true) {
    return "BGP is off: lb-controlplane runs without --bird-socket\n";
  }
  KeyValues kv;
  const json& bird = field(result, "bird");
  const json& connected = field(bird, "connected");
  kv.add("bird", connected == true ? "connected, version " + cell(bird, "version") : "not connected");
  kv.add("socket", cell(bird, "socket"), 1);
  kv.add("include file", cell(bird, "include_file"), 1);
  kv.add("liveness device", cell(bird, "liveness_iface"), 1);
  kv.add("applied", yes_no(field(bird, "applied")) + " (" + cell(bird, "configures") +
                        " configures, " + cell(bird, "reconnects") + " reconnections)",
         1);
  for (const char* key : {"error", "file_error"}) {
    const json& e = field(bird, key);
    if (e.is_string() && !e.get<std::string>().empty()) kv.add(key, cell(e), 1);
  }
  const json& host = field(result, "host");
  kv.add("host", cell(host, "state"));
  kv.add("hold-down", cell(result, "hold_down_s") + " s", 1);
  std::string text = kv.render();

  Table sessions({{"session"}, {"protocol"}, {"state"}, {"info"}});
  for (const json& p : array_field(bird, "sessions")) {
    sessions.add_row({cell(p, "name"), cell(p, "protocol"), cell(p, "state"), cell(p, "info")});
  }
  if (sessions.rows() != 0) {
    text += '\n';
    text += sessions.render();
  }

  Table vips({{"vip"}, {"prefix"}, {"announced"}, {"backends", Table::Align::kRight},
              {"reason"}});
  for (const json& v : array_field(result, "vips")) {
    vips.add_row({cell(v, "vip"), cell(v, "prefix"), yes_no(field(v, "announced")),
                  cell(v, "serving_backends") + "/" + cell(v, "backends") + " (min " +
                      cell(v, "min_healthy") + ")",
                  cell(v, "reason")});
  }
  text += '\n';
  text += vips.render();
  return text;
}

std::string render_stats(const json& result) {
  const json& attached = field(result, "attached");
  if (attached.is_boolean() && !attached.get<bool>()) {
    return "no dataplane attached: no counters to show (run 'lbctl status' to see why)\n";
  }
  const json& counters = field(result, "counters");
  Table t({{"counter"}, {"value", Table::Align::kRight}});
  std::set<std::string> rest;
  if (counters.is_object()) {
    for (const auto& item : counters.items()) rest.insert(item.key());
  }
  for (const CounterInfo& info : kCounterInfo) {
    if (rest.erase(info.name) != 0) t.add_row({info.name, cell(counters, info.name)});
  }
  for (const std::string& name : rest) t.add_row({name, cell(counters, name.c_str())});
  std::string out = t.render();
  // The AF_XDP steering program's counters: what it gave the dataplane and
  // what it left to the kernel.
  const json& xdp = field(result, "xdp");
  if (xdp.is_array() && !xdp.empty()) {
    Table x({{"xdp steering"}, {"value", Table::Align::kRight}});
    for (const json& port : xdp) {
      const std::string prefix = "port " + cell(port, "port_id") + " ";
      for (const PortStatInfo& info : kXdpStatInfo) {
        x.add_row({prefix + info.field, cell(port, info.field)});
      }
      x.add_row({prefix + "vip_keys", cell(port, "vip_keys")});
      x.add_row({prefix + "sync_errors", cell(port, "sync_errors")});
    }
    out += "\n" + x.render();
  }
  return out;
}

std::string render_flow_explain(const json& result, const std::string& flow) {
  KeyValues kv;
  kv.add("flow", flow);
  kv.add("vip", cell(result, "vip"));
  const bool host_local = result.value("host_local", false);
  kv.add("scheduler", cell(result, "scheduler") + (host_local ? " (host-local)" : ""));
  kv.add("hash", cell(result, "hash"));
  kv.add("table size", cell(result, "table_size"));
  kv.add("slot", cell(result, "slot"));
  auto describe = [](const json& be) {
    if (!be.contains("name")) return "id " + cell(be, "id") + " (no longer in the VIP)";
    return cell(be, "name") + " (id " + cell(be, "id") + ", " + cell(be, "address") + ")";
  };
  const json& be = field(result, "backend");
  if (host_local) {
    kv.add("backend", "chosen at the flow's first packet by the worker that sees it");
  } else {
    kv.add("backend", be.is_object() ? describe(be)
                                     : std::string("none (no backend of this VIP takes new flows)"));
  }
  if (result.contains("existing_flow_backend")) {
    const json& ex = field(result, "existing_flow_backend");
    kv.add("under way",
           ex.is_object() ? describe(ex) : std::string("none (no backend takes it)"));
  }
  if (result.contains("connection_table")) {
    const json& ct = field(result, "connection_table");
    const json& entries = field(ct, "entries");
    std::string summary = std::to_string(entries.is_array() ? entries.size() : 0) +
                          " entries on " + cell(ct, "workers_answered") + " of " +
                          cell(ct, "workers") + " workers";
    kv.add("entries", summary);
    if (entries.is_array()) {
      for (const json& e : entries) {
        kv.add("  worker " + cell(e, "worker"),
               cell(e, "state") + " -> " + describe(field(e, "backend")) + ", idle " +
                   cell(e, "idle_ms") + " ms, expires in " + cell(e, "expires_in_ms") + " ms");
      }
    }
  }
  add_unknown(kv, result,
              {"vip", "scheduler", "host_local", "hash", "table_size", "slot", "backend",
               "existing_flow_backend", "connection_table"},
              0);
  return kv.render();
}

}  // namespace sluice::lbctl
