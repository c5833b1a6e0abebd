#include "tools/bench/report.h"

#include <rte_cycles.h>
#include <rte_version.h>
#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace sluice::bench {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}


namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

// "fwd 100% hit 100%": the counters a path moves, as shares of the packets.
std::string verdict_text(const Figure& f) {
  static const std::vector<std::pair<const char*, const char*>> shown = {
      {"floor_forwarded", "floor"},    {"fwd_packets", "fwd"},
      {"fwd_icmp_errors", "icmp-fwd"}, {"not_for_us", "not-for-us"},
      {"conn_hits", "hit"},            {"conn_misses", "miss"},
      {"conn_misses_non_syn", "miss-mid"},
      {"new_flows", "new"},            {"conn_inserts", "ins"},
      {"conn_insert_failed", "ins-fail"}, {"conn_insert_capped", "capped"},
      {"conn_replaced_half_open", "repl-half-open"}};
  std::string out;
  if (f.measured_packets == 0) return out;
  const auto value = [&f](const char* counter) -> uint64_t {
    const auto it = f.verdicts.find(counter);
    return it == f.verdicts.end() ? 0 : it->second;
  };
  const auto add = [&out](const char* label, uint64_t part, uint64_t whole,
                          const char* precision = "%.1f%%") {
    if (whole == 0) return;
    const double share = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
    out += out.empty() ? "" : " ";
    out += label;
    out += " ";
    out += part == whole ? std::string("100%") : fmt(precision, share);
  };
  for (const auto& [counter, label] : shown) {
    if (f.verdicts.count(counter) != 0) add(label, value(counter), f.measured_packets);
  }
  // The flood: established flows' packets that found their entry (the
  // verdict check holds hits + non-SYN misses to the ACKs sent), and the
  // established flows still in their entries after each pass.
  if (f.verdicts.count("established_flows") != 0) {
    add("est-hit", value("conn_hits"), value("conn_hits") + value("conn_misses_non_syn"),
        "%.3f%%");
    add("est-kept", value("established_found_after"), value("established_flows"), "%.3f%%");
  }
  if (f.verdicts.count("to_draining_backend") != 0) {
    add("to-draining", value("to_draining_backend"), f.measured_packets, "%.2f%%");
  }
  return out;
}

std::string count(uint64_t n) {
  if (n >= 1000000 && n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

std::string timing(const Figure& f) {
  if (!f.error.empty()) return "VERDICT FAILED";
  char buf[128];
  std::snprintf(buf, sizeof buf, "%7.1f (%5.1f-%5.1f) %7.1f %7.2f %7s", f.ns.median, f.ns.min,
                f.ns.max, f.cycles.median, f.mpps,
                f.floor_ns > 0 ? fmt("%.2f", f.ns.median / f.floor_ns).c_str() : "-");
  return buf;
}

const char* kTimingHeader = "ns/packet (min-max)    cycles    Mpps x floor";

void scenario_table(std::ostringstream& out, const Results& r) {
  out << "\nScenarios (64-byte frames: IPv4 60 B + FCS; IPv6 74 B, ICMP errors 70/110 B)\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-8s %-6s %8s %8s %s  %s\n", "scenario", "variant",
                "io", "flows", "in table", kTimingHeader, "verdicts");
  out << line;
  for (const Figure& f : r.figures) {
    if (f.section != "scenarios") continue;
    std::snprintf(line, sizeof line, "%-16s %-8s %-6s %8s %8s %s  %s\n", f.name.c_str(),
                  f.variant.c_str(), f.io.c_str(), count(f.flows).c_str(),
                  f.flows_in_table ? count(f.flows_in_table).c_str() : "-", timing(f).c_str(),
                  verdict_text(f).c_str());
    out << line;
  }
}

void sweep_table(std::ostringstream& out, const Results& r, const std::string& section,
                 const std::string& title) {
  bool any = false;
  for (const Figure& f : r.figures) any |= f.section == section;
  if (!any) return;
  out << "\n" << title << "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-8s %6s %8s %6s %8s %8s %s  %s\n", "workload",
                "variant", "VIPs", "backends", "M", "flows", "entries", kTimingHeader,
                "verdicts");
  out << line;
  for (const Figure& f : r.figures) {
    if (f.section != section) continue;
    std::snprintf(line, sizeof line, "%-12s %-8s %6s %8s %6u %8s %8s %s  %s\n", f.name.c_str(),
                  f.variant.c_str(), count(f.vips).c_str(), count(f.backends_per_vip).c_str(),
                  f.maglev_size, count(f.name == "established" ? f.flows_in_table : f.flows).c_str(),
                  count(f.table_entries).c_str(), timing(f).c_str(), verdict_text(f).c_str());
    out << line;
  }
}

nlohmann::ordered_json summary_json(const Summary& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"p99", s.p99}};
}

}  // namespace

std::map<std::string, std::string> describe_machine() {
  std::map<std::string, std::string> m;
  m["cpu"] = cpu_model();
  m["cores"] = std::to_string(std::thread::hardware_concurrency());
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release;
  m["dpdk"] = rte_version();
  m["compiler"] = std::string("g++ ") + __VERSION__;
  m["tsc_hz"] = std::to_string(rte_get_tsc_hz());
  m["transparent_hugepages"] = read_first_line("/sys/kernel/mm/transparent_hugepage/enabled");
  // Other work on the host shows up here and in the preempted rounds.
  m["loadavg_at_start"] = read_first_line("/proc/loadavg");
  return m;
}

std::string text_report(const Results& r) {
  std::ostringstream out;
  const auto get = [](const std::map<std::string, std::string>& m, const char* k) {
    const auto it = m.find(k);
    return it == m.end() ? std::string("?") : it->second;
  };
  out << "lb-bench: sluice::dp::process_burst on one lcore\n";
  out << "machine: " << get(r.machine, "cpu") << ", " << get(r.machine, "cores") << " cores, "
      << get(r.machine, "kernel") << ", " << get(r.machine, "dpdk") << ", "
      << get(r.machine, "compiler") << ", TSC "
      << fmt("%.3f", std::stod(get(r.machine, "tsc_hz")) / 1e9) << " GHz; load average at start "
      << get(r.machine, "loadavg_at_start").substr(0, 14) << "\n";
  out << "run: " << get(r.settings, "reps") << " repetitions x " << get(r.settings, "packets")
      << " packets, burst " << get(r.settings, "burst") << ", window "
      << get(r.settings, "window") << " mbufs" << (get(r.settings, "quick") == "true" ? ", --quick" : "")
      << "; median (min-max) of the repetitions; x floor = ratio to the floor of the same family and io\n";
  scenario_table(out, r);
  sweep_table(out, r, "sweep-flows", "Sweep: established flows in the table (random order, one table size)");
  sweep_table(out, r, "sweep-vips", "Sweep: VIPs (10 backends each, Maglev M=1021)");
  sweep_table(out, r, "sweep-backends", "Sweep: backends per VIP (IPv6 backends)");
  if (!r.maglev.empty()) {
    out << "\nMaglev table build (maglev_build)\n";
    for (const MaglevFigure& m : r.maglev) {
      out << fmt("  M=%-7.0f", m.table_size) << fmt(" %6.0f backends: ", m.backends)
          << fmt("%.3f ms", m.ms.median) << fmt(" (%.3f-", m.ms.min) << fmt("%.3f)\n", m.ms.max);
    }
  }
  if (r.have_memory) {
    const MemoryFigure& m = r.memory;
    out << "\nConnection table memory\n"
        << "  " << fmt("%.0f", m.entry_bytes) << " bytes per entry (" << m.bucket_bytes
        << "-byte bucket of " << m.entries_per_bucket << " entries)\n"
        << "  default table (flows_per_lcore " << m.default_flows << "): " << m.default_entries
        << " entries, " << fmt("%.1f", static_cast<double>(m.default_bytes) / (1 << 20))
        << " MiB per worker lcore; counters " << fmt("%.2f", static_cast<double>(m.counter_bytes) / (1 << 20))
        << " MiB per worker lcore at default limits\n";
  }
  if (!r.changes.empty()) {
    out << "\nTable change at scale, through the shared-memory command ring to the acknowledgement\n"
        << "  (ControlChannel polled as lb-dataplane's main lcore does; builds on its builder thread)\n";
    for (const ChangeFigure& c : r.changes) {
      out << "  " << c.vips << " VIPs x " << c.backends_per_vip << " backends, M=" << c.table_size
          << ": all in one transaction " << fmt("%.1f ms", c.initial_apply_ms)
          << fmt(" (oldest heartbeat %.1f ms", c.initial_max_heartbeat_ms)
          << (c.initial_apply_2threads_ms > 0
                  ? fmt("; %.1f ms with 2 build threads)", c.initial_apply_2threads_ms)
                  : std::string(")"))
          << "; one backend's state as a delta " << fmt("%.0f us", c.delta_wall_us.median)
          << fmt(" median, %.0f us p99", c.delta_wall_us.p99)
          << fmt(" (build %.0f us)", c.delta_build_us.median) << " over " << c.reps
          << " changes; as the whole state " << fmt("%.0f us", c.whole_wall_us.median)
          << " median over " << c.whole_reps << "\n";
    }
  }
  if (!r.targets.empty()) {
    out << "\nTargets (reported, never asserted)\n";
    char line[512];
    for (const TargetResult& t : r.targets) {
      const std::string measured =
          t.unit == "x" ? fmt("%.2fx", t.measured) : fmt("%.2f ", t.measured) + t.unit;
      std::snprintf(line, sizeof line, "  %-44s %-8s %12s  target %-18s %s%s\n", t.what.c_str(),
                    t.variant.c_str(), measured.c_str(), t.target.c_str(),
                    t.met ? "met" : "MISSED", t.note.empty() ? "" : ("  (" + t.note + ")").c_str());
      out << line;
    }
  }
  uint64_t checked = 0, rounds = 0, preempted = 0;
  for (const Figure& f : r.figures) {
    checked += f.measured_packets;
    rounds += f.rounds;
    preempted += f.preempted_rounds;
  }
  out << "\nTimed rounds: " << rounds << ", of which " << preempted
      << " were left out of the timing because the thread was switched out.\n";
  if (r.failures.empty()) {
    out << "Verdicts: every figure's packets took the path they claim (" << r.figures.size()
        << " figures, " << checked << " timed packets checked).\n";
  } else {
    out << "VERDICT FAILURES (" << r.failures.size() << "):\n";
    for (const std::string& f : r.failures) out << "  " << f << "\n";
  }
  out << fmt("Run time %.1f s.\n", r.wall_seconds);
  return out.str();
}

std::string json_report(const Results& r) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["tool"] = "lb-bench";
  j["machine"] = r.machine;
  j["settings"] = r.settings;
  const auto figure_json = [](const Figure& f) {
    ordered_json x;
    x["name"] = f.name;
    x["variant"] = f.variant;
    x["family"] = f.family;
    x["encap"] = f.encap;
    x["io"] = f.io;
    x["flows"] = f.flows;
    x["flows_in_table"] = f.flows_in_table;
    x["vips"] = f.vips;
    x["backends_per_vip"] = f.backends_per_vip;
    x["maglev_size"] = f.maglev_size;
    x["conn_table_entries"] = f.table_entries;
    x["frame_bytes"] = f.frame_bytes;
    x["packets_per_rep"] = f.packets_per_rep;
    x["reps"] = f.ns_per_packet.size();
    x["ns_per_packet"] = summary_json(f.ns);
    x["cycles_per_packet"] = summary_json(f.cycles);
    x["mpps"] = f.mpps;
    x["floor_ratio"] = f.floor_ns > 0 ? ordered_json(f.ns.median / f.floor_ns) : ordered_json();
    x["ns_per_packet_reps"] = f.ns_per_packet;
    x["rounds"] = f.rounds;
    x["preempted_rounds_excluded"] = f.preempted_rounds;
    x["verdicts"] = f.verdicts;
    x["verdict_ok"] = f.error.empty();
    if (!f.error.empty()) x["error"] = f.error;
    return x;
  };
  ordered_json scenarios = ordered_json::array();
  ordered_json sweeps = ordered_json::object();
  for (const char* s : {"sweep-flows", "sweep-vips", "sweep-backends"}) {
    sweeps[s] = ordered_json::array();
  }
  for (const Figure& f : r.figures) {
    if (f.section == "scenarios") {
      scenarios.push_back(figure_json(f));
    } else {
      sweeps[f.section].push_back(figure_json(f));
    }
  }
  j["scenarios"] = scenarios;
  j["sweeps"] = sweeps;
  ordered_json maglev = ordered_json::array();
  for (const MaglevFigure& m : r.maglev) {
    maglev.push_back({{"table_size", m.table_size}, {"backends", m.backends},
                      {"ms", summary_json(m.ms)}});
  }
  j["maglev_build"] = maglev;
  if (r.have_memory) {
    const MemoryFigure& m = r.memory;
    j["conn_memory"] = {{"bytes_per_entry", m.entry_bytes},
                        {"bucket_bytes", m.bucket_bytes},
                        {"entries_per_bucket", m.entries_per_bucket},
                        {"default_flows_per_lcore", m.default_flows},
                        {"default_entries", m.default_entries},
                        {"default_bytes", m.default_bytes},
                        {"counter_bytes_per_lcore", m.counter_bytes}};
  }
  if (!r.changes.empty()) {
    ordered_json changes = ordered_json::array();
    for (const ChangeFigure& c : r.changes) {
      changes.push_back({{"vips", c.vips},
                         {"backends_per_vip", c.backends_per_vip},
                         {"table_size", c.table_size},
                         {"initial_apply_ms", c.initial_apply_ms},
                         {"initial_max_heartbeat_ms", c.initial_max_heartbeat_ms},
                         {"initial_apply_2threads_ms", c.initial_apply_2threads_ms},
                         {"delta_changes", c.reps},
                         {"delta_wall_us", summary_json(c.delta_wall_us)},
                         {"delta_build_us", summary_json(c.delta_build_us)},
                         {"whole_state_changes", c.whole_reps},
                         {"whole_state_wall_us", summary_json(c.whole_wall_us)}});
    }
    j["table_change"] = std::move(changes);
  }
  ordered_json targets = ordered_json::array();
  for (const TargetResult& t : r.targets) {
    targets.push_back({{"target", t.what},
                       {"variant", t.variant},
                       {"limit", t.target},
                       {"measured", t.measured},
                       {"unit", t.unit},
                       {"met", t.met},
                       {"note", t.note}});
  }
  j["targets"] = targets;
  j["verdict_failures"] = r.failures;
  j["ok"] = r.failures.empty();
  j["wall_seconds"] = r.wall_seconds;
  return j.dump(2);
}

}  // namespace sluice::bench
