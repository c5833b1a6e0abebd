#include "tools/lbctl/cli.h"

#include <algorithm>
#include <boost/program_options.hpp>

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/bgp_commands.h"
#include "tools/lbctl/commands.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/health_commands.h"
#include "tools/lbctl/stats_commands.h"
#include "tools/lbctl/values.h"

namespace sluice::lbctl {

namespace po = boost::program_options;

namespace {

constexpr const char* kVipKeyArgHelp =
    "the VIP: ADDRESS:PORT/PROTO, IPv6 in brackets, port 0 = all ports";
constexpr uint64_t kMaxTimeoutMs = 24ull * 3600 * 1000;

}  // namespace

// One command per block reads better than one field per line.
// clang-format off
const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> kCommands = {
      {"vip", "add", "Add a VIP (no backends yet)",
       "Adds a VIP. It forwards nothing until it has backends. The encapsulation\n"
       "and the Maglev table size are fixed for the VIP's life: to change them,\n"
       "delete the VIP and add it again, or use 'lbctl config apply'.\n"
       "Schedulers: maglev (default) and source-hash give every Sluice host the\n"
       "same choice, so a flow keeps its backend when ECMP moves it to another\n"
       "host. weighted-round-robin, least-connections and power-of-two are\n"
       "host-local: they decide on one host's state, and a flow that ECMP moves\n"
       "to another host may get another backend there.",
       {{"ADDRESS:PORT/PROTO", "the new VIP's key; port 0 makes an all-ports VIP"}},
       {{"encap", 0, "ipip|gue",
         "encapsulation toward the backends (default ipip;\n"
         "gue carries any address family mix)"},
        {"table-size", 0, "M",
         "Maglev table size, a prime from 7 to 16777213\n"
         "(default 65537); 100 times the number of backends or more"},
        {"scheduler", 0, "NAME",
         "how new flows pick a backend: maglev (default),\n"
         "source-hash, weighted-round-robin, least-connections\n"
         "or power-of-two (the last three are host-local)"},
        {"no-backend", 0, "ANSWER",
         "when no backend is usable: drop (default), reset\n"
         "(TCP RST; tcp VIPs) or unreachable (ICMP)"},
        {"slow-start", 0, "SECONDS",
         "ramp a backend that joins or returns from 10% to\n"
         "100% of its weight over this time (default 0: off)"},
        {"min-healthy", 0, "N",
         "BGP: announce the VIP's address only while at least N\n"
         "backends are active and healthy or unknown (default 1)"}},
       {"lbctl vip add 192.0.2.10:80/tcp",
        "lbctl vip add '[2001:db8::10]:53/udp' --encap gue --table-size 251",
        "lbctl vip add 192.0.2.20:0/udp",
        "lbctl vip add 192.0.2.10:443/tcp --scheduler least-connections"},
       cmd_vip_add},
      {"vip", "set", "Change a VIP's scheduler, no-backend answer or slow start",
       "Changes how a VIP schedules new flows, what it answers when no backend is\n"
       "usable, and its slow start. Flows under way keep their backends.\n"
       "weighted-round-robin, least-connections and power-of-two are host-local\n"
       "(see 'lbctl vip add --help').",
       {{"KEY", kVipKeyArgHelp}},
       {{"scheduler", 0, "NAME",
         "maglev, source-hash, weighted-round-robin,\n"
         "least-connections or power-of-two"},
        {"no-backend", 0, "ANSWER", "drop, reset (tcp VIPs) or unreachable"},
        {"slow-start", 0, "SECONDS", "0 (off) to 86400"}},
       {"lbctl vip set 192.0.2.10:80/tcp --scheduler weighted-round-robin",
        "lbctl vip set 192.0.2.10:80/tcp --no-backend reset --slow-start 30"},
       cmd_vip_set},
      {"vip", "del", "Delete a VIP and its backends",
       "Deletes a VIP and all its backends. Its traffic stops being forwarded.",
       {{"KEY", kVipKeyArgHelp}},
       {},
       {"lbctl vip del 192.0.2.10:80/tcp"},
       cmd_vip_del},
      {"vip", "list", "List the VIPs",
       "Lists the VIPs, sorted by key, with their encapsulation, Maglev table\n"
       "size and number of backends.",
       {},
       {},
       {"lbctl vip list", "lbctl vip list -o json"},
       cmd_vip_list},
      {"vip", "show", "Show a VIP, its backends and their counters",
       "Shows one VIP and its backends. With a dataplane attached it also shows\n"
       "the traffic counters (packets, bytes, new flows) of the VIP and of each\n"
       "backend, summed over the worker lcores.",
       {{"KEY", kVipKeyArgHelp}},
       {},
       {"lbctl vip show 192.0.2.10:80/tcp", "lbctl vip show '[2001:db8::10]:53/udp' -o json"},
       cmd_vip_show},
      {"backend", "add", "Add a backend to a VIP",
       "Adds a backend to a VIP. NAME is the backend's stable identity within the\n"
       "VIP (at most 192 characters of A-Z a-z 0-9 . _ : -): Maglev permutations\n"
       "come from it, so keep it when the address changes.",
       {{"VIPKEY", kVipKeyArgHelp},
        {"NAME", "the backend's name, unique within the VIP"},
        {"ADDRESS", "the backend's IPv4 or IPv6 address"}},
       {{"weight", 0, "W", "relative share of new flows, 0 to 1000000 (default 1)"},
        {"state", 0, "S", "active (default), draining or disabled"},
        {"backup", 0, nullptr,
         "a backup: new flows only while no primary backend\n"
         "of the VIP is usable"}},
       {"lbctl backend add 192.0.2.10:80/tcp web-1 198.51.100.1",
        "lbctl backend add 192.0.2.10:80/tcp web-2 198.51.100.2 --weight 2",
        "lbctl backend add '[2001:db8::10]:53/udp' dns-1 2001:db8::53 --state draining",
        "lbctl backend add 192.0.2.10:80/tcp spare-1 198.51.100.9 --backup"},
       cmd_backend_add},
      {"backend", "del", "Delete a backend from a VIP",
       "Deletes a backend. Its flows move to the VIP's other backends; to let\n"
       "them finish first, drain the backend and delete it later.",
       {{"VIPKEY", kVipKeyArgHelp}, {"NAME", "the backend's name"}},
       {},
       {"lbctl backend del 192.0.2.10:80/tcp web-1"},
       cmd_backend_del},
      {"backend", "set-weight", "Change a backend's weight",
       "Sets a backend's weight: its relative share of new flows (0: none).",
       {{"VIPKEY", kVipKeyArgHelp},
        {"NAME", "the backend's name"},
        {"W", "the new weight, 0 to 1000000"}},
       {},
       {"lbctl backend set-weight 192.0.2.10:80/tcp web-1 3"},
       cmd_backend_set_weight},
      {"backend", "drain", "Stop new flows to a backend; flows under way stay",
       "Sets a backend to draining: it gets no new flows (TCP SYNs, UDP flows\n"
       "that start), and every flow it carries stays on it until the flow ends:\n"
       "flows in a connection table by their entry, and flows that are not in one\n"
       "(the table was full, or lb-dataplane restarted) by the second-chance\n"
       "table, in which a draining backend keeps its Maglev turns.\n"
       "What a drain cannot keep: a flow idle past its idle timeout whose Maglev\n"
       "turn moved meanwhile for another reason (a backend added, removed,\n"
       "re-weighted or disabled), and a UDP flow that was not remembered (flood\n"
       "guard) more than a UDP idle timeout after lb-dataplane started.",
       {{"VIPKEY", kVipKeyArgHelp}, {"NAME", "the backend's name"}},
       {},
       {"lbctl backend drain 192.0.2.10:80/tcp web-1"},
       cmd_backend_drain},
      {"backend", "enable", "Return a backend to service (state active)",
       "Sets a backend to active: it takes new flows in proportion to its weight.",
       {{"VIPKEY", kVipKeyArgHelp}, {"NAME", "the backend's name"}},
       {},
       {"lbctl backend enable 192.0.2.10:80/tcp web-1"},
       cmd_backend_enable},
      {"backend", "disable", "Stop all traffic to a backend; its flows move",
       "Sets a backend to disabled: it gets no traffic at all, and its flows move\n"
       "to the VIP's other backends.",
       {{"VIPKEY", kVipKeyArgHelp}, {"NAME", "the backend's name"}},
       {},
       {"lbctl backend disable 192.0.2.10:80/tcp web-1"},
       cmd_backend_disable},
      {"backend", "list", "List a VIP's backends",
       "Lists a VIP's backends with their address, weight and state.",
       {{"VIPKEY", kVipKeyArgHelp}},
       {},
       {"lbctl backend list 192.0.2.10:80/tcp"},
       cmd_backend_list},
      {"config", "apply", "Make the running state equal to a configuration file",
       "Makes the running state equal to FILE, in one transaction: VIPs and\n"
       "backends are matched by key and name (keeping their ids, so established\n"
       "flows stay put), missing ones are removed, new ones added, changed ones\n"
       "updated. FILE has the shape 'lbctl config export' prints (the control\n"
       "plane's state file and lb-dataplane --static-config read the same\n"
       "document; ids in it are ignored here); '-' reads standard input. A file\n"
       "that is not JSON is refused before lb-controlplane is contacted. FILE\n"
       "must name \"vips\"; one with \"vips\": [] deletes every VIP and is refused\n"
       "unless --allow-empty says that is meant.",
       {},
       {{"file", 'f', "FILE", "the configuration file ('-' for standard input)", true},
        {"allow-empty", 0, nullptr, "accept a configuration without VIPs (deletes them all)"}},
       {"lbctl config export > sluice.json && lbctl config apply -f sluice.json"},
       cmd_config_apply},
      {"config", "check", "Validate a configuration file without applying it",
       "Checks that FILE could be applied: lb-controlplane validates it as a whole,\n"
       "exactly as 'config apply' would, and changes nothing.",
       {},
       {{"file", 'f', "FILE", "the configuration file ('-' for standard input)", true},
        {"allow-empty", 0, nullptr, "accept a configuration without VIPs (deletes them all)"}},
       {"lbctl config check -f sluice.json"},
       cmd_config_check},
      {"config", "export", "Print the running configuration",
       "Prints the running configuration in the declarative form 'config apply'\n"
       "takes, so that export followed by apply changes nothing. With -o json it\n"
       "prints the daemon's answer, {\"config\": ...}. With --applied it prints\n"
       "what the dataplane applies (read from its segment) instead of the control\n"
       "plane's desired state; the two are equal when 'lbctl status' says in sync.",
       {},
       {{"applied", 0, nullptr, "print the dataplane's applied configuration"}},
       {"lbctl config export > sluice.json", "lbctl config export --applied"},
       cmd_config_export},
      {"health", "set", "Change a VIP's health check (or one backend's overrides)",
       "Sets fields of the VIP's health check (README, \"Health checking\"); fields\n"
       "not given keep their value (--reset starts from the defaults). With\n"
       "--backend, sets that backend's overrides instead. A VIP without a check\n"
       "is not probed (kind none: its backends count as healthy). Defaults:\n"
       "interval 2000 ms, timeout 1000 ms, rise 2, fall 3, the VIP's port, and\n"
       "health may take out at most 50% of the VIP's active backends.",
       {{"VIPKEY", kVipKeyArgHelp}},
       {{"backend", 0, "NAME", "set this backend's overrides of the VIP's check"},
        {"kind", 0, "K", "none, tcp, http, https or udp"},
        {"port", 0, "P", "the port probed (default: the VIP's)"},
        {"interval-ms", 0, "MS", "time between probes, 100 to 3600000 (default 2000)"},
        {"timeout-ms", 0, "MS", "a probe's time limit, at most the interval (default 1000)"},
        {"rise", 0, "N", "passes in a row to become healthy (default 2)"},
        {"fall", 0, "N", "failures in a row to become unhealthy (default 3)"},
        {"jitter-percent", 0, "N", "spread of each interval, 0 to 50 (default 10)"},
        {"method", 0, "M", "http/https: GET (default), HEAD, POST or OPTIONS"},
        {"path", 0, "PATH", "http/https: the path asked for (default /)"},
        {"host", 0, "HOST", "http/https: the Host header (default: the address)"},
        {"expect-status", 0, "CODES", "http/https: accepted status codes, e.g. 200,204\n(default 200)"},
        {"expect-body", 0, "TEXT", "http/https: a substring the body must hold"},
        {"payload", 0, "TEXT", "udp: the datagram sent"},
        {"expect", 0, "TEXT", "udp: bytes the reply must hold (default: any reply)"},
        {"tunnel", 0, "on|off", "tcp/http: probe through the VIP's tunnel (needs\nlb-controlplane --health-tunnel-iface)"},
        {"gue-port", 0, "P", "tunnel probes of a GUE VIP: the GUE port (default 6080)"},
        {"max-unhealthy-percent", 0, "N", "the removal cap, 0 to 100 (default 50)"},
        {"passive-threshold", 0, "N", "SYN retries + non-SYN misses per interval that\ntrigger an immediate probe (0: off; default 10)"},
        {"reset", 0, nullptr, "start from the defaults instead of the current fields"}},
       {"lbctl health set 192.0.2.10:80/tcp --kind http --path /healthz",
        "lbctl health set 192.0.2.10:80/tcp --kind tcp --port 8080 --tunnel on",
        "lbctl health set 192.0.2.10:80/tcp --backend web-1 --port 8081"},
       cmd_health_set},
      {"health", "show", "Show a VIP's health check and its backends' health",
       "Shows the VIP's health check with every field (defaults marked), whether\n"
       "the VIP is degraded (more backends unhealthy than the removal cap lets\n"
       "health take out), and each backend's health, since when, its last probe\n"
       "and overrides.",
       {{"VIPKEY", kVipKeyArgHelp}},
       {},
       {"lbctl health show 192.0.2.10:80/tcp", "lbctl -o json health show 192.0.2.10:80/tcp"},
       cmd_health_show},
      {"status", "", "Show the state of the control plane and the dataplane",
       "Shows whether a dataplane is attached (instance, pid, boot id, table\n"
       "generation, worker lcores, uptime, heartbeat age, the digest of the\n"
       "configuration it applied, a build in progress with how many VIPs are\n"
       "built, table memory used and its budget, refused transactions, and each\n"
       "port: its DPDK name, driver, MAC, link state and speed, MTU) and the\n"
       "control plane's state (uptime, state file, VIP and backend counts, the\n"
       "digest of the desired configuration, whether the dataplane is in sync\n"
       "with it, pushes in flight, queued changes, how many changes the\n"
       "transactions pushed so far carried, and the audit log with its write\n"
       "errors: a line that cannot be written never blocks a change; it is\n"
       "counted here). Equal digests on both sides mean the dataplane forwards\n"
       "with exactly the desired configuration; equal digests on two hosts mean\n"
       "they make the same choices.",
       {},
       {},
       {"lbctl status", "lbctl status -o json"},
       cmd_status},
      {"stats", "", "Show counters (totals, per VIP and backend) or rates",
       "Shows every dataplane counter (packets received and forwarded, drops by\n"
       "reason, connection table activity) summed over the worker lcores, in the\n"
       "order of the dataplane's counter list, zeros included, then each VIP and\n"
       "its backends (packets, bytes, new flows) like 'ipvsadm -L -n --stats'.\n"
       "-o json adds each lcore's counters. Counters only go up; they start at 0\n"
       "when lb-dataplane starts. --rate shows per-second rates over two samples\n"
       "--interval seconds apart (like 'ipvsadm --rate'; bps in bits); -w repeats\n"
       "every SECONDS until interrupted. Without a dataplane it says so and exits\n"
       "0 (-o json: {\"attached\": false}).",
       {},
       {{"rate", 0, nullptr, "per-second rates instead of totals"},
        {"interval", 0, "SECONDS", "the rate's window (default 1, or -w's)"},
        {"watch", 'w', "SECONDS", "refresh every SECONDS until interrupted"}},
       {"lbctl stats", "lbctl stats --rate", "lbctl stats --rate -w 2", "lbctl stats -o json"},
       cmd_stats},
      {"log", "", "Show the audit log's recent lines",
       "Shows the last lines of the audit log (lb-controlplane --audit-log): one\n"
       "JSON line per change (time, who by uid, operation, before and after,\n"
       "generation) or transition. lb-controlplane keeps the last 1000 in memory,\n"
       "so this works while the file is lost. --follow keeps printing new lines\n"
       "until interrupted.",
       {},
       {{"lines", 'n', "N", "how many lines (default 20, at most 1000)"},
        {"follow", 0, nullptr, "keep printing new lines as they are written"}},
       {"lbctl log", "lbctl log -n 100", "lbctl log --follow"},
       cmd_log},
      {"flow", "explain", "Show a flow's backend and its connection-table entries",
       "Computes where a new flow goes, exactly as a worker picks a backend:\n"
       "the flow hash (with the dataplane's seed; 0 without a dataplane), the\n"
       "Maglev slot and its backend; and where a flow under way that no worker\n"
       "holds goes (the second-chance table: differs while a backend drains).\n"
       "With a dataplane attached it also asks every worker whether its\n"
       "connection table holds the flow: the entry's state (half-open,\n"
       "established, closing, udp), backend, time since its last packet, and\n"
       "time left before it expires.",
       {{"CLIENT_IP", "the client's address"},
        {"CLIENT_PORT", "the client's port"},
        {"VIP", "the VIP's address"},
        {"VIP_PORT", "the destination port (any port for an all-ports VIP)"},
        {"PROTO", "tcp or udp"}},
       {},
       {"lbctl flow explain 203.0.113.7 40000 192.0.2.10 80 tcp"},
       cmd_flow_explain},
      {"bgp", "show", "What this host announces over BGP, and why",
       "Shows the BGP announcements lb-controlplane makes through BIRD\n"
       "(--bird-socket): BIRD's connection and sessions, the host's state\n"
       "(serving, graceful-shutdown, withdrawn, drained) and, per VIP, whether\n"
       "its address is announced and why. An address is announced while the\n"
       "dataplane is alive, the VIP is in sync and at least min_healthy of its\n"
       "backends are healthy or not yet probed, for every VIP on it; once\n"
       "withdrawn it waits a hold-down (--bgp-hold-down) before it returns.",
       {},
       {},
       {"lbctl bgp show", "lbctl -o json bgp show"},
       cmd_bgp_show},
      {"host", "drain", "Planned stop: move traffic away, then withdraw",
       "Drains this host before maintenance: the routes are first tagged with\n"
       "the graceful-shutdown community (RFC 8326, 65535:0) so that routers\n"
       "prefer the other hosts while the routes still exist, then withdrawn;\n"
       "then lbctl waits until VIP traffic stops arriving (or --timeout) and\n"
       "reports the host drained. Flows that move keep their backend: every\n"
       "host picks the same one. The host stays drained (also across a control\n"
       "plane restart) until 'lbctl host undrain'.",
       {},
       {{"gshut-time", 0, "SECONDS", "how long the routes stay tagged before the\n"
                                     "withdrawal (default 5)"},
        {"timeout", 0, "SECONDS", "how long to wait for traffic to stop after the\n"
                                  "withdrawal (default 30)"}},
       {"lbctl host drain", "lbctl host drain --gshut-time 30 --timeout 120"},
       cmd_host_drain},
      {"host", "undrain", "Return a drained host to service",
       "Ends a drain: every VIP address that can serve is announced at once\n"
       "(no hold-down), the others as soon as they can.",
       {},
       {},
       {"lbctl host undrain"},
       cmd_host_undrain},
  };
  return kCommands;
}
// clang-format on

std::optional<std::string> Invocation::option(const std::string& name) const {
  const auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::string command_name(const CommandSpec& command) {
  std::string s = std::string("lbctl ") + command.noun;
  if (*command.verb != '\0') s += std::string(" ") + command.verb;
  return s;
}

namespace {

std::string option_usage(const OptionSpec& o) {
  const std::string flag =
      o.short_name != 0 ? std::string("-") + o.short_name : std::string("--") + o.name;
  return o.value_name != nullptr ? flag + " " + o.value_name : flag;
}

using Rows = std::vector<std::pair<std::string, std::string>>;

// Width of the left column: the widest entry that is not too long to share
// its line with the help text.
size_t left_width(const Rows& rows) {
  constexpr size_t kMaxLeft = 24;
  size_t width = 0;
  for (const auto& row : rows) {
    if (row.first.size() <= kMaxLeft) width = std::max(width, row.first.size());
  }
  return width;
}

// "  LEFT  help", help continuation lines indented under the first; a left
// entry wider than `width` gets its help on the next line.
std::string two_columns(const Rows& rows, size_t width) {
  std::string out;
  const std::string indent(2 + width + 2, ' ');
  for (const auto& [left, help] : rows) {
    std::string line = "  " + left;
    if (left.size() > width) {
      out += line + "\n";
      line = indent;
    } else {
      line += std::string(width + 2 - left.size(), ' ');
    }
    // Each line of the help, wrapped at spaces to fit 80 columns.
    const size_t room = indent.size() < 60 ? 79 - indent.size() : 20;
    size_t start = 0;
    for (;;) {
      const size_t nl = help.find('\n', start);
      std::string rest = help.substr(start, nl == std::string::npos ? nl : nl - start);
      while (rest.size() > room) {
        size_t cut = rest.rfind(' ', room);
        if (cut == std::string::npos || cut == 0) cut = rest.find(' ');
        if (cut == std::string::npos) break;
        out += line + rest.substr(0, cut) + "\n";
        rest.erase(0, cut + 1);
        line = indent;
      }
      out += line + rest + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
      line = indent;
    }
  }
  return out;
}

std::string two_columns(const Rows& rows) { return two_columns(rows, left_width(rows)); }

std::vector<std::string> nouns() {
  std::vector<std::string> out;
  for (const CommandSpec& c : command_table()) {
    if (std::find(out.begin(), out.end(), c.noun) == out.end()) out.push_back(c.noun);
  }
  return out;
}

const CommandSpec* find_command(const std::string& noun, const std::string& verb) {
  for (const CommandSpec& c : command_table()) {
    if (noun == c.noun && verb == c.verb) return &c;
  }
  return nullptr;
}

bool noun_exists(const std::string& noun) {
  const auto all = nouns();
  return std::find(all.begin(), all.end(), noun) != all.end();
}

// A noun that is a command by itself (status) takes no verb.
bool noun_takes_verb(const std::string& noun) { return find_command(noun, "") == nullptr; }

std::string verbs_of(const std::string& noun) {
  std::string s;
  for (const CommandSpec& c : command_table()) {
    if (noun == c.noun) s += (s.empty() ? "" : ", ") + std::string(c.verb);
  }
  return s;
}

CliError usage_error(const std::string& message, const CommandSpec* command) {
  if (command == nullptr) {
    return CliError(Exit::kUsage, message, "run 'lbctl --help' to see the commands");
  }
  return CliError(
      Exit::kUsage, message,
      "usage: " + usage_line(*command) + " (see '" + command_name(*command) + " --help')");
}

// "-5" is no option of lbctl's: keep it as an argument, so that a negative
// weight or port is refused as a bad value (exit 3) rather than as an
// unknown option.
std::pair<std::string, std::string> negative_number_as_argument(const std::string& token) {
  if (token.size() > 1 && token[0] == '-' &&
      token.find_first_not_of("0123456789", 1) == std::string::npos) {
    return {"positional-arguments", token};
  }
  return {};
}

bool is_help_flag(const std::string& token) { return token == "-h" || token == "--help"; }

// Global options that take a value in the next token when not given as
// --name=value or -oVALUE.
bool global_takes_next(const std::string& token) {
  return token == "-o" || token == "--output" || token == "--socket" || token == "--timeout-ms";
}

Globals resolve_globals(const po::variables_map& vm, const char* env_socket,
                        const CommandSpec* command) {
  Globals g;
  if (vm.count("output") != 0) {
    const std::string o = vm["output"].as<std::string>();
    if (o == "table") {
      g.output = OutputFormat::kTable;
    } else if (o == "json") {
      g.output = OutputFormat::kJson;
    } else {
      throw usage_error("output format '" + o + "' is not table or json", command);
    }
  }
  if (vm.count("socket") != 0) {
    g.socket = vm["socket"].as<std::string>();
  } else if (env_socket != nullptr && *env_socket != '\0') {
    g.socket = env_socket;
  } else {
    g.socket = kDefaultSocket;
  }
  g.timeout_ms = kDefaultTimeoutMs;
  if (vm.count("timeout-ms") != 0) {
    uint64_t ms = 0;
    const std::string text = vm["timeout-ms"].as<std::string>();
    std::string e = parse_uint("--timeout-ms", text, kMaxTimeoutMs, ms);
    if (e.empty() && ms == 0) e = "--timeout-ms must be at least 1";
    if (!e.empty()) throw usage_error(e, command);
    g.timeout_ms = static_cast<int>(ms);
  }
  return g;
}

}  // namespace

std::string usage_line(const CommandSpec& command) {
  // Fits 80 columns after "Usage: ": a command with many options continues
  // on lines indented under its first argument.
  constexpr size_t kPrefix = 7;  // "Usage: "
  std::string s = command_name(command);
  const std::string indent(kPrefix + s.size() + 1, ' ');
  size_t column = kPrefix + s.size();
  auto append = [&](const std::string& word) {
    if (column + 1 + word.size() > 79 && column > indent.size()) {
      s += "\n" + indent;
      column = indent.size();
    } else {
      s += " ";
      ++column;
    }
    s += word;
    column += word.size();
  };
  for (const PositionalSpec& p : command.positionals) append(p.name);
  for (const OptionSpec& o : command.options) {
    append(o.required ? option_usage(o) : "[" + option_usage(o) + "]");
  }
  return s;
}

std::string global_help() {
  std::string out =
      "Usage: lbctl [-o table|json] [--socket PATH] [--timeout-ms MS] NOUN VERB [ARGS]\n"
      "\n"
      "lbctl is the operator's command line for Sluice. It talks to lb-controlplane\n"
      "over its Unix socket: VIPs and their backends, the declarative configuration,\n"
      "status, the dataplane's counters, and which backend a flow goes to.\n"
      "\nCommands:\n";
  Rows rows;
  for (const CommandSpec& c : command_table()) {
    rows.emplace_back(command_name(c).substr(6), c.summary);
  }
  out += two_columns(rows);
  out += "\nGlobal options (anywhere on the command line):\n" +
         two_columns({{"-o, --output table|json",
                       "table (default): aligned columns for people;\n"
                       "json: the result object, pretty-printed, keys sorted"},
                      {"--socket PATH",
                       "lb-controlplane's socket (default: $SLUICE_SOCKET if\n"
                       "set, else " +
                           std::string(kDefaultSocket) + ")"},
                      {"--timeout-ms MS", "how long to wait for an answer (default " +
                                              std::to_string(kDefaultTimeoutMs) +
                                              ");\n"
                                              "a change waits for the dataplane's acknowledgement"},
                      {"-h, --help",
                       "this help; 'lbctl NOUN --help' and\n"
                       "'lbctl NOUN VERB --help' describe commands"}}) +
         "\nVIP keys: ADDRESS:PORT/PROTO, e.g. 192.0.2.10:80/tcp or [2001:db8::10]:53/udp\n"
         "(quote IPv6 keys in the shell). Port 0 is an all-ports VIP: 192.0.2.10:0/tcp.\n"
         "\n" +
         exit_codes_help() +
         "\nExamples:\n"
         "  lbctl vip add 192.0.2.10:80/tcp\n"
         "  lbctl backend add 192.0.2.10:80/tcp web-1 198.51.100.1 --weight 2\n"
         "  lbctl vip show 192.0.2.10:80/tcp\n"
         "  lbctl backend drain 192.0.2.10:80/tcp web-1\n"
         "  lbctl config export > sluice.json\n"
         "  lbctl -o json status\n";
  return out;
}

std::string noun_help(const std::string& noun) {
  std::string out = "Usage: lbctl " + noun + " VERB [ARGS...]\n\nCommands:\n";
  std::string examples;
  for (const CommandSpec& c : command_table()) {
    if (noun != c.noun) continue;
    out += "  " + usage_line(c) + "\n      " + c.summary + "\n";
    if (!c.examples.empty()) examples += std::string("  ") + c.examples.front() + "\n";
  }
  out += "\nExamples:\n" + examples;
  out += "\nRun 'lbctl " + noun + " VERB --help' for one command's arguments and examples.\n";
  return out;
}

std::string command_help(const CommandSpec& command) {
  std::string out = "Usage: " + usage_line(command) + "\n\n" + command.description + "\n";
  Rows arguments, options;
  for (const PositionalSpec& p : command.positionals) arguments.emplace_back(p.name, p.help);
  for (const OptionSpec& o : command.options) {
    std::string left = o.short_name != 0 ? std::string("-") + o.short_name + ", " : "";
    left += std::string("--") + o.name;
    if (o.value_name != nullptr) left += std::string(" ") + o.value_name;
    options.emplace_back(left, o.help);
  }
  // One width for both sections keeps arguments and options aligned together.
  Rows all = arguments;
  all.insert(all.end(), options.begin(), options.end());
  const size_t width = left_width(all);
  if (!arguments.empty()) out += "\nArguments:\n" + two_columns(arguments, width);
  if (!options.empty()) out += "\nOptions:\n" + two_columns(options, width);
  out += "\nExamples:\n";
  for (const char* e : command.examples) out += std::string("  ") + e + "\n";
  out += "\nGlobal options: -o table|json, --socket PATH, --timeout-ms MS ('lbctl --help')\n";
  return out;
}

Invocation parse_command_line(const std::vector<std::string>& args, const char* env_socket) {
  // Find NOUN and VERB: the first words that are neither options nor values
  // of global options. Everything else goes to program_options.
  std::string noun, verb;
  std::vector<std::string> rest;
  bool want_help = false, options_ended = false;
  size_t words = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool looks_like_option = !options_ended && a.size() > 1 && a[0] == '-';
    const bool need_more = words == 0 || (words == 1 && noun_takes_verb(noun));
    if (!looks_like_option && need_more) {
      (words++ == 0 ? noun : verb) = a;
      continue;
    }
    if (!options_ended && a == "--") options_ended = true;
    if (!options_ended && is_help_flag(a)) want_help = true;
    rest.push_back(a);
    if (looks_like_option && global_takes_next(a) && i + 1 < args.size()) {
      rest.push_back(args[++i]);
    }
  }

  // `lbctl help [NOUN [VERB]]` is `lbctl [NOUN [VERB]] --help`.
  if (noun == "help") {
    want_help = true;
    noun = verb;
    verb.clear();
    if (!rest.empty() && rest.front()[0] != '-' && noun_takes_verb(noun)) {
      verb = rest.front();
      rest.erase(rest.begin());
    }
  }

  const CommandSpec* command = nullptr;
  if (!noun.empty()) {
    if (!noun_exists(noun)) throw usage_error("unknown command '" + noun + "'", nullptr);
    if (noun_takes_verb(noun)) {
      if (verb.empty()) {
        if (want_help) {
          Invocation inv;
          inv.help = noun_help(noun);
          return inv;
        }
        throw CliError(Exit::kUsage, "'lbctl " + noun + "' needs a command: " + verbs_of(noun),
                       "run 'lbctl " + noun + " --help' to see them");
      }
      command = find_command(noun, verb);
      if (command == nullptr) {
        throw CliError(
            Exit::kUsage, "unknown command '" + noun + " " + verb + "'",
            "run 'lbctl " + noun + " --help' to see its commands (" + verbs_of(noun) + ")");
      }
    } else {
      command = find_command(noun, "");
    }
  }

  po::options_description desc;
  desc.add_options()("output,o", po::value<std::string>())("socket", po::value<std::string>())(
      "timeout-ms", po::value<std::string>())("help,h", po::bool_switch())(
      "positional-arguments", po::value<std::vector<std::string>>());
  if (command != nullptr) {
    for (const OptionSpec& o : command->options) {
      std::string name = o.name;
      if (o.short_name != 0) name += std::string(",") + o.short_name;
      if (o.value_name == nullptr) {
        desc.add_options()(name.c_str(), po::bool_switch());
      } else {
        desc.add_options()(name.c_str(), po::value<std::string>());
      }
    }
  }
  po::positional_options_description positional;
  positional.add("positional-arguments", -1);
  po::variables_map vm;
  try {
    po::store(
        po::command_line_parser(rest)
            .options(desc)
            .positional(positional)
            .extra_parser(negative_number_as_argument)
            .style(po::command_line_style::unix_style & ~po::command_line_style::allow_guessing)
            .run(),
        vm);
  } catch (const po::error& e) {
    throw usage_error(e.what(), command);
  }

  Invocation inv;
  if (want_help || vm["help"].as<bool>()) {
    inv.help = command != nullptr ? command_help(*command) : global_help();
    return inv;
  }
  if (command == nullptr) throw usage_error("no command given", nullptr);
  inv.globals = resolve_globals(vm, env_socket, command);
  inv.command = command;
  if (vm.count("positional-arguments") != 0) {
    inv.args = vm["positional-arguments"].as<std::vector<std::string>>();
  }
  if (inv.args.size() < command->positionals.size()) {
    throw usage_error(std::string("missing argument ") + command->positionals[inv.args.size()].name,
                      command);
  }
  if (inv.args.size() > command->positionals.size()) {
    throw usage_error("unexpected argument '" + inv.args[command->positionals.size()] + "'",
                      command);
  }
  for (const OptionSpec& o : command->options) {
    if (o.value_name == nullptr) {
      if (vm[o.name].as<bool>()) inv.options[o.name] = "true";
    } else if (vm.count(o.name) != 0) {
      inv.options[o.name] = vm[o.name].as<std::string>();
    } else if (o.required) {
      throw usage_error("missing option " + option_usage(o), command);
    }
  }
  return inv;
}

}  // namespace sluice::lbctl
