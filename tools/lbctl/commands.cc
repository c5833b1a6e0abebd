#include "tools/lbctl/commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/output.h"
#include "tools/lbctl/values.h"

namespace sluice::lbctl {

namespace {

constexpr uint64_t kMaxUint32 = 0xffffffffu;

// What to tell the operator when the daemon refuses a request; empty strings
// fall back to a hint that names the command's --help.
struct Hints {
  std::string vip_list = "run 'lbctl vip list' to see the VIPs";
  std::string backend_list;  // backend commands only
  std::string invalid;
};

// A value the operator typed did not parse: exit 3 before any request.
[[noreturn]] void invalid_input(const Invocation& inv, const std::string& message,
                                std::string hint = {}) {
  if (hint.empty()) {
    hint = "run '" + command_name(*inv.command) + " --help' for the accepted values";
  }
  throw CliError(Exit::kInvalid, message, hint);
}

// Parses a VIP key argument and returns its canonical form.
std::string vip_key_arg(const Invocation& inv, size_t index) {
  VipKey key;
  if (std::string e = parse_vip_key(inv.arg(index), key); !e.empty()) {
    invalid_input(inv, e, kVipKeyHint);
  }
  return format_vip_key(key);
}

uint64_t uint_value(const Invocation& inv, const char* what, const std::string& text) {
  uint64_t v = 0;
  if (std::string e = parse_uint(what, text, kMaxUint32, v); !e.empty()) invalid_input(inv, e);
  return v;
}

// A successful answer: its result, and whether it says the change is not in
// a dataplane yet ("dataplane": "not attached", which lb-controlplane puts
// in the envelope next to "result"; accepted inside the result too).
struct Answer {
  json result;
  bool not_attached = false;
};

bool says_not_attached(const json& object) {
  const auto it = object.find("dataplane");
  return it != object.end() && it->is_string() && it->get<std::string>() == "not attached";
}

// Sends `request`; returns the answer or throws the daemon's error with its
// exit code and a hint.
Answer call(const Invocation& inv, ApiClient& client, const json& request, const Hints& hints) {
  const json answer = client.call(request);
  if (answer["ok"].get<bool>()) {
    return {answer["result"], says_not_attached(answer) || says_not_attached(answer["result"])};
  }

  const json& error = answer["error"];
  const std::string code = error["code"].get<std::string>();
  const std::string message = error["message"].get<std::string>();
  const std::string field = error.contains("field") && error["field"].is_string()
                                ? error["field"].get<std::string>()
                                : "";
  const std::string help = "run '" + command_name(*inv.command) + " --help'";
  const Exit exit = exit_for_daemon_code(code);
  // Backend commands name a VIP and a backend: the one at fault decides which
  // list the hint points to ("field" is "vip", "name", "backend.name"...).
  const bool about_backend = !hints.backend_list.empty() &&
                             (field.empty() ? message.find("backend") != std::string::npos
                                            : field.find("name") != std::string::npos ||
                                                  field.find("backend") != std::string::npos);
  std::string hint;
  switch (exit) {
    case Exit::kNotFound:
      hint = about_backend ? hints.backend_list : hints.vip_list;
      break;
    case Exit::kInvalid:
      if (!hints.invalid.empty()) {
        hint = hints.invalid;
      } else if (message.find("already") != std::string::npos) {  // a duplicate
        hint = about_backend ? hints.backend_list : hints.vip_list;
      } else {
        hint = help + " for the accepted values";
      }
      break;
    case Exit::kUsage:
      hint = help +
             " for usage (if the command line is right, lbctl and lb-controlplane may be "
             "from different versions)";
      break;
    case Exit::kDataplane:
      // The contract says nothing changed; say so unless the message does.
      hint = message.find("nothing changed") == std::string::npos ? "nothing changed; " : "";
      hint += "run 'lbctl status' to check the dataplane, then retry";
      break;
    case Exit::kPending:
      hint = "do not retry: the change is the desired state already; 'lbctl status' shows when "
             "the dataplane is in sync";
      break;
    default:
      hint = "see lb-controlplane's log (error code '" + code + "')";
      break;
  }
  throw CliError(exit, message, hint);
}

// A mutation's output: the result object for machines, or one line saying
// what was done (plus a note when the change is not in the dataplane yet).
void print_mutation(const Invocation& inv, const Answer& answer, const std::string& done,
                    std::string& out) {
  if (inv.globals.output == OutputFormat::kJson) {
    out += json_text(answer.result);
    return;
  }
  out += done + "\n";
  if (answer.not_attached) {
    out +=
        "note: no dataplane is attached; the state is saved and will be pushed when one "
        "attaches\n";
  }
}

void print_read(const Invocation& inv, const json& result, std::string (*render)(const json&),
                std::string& out) {
  out += inv.globals.output == OutputFormat::kJson ? json_text(result) : render(result);
}

// The view inside a result ({"vip": {...}}), or an empty object.
json view(const json& result, const char* key) {
  const auto it = result.find(key);
  return it != result.end() && it->is_object() ? *it : json::object();
}

Hints backend_hints(const std::string& vip) {
  Hints h;
  h.backend_list = "run 'lbctl backend list " + vip + "' to see its backends";
  return h;
}

// Reads FILE ('-': standard input) and parses it as JSON; exit 3 with the
// position of a syntax error, without contacting the daemon.
json read_config_file(const Invocation& inv, const std::string& path) {
  std::string text;
  const std::string name = path == "-" ? "<stdin>" : path;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw CliError(Exit::kInvalid, "cannot read " + path + ": " + std::strerror(errno),
                     "give the path of a configuration file with -f");
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
      throw CliError(Exit::kInvalid, "cannot read " + path + ": " + std::strerror(errno));
    }
  }
  const std::string hint =
      "fix the file; 'lbctl config export' prints a valid configuration to start from";
  json config;
  if (std::string e = parse_json_text(name, text, config); !e.empty()) {
    invalid_input(inv, e, hint);
  }
  if (!config.is_object()) {
    invalid_input(
        inv,
        name + ": not a configuration: the top level must be an object, " + "{\"vips\": [...]}",
        hint);
  }
  return config;
}

Hints config_hints(const Invocation& inv, const std::string& path) {
  Hints h;
  const std::string name = path == "-" ? std::string("the configuration") : path;
  if (std::string(inv.command->verb) == "check") {
    h.invalid = "fix " + name + " and check it again";
  } else {
    h.invalid = "fix " + name + " and check it with 'lbctl config check -f " +
                (path == "-" ? std::string("FILE") : path) + "'";
  }
  return h;
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

uint64_t count(const json& result, const char* key) {
  const auto it = result.find(key);
  return it != result.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

void set_backend(const Invocation& inv, ApiClient& client, std::string& out, const char* state,
                 const char* meaning) {
  const std::string vip = vip_key_arg(inv, 0);
  const Answer answer = call(
      inv, client, {{"op", "backend.set"}, {"vip", vip}, {"name", inv.arg(1)}, {"state", state}},
      backend_hints(vip));
  print_mutation(inv, answer, "backend " + inv.arg(1) + " of VIP " + vip + " is " + state + meaning,
                 out);
}

// --scheduler, --no-backend and --slow-start into a vip.add "vip" or a
// vip.set request; the names are checked here, the rest by the daemon.
void add_vip_policy(const Invocation& inv, json& request) {
  if (const auto s = inv.option("scheduler")) {
    std::string name;
    if (std::string e = parse_scheduler_name(*s, name); !e.empty()) invalid_input(inv, e);
    request["scheduler"] = name;
  }
  if (const auto n = inv.option("no-backend")) {
    std::string name;
    if (std::string e = parse_no_backend_name(*n, name); !e.empty()) invalid_input(inv, e);
    request["no_backend"] = name;
  }
  if (const auto s = inv.option("slow-start")) {
    request["slow_start"] = uint_value(inv, "slow start", *s);
  }
}

// "scheduler least-connections (host-local), no backend: reset, slow start 30 s"
std::string policy_summary(const json& v) {
  std::string s = "scheduler " + cell(v, "scheduler");
  if (v.value("host_local", false)) s += " (host-local)";
  s += ", no backend: " + cell(v, "no_backend");
  s += ", slow start ";
  s += v.value("slow_start", 0) == 0 ? std::string("off") : cell(v, "slow_start") + " s";
  return s;
}

}  // namespace

void cmd_vip_set(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  json request = {{"op", "vip.set"}, {"vip", vip}};
  add_vip_policy(inv, request);
  if (request.size() == 2) {
    invalid_input(inv, "nothing to set: give --scheduler, --no-backend and/or --slow-start");
  }
  const Answer answer = call(inv, client, request, Hints{});
  print_mutation(inv, answer, "VIP " + vip + ": " + policy_summary(view(answer.result, "vip")),
                 out);
}

void cmd_vip_add(const Invocation& inv, ApiClient& client, std::string& out) {
  VipKey key;
  if (std::string e = parse_vip_key(inv.arg(0), key); !e.empty()) {
    invalid_input(inv, e, kVipKeyHint);
  }
  json vip = {
      {"address", format_ip_address(key.address)}, {"port", key.port}, {"protocol", key.protocol}};
  if (const auto encap = inv.option("encap")) {
    std::string name;
    if (std::string e = parse_encap(*encap, name); !e.empty()) invalid_input(inv, e);
    vip["encap"] = name;
  }
  if (const auto size = inv.option("table-size")) {
    vip["table_size"] = uint_value(inv, "table size", *size);
  }
  add_vip_policy(inv, vip);
  if (const auto n = inv.option("min-healthy")) vip["min_healthy"] = uint_value(inv, "min-healthy", *n);
  const Answer answer = call(inv, client, {{"op", "vip.add"}, {"vip", vip}}, Hints{});
  const json v = view(answer.result, "vip");
  std::string what = "added VIP " + (v.contains("key") ? cell(v, "key") : format_vip_key(key)) +
                     " (id " + cell(v, "id") + ", encap " + cell(v, "encap") + ", table size " +
                     cell(v, "table_size");
  // The policy only when it is not the default, so the common answer stays short.
  if (v.value("scheduler", "maglev") != "maglev" || v.value("no_backend", "drop") != "drop" ||
      v.value("slow_start", 0) != 0) {
    what += ", " + policy_summary(v);
  }
  print_mutation(inv, answer, what + ")", out);
}

void cmd_vip_del(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  const Answer answer = call(inv, client, {{"op", "vip.del"}, {"vip", vip}}, Hints{});
  print_mutation(inv, answer, "deleted VIP " + vip, out);
}

void cmd_vip_list(const Invocation& inv, ApiClient& client, std::string& out) {
  print_read(inv, call(inv, client, {{"op", "vip.list"}}, Hints{}).result, render_vip_list, out);
}

void cmd_vip_show(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  print_read(inv, call(inv, client, {{"op", "vip.show"}, {"vip", vip}}, Hints{}).result,
             render_vip_show, out);
}

void cmd_backend_add(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  IpAddress address;
  if (std::string e = parse_address("backend address", inv.arg(2), address); !e.empty()) {
    invalid_input(inv, e);
  }
  json backend = {{"name", inv.arg(1)}, {"address", format_ip_address(address)}};
  if (const auto weight = inv.option("weight")) {
    backend["weight"] = uint_value(inv, "weight", *weight);
  }
  if (const auto state = inv.option("state")) {
    std::string name;
    if (std::string e = parse_backend_state(*state, name); !e.empty()) invalid_input(inv, e);
    backend["state"] = name;
  }
  if (inv.option("backup")) backend["backup"] = true;
  const Answer answer = call(
      inv, client, {{"op", "backend.add"}, {"vip", vip}, {"backend", backend}}, backend_hints(vip));
  const json b = view(answer.result, "backend");
  print_mutation(inv, answer,
                 "added " + std::string(b.value("backup", false) ? "backup " : "") + "backend " +
                     inv.arg(1) + " (" + cell(b, "address") + ", weight " + cell(b, "weight") +
                     ", " + cell(b, "state") + ") to VIP " + vip,
                 out);
}

void cmd_backend_del(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  const Answer answer = call(
      inv, client, {{"op", "backend.del"}, {"vip", vip}, {"name", inv.arg(1)}}, backend_hints(vip));
  print_mutation(inv, answer, "deleted backend " + inv.arg(1) + " from VIP " + vip, out);
}

void cmd_backend_set_weight(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  const uint64_t weight = uint_value(inv, "weight", inv.arg(2));
  const Answer answer = call(
      inv, client, {{"op", "backend.set"}, {"vip", vip}, {"name", inv.arg(1)}, {"weight", weight}},
      backend_hints(vip));
  const json b = view(answer.result, "backend");
  print_mutation(inv, answer,
                 "backend " + inv.arg(1) + " of VIP " + vip + " has weight " + cell(b, "weight"),
                 out);
}

void cmd_backend_drain(const Invocation& inv, ApiClient& client, std::string& out) {
  set_backend(inv, client, out, "draining",
              " (no new flows; flows under way stay on it until they end, with or without a "
              "connection-table entry; see 'lbctl help backend drain')");
}

void cmd_backend_enable(const Invocation& inv, ApiClient& client, std::string& out) {
  set_backend(inv, client, out, "active", "");
}

void cmd_backend_disable(const Invocation& inv, ApiClient& client, std::string& out) {
  set_backend(inv, client, out, "disabled", " (no traffic; its flows move to other backends)");
}

void cmd_backend_list(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string vip = vip_key_arg(inv, 0);
  print_read(inv, call(inv, client, {{"op", "backend.list"}, {"vip", vip}}, Hints{}).result,
             render_backend_list, out);
}

void cmd_config_apply(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string path = *inv.option("file");
  const json config = read_config_file(inv, path);
  json request = {{"op", "config.apply"}, {"config", config}};
  if (inv.option("allow-empty")) request["allow_empty"] = true;
  const Answer answer = call(inv, client, request, config_hints(inv, path));
  const std::string name = path == "-" ? "the configuration" : path;
  const json& result = answer.result;
  const auto changed = result.find("changed");
  std::string done;
  if (changed != result.end() && changed->is_boolean() && !changed->get<bool>()) {
    done = "applied " + name + ": nothing changed";
  } else {
    done = "applied " + name + ": " + plural(count(result, "vips_added"), "VIP", "VIPs") +
           " added, " + std::to_string(count(result, "vips_removed")) + " removed, " +
           std::to_string(count(result, "vips_changed")) + " changed";
  }
  print_mutation(inv, answer, done, out);
}

void cmd_config_check(const Invocation& inv, ApiClient& client, std::string& out) {
  const std::string path = *inv.option("file");
  const json config = read_config_file(inv, path);
  json request = {{"op", "config.check"}, {"config", config}};
  if (inv.option("allow-empty")) request["allow_empty"] = true;
  const Answer answer = call(inv, client, request, config_hints(inv, path));
  if (inv.globals.output == OutputFormat::kJson) {
    out += json_text(answer.result);
  } else {
    out += (path == "-" ? std::string("the configuration") : path) + " is valid\n";
  }
}

void cmd_config_export(const Invocation& inv, ApiClient& client, std::string& out) {
  json request = {{"op", "config.export"}};
  if (inv.option("applied")) request["applied"] = true;
  const Answer answer = call(inv, client, request, Hints{});
  // The table form is the file itself, ready for 'config apply -f'.
  out += json_text(inv.globals.output == OutputFormat::kJson ? answer.result
                                                             : view(answer.result, "config"));
}

void cmd_status(const Invocation& inv, ApiClient& client, std::string& out) {
  print_read(inv, call(inv, client, {{"op", "status"}}, Hints{}).result, render_status, out);
}

void cmd_flow_explain(const Invocation& inv, ApiClient& client, std::string& out) {
  IpAddress client_ip, vip;
  uint16_t client_port = 0, vip_port = 0;
  std::string protocol;
  for (std::string e :
       {parse_address("client address", inv.arg(0), client_ip),
        parse_port(inv.arg(1), client_port, "client port"),
        parse_address("VIP address", inv.arg(2), vip), parse_port(inv.arg(3), vip_port, "VIP port"),
        parse_protocol(inv.arg(4), protocol)}) {
    if (!e.empty()) invalid_input(inv, e);
  }
  const Answer answer = call(inv, client,
                             {{"op", "flow.explain"},
                              {"client", format_ip_address(client_ip)},
                              {"client_port", client_port},
                              {"vip", format_ip_address(vip)},
                              {"vip_port", vip_port},
                              {"protocol", protocol}},
                             Hints{});
  if (inv.globals.output == OutputFormat::kJson) {
    out += json_text(answer.result);
  } else {
    out += render_flow_explain(answer.result, protocol + " " +
                                                  format_endpoint(client_ip, client_port) + " -> " +
                                                  format_endpoint(vip, vip_port));
  }
}

}  // namespace sluice::lbctl
