#include "tools/lbctl/health_commands.h"

#include "common/health_config.h"
#include "tools/lbctl/api_client.h"
#include "tools/lbctl/ask_daemon.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/output.h"
#include "tools/lbctl/values.h"

namespace sluice::lbctl {

namespace {

[[noreturn]] void invalid(const Invocation& inv, const std::string& message) {
  throw CliError(Exit::kInvalid, message,
                 "run '" + command_name(*inv.command) + " --help' for the accepted values");
}

std::string vip_key(const Invocation& inv) {
  VipKey key;
  if (std::string e = parse_vip_key(inv.arg(0), key); !e.empty()) {
    throw CliError(Exit::kInvalid, e, kVipKeyHint);
  }
  return format_vip_key(key);
}

// Options whose values are numbers, by option name and API field.
struct NumberOption {
  const char* option;
  const char* field;
};
constexpr NumberOption kNumbers[] = {
    {"port", "port"},
    {"interval-ms", "interval_ms"},
    {"timeout-ms", "timeout_ms"},
    {"rise", "rise"},
    {"fall", "fall"},
    {"jitter-percent", "jitter_percent"},
    {"gue-port", "gue_port"},
    {"max-unhealthy-percent", "max_unhealthy_percent"},
    {"passive-threshold", "passive_threshold"},
};
struct TextOption {
  const char* option;
  const char* field;
};
constexpr TextOption kTexts[] = {
    {"kind", "kind"},       {"method", "method"},   {"path", "path"},     {"host", "host"},
    {"expect-body", "expect_body"}, {"payload", "payload"}, {"expect", "expect"},
};

std::string text_or_dash(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "-";
  return cell(*it);
}

}  // namespace

void cmd_health_set(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key(inv);
  json health = json::object();
  for (const NumberOption& n : kNumbers) {
    if (auto v = inv.option(n.option)) {
      uint64_t x = 0;
      if (std::string e = parse_uint(std::string("--") + n.option, *v, 0xffffffffu, x); !e.empty()) {
        invalid(inv, e);
      }
      health[n.field] = x;
    }
  }
  for (const TextOption& t : kTexts) {
    if (auto v = inv.option(t.option)) health[t.field] = *v;
  }
  if (auto v = inv.option("expect-status")) {
    json codes = json::array();
    size_t start = 0;
    while (start <= v->size()) {
      const size_t comma = v->find(',', start);
      const std::string part = v->substr(start, comma == std::string::npos ? std::string::npos
                                                                           : comma - start);
      uint64_t code = 0;
      if (std::string e = parse_uint("--expect-status", part, 599, code); !e.empty()) {
        invalid(inv, e);
      }
      codes.push_back(code);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    health["expect_status"] = codes;
  }
  if (auto v = inv.option("tunnel")) {
    if (*v != "on" && *v != "off") invalid(inv, "--tunnel '" + *v + "' is not on or off");
    health["tunnel"] = *v == "on";
  }
  json request = {{"op", "health.set"}, {"vip", vip}, {"health", health}};
  if (auto b = inv.option("backend")) request["backend"] = *b;
  if (inv.option("reset")) request["reset"] = true;
  if (health.empty() && !inv.option("reset")) {
    throw CliError(Exit::kUsage, "health set needs at least one field to set (or --reset)",
                   "run 'lbctl health set --help' for the fields");
  }
  const json result = ask_daemon(inv, client, request);
  if (inv.globals.output == OutputFormat::kJson) {
    out += json_text(result);
    return;
  }
  const json& check = result["check"];
  out += "health check of ";
  if (result.contains("backend")) out += "backend " + result["backend"].get<std::string>() + " of ";
  out += "VIP " + vip + ": " + cell(check, "kind");
  if (check.value("kind", "") != "none") {
    out += " port " + cell(check, "port") + ", every " + cell(check, "interval_ms") +
           " ms, timeout " + cell(check, "timeout_ms") + " ms, rise " + cell(check, "rise") +
           ", fall " + cell(check, "fall");
  }
  out += "\n";
}

void cmd_health_show(const Invocation& inv, ApiClient& client, std::string& out) {
  const json result = ask_daemon(inv, client, {{"op", "health.show"}, {"vip", vip_key(inv)}});
  out += inv.globals.output == OutputFormat::kJson ? json_text(result) : render_health_show(result);
}

std::string render_health_show(const json& result) {
  KeyValues kv;
  kv.add("vip", cell(result, "vip"));
  const json& check = result.contains("check") ? result["check"] : json::object();
  const bool configured = result.contains("configured") && !result["configured"].is_null();
  kv.add("check", cell(check, "kind") + (configured ? "" : " (no health object: not checked)"));
  static const char* const kOrder[] = {
      "port",        "interval_ms",   "timeout_ms", "rise",     "fall",
      "jitter_percent", "method",     "path",       "host",     "expect_status",
      "expect_body", "payload",       "expect",     "tunnel",   "gue_port",
      "max_unhealthy_percent", "passive_threshold"};
  const json& written = configured ? result["configured"] : json::object();
  for (const char* k : kOrder) {
    if (!check.contains(k)) continue;
    std::string value = text_or_dash(check, k);
    if (!written.contains(k) && check.value("kind", "") != "none") value += "  (default)";
    kv.add(std::string("  ") + k, value);
  }
  if (result.contains("status") && result["status"].is_object()) {
    const json& s = result["status"];
    std::string line = cell(s, "unhealthy") + " unhealthy, " + cell(s, "removed") + " removed";
    if (s.value("degraded", false)) {
      line += ", DEGRADED: " + cell(s, "held_by_cap") + " unhealthy kept in by the cap (" +
              cell(s, "max_unhealthy_percent") + "%)";
    }
    kv.add("status", line);
  }
  std::string out = kv.render();
  const json& backends = result.contains("backends") ? result["backends"] : json::array();
  if (!backends.empty()) {
    Table t({{"name"}, {"state"}, {"health"}, {"since"}, {"last_probe"}, {"latency_ms", Table::Align::kRight}, {"overrides"}});
    for (const json& be : backends) {
      t.add_row({cell(be, "name"), cell(be, "state"), cell(be, "health"),
                 cell(be, "health_since"), cell(be, "last_probe_result"),
                 cell(be, "last_probe_latency_ms"),
                 be.contains("overrides") && !be["overrides"].is_null()
                     ? be["overrides"].dump()
                     : "-"});
    }
    out += '\n';
    out += t.render();
  }
  return out;
}

}  // namespace sluice::lbctl
