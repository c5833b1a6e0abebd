// lbctl's local parts, without a daemon: VIP keys and values as operators
// type them, the command line (noun verb, options anywhere, usage errors and
// their exit codes), the exit-code mapping of daemon errors, and the table,
// "key: value" and JSON output formats.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/counters.h"
#include "tools/lbctl/api_client.h"
#include "tools/lbctl/cli.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/output.h"
#include "tools/lbctl/values.h"

namespace sluice::lbctl {
namespace {

// --- VIP keys and values -------------------------------------------------

std::string key_roundtrip(const std::string& text) {
  VipKey key;
  const std::string err = parse_vip_key(text, key);
  return err.empty() ? format_vip_key(key) : "error: " + err;
}

TEST(VipKey, ParsesAndCanonicalises) {
  EXPECT_EQ(key_roundtrip("192.0.2.10:80/tcp"), "192.0.2.10:80/tcp");
  EXPECT_EQ(key_roundtrip("192.0.2.10:0/udp"), "192.0.2.10:0/udp");
  EXPECT_EQ(key_roundtrip("[2001:db8::10]:53/udp"), "[2001:db8::10]:53/udp");
  // Canonical form: compressed lower-case IPv6, lower-case protocol,
  // no leading zeros in the port.
  EXPECT_EQ(key_roundtrip("[2001:DB8:0:0::10]:053/UDP"), "[2001:db8::10]:53/udp");
  EXPECT_EQ(key_roundtrip("192.0.2.10:65535/TCP"), "192.0.2.10:65535/tcp");
  VipKey key;
  ASSERT_EQ(parse_vip_key("[2001:db8::10]:53/udp", key), "");
  EXPECT_TRUE(key.address.is_v6());
  EXPECT_EQ(key.port, 53);
  EXPECT_EQ(key.protocol, "udp");
}

TEST(VipKey, RefusalsNameTheProblem) {
  EXPECT_EQ(key_roundtrip("192.0.2.10:80"),
            "error: VIP key '192.0.2.10:80': no /PROTOCOL at the end");
  EXPECT_EQ(key_roundtrip("192.0.2.10/tcp"),
            "error: VIP key '192.0.2.10/tcp': no :PORT after the address");
  EXPECT_EQ(key_roundtrip("192.0.2.10:80/sctp"),
            "error: VIP key '192.0.2.10:80/sctp': protocol 'sctp' is not tcp or udp");
  EXPECT_EQ(key_roundtrip("192.0.2.300:80/tcp"),
            "error: VIP key '192.0.2.300:80/tcp': address '192.0.2.300' is not an IPv4 or "
            "IPv6 address");
  EXPECT_EQ(key_roundtrip("192.0.2.10:65536/tcp"),
            "error: VIP key '192.0.2.10:65536/tcp': port '65536' is out of range [0, 65535]");
  EXPECT_EQ(key_roundtrip("192.0.2.10:/tcp"), "error: VIP key '192.0.2.10:/tcp': port is empty");
  EXPECT_EQ(key_roundtrip("192.0.2.10:8o/tcp"),
            "error: VIP key '192.0.2.10:8o/tcp': port '8o' is not a non-negative integer");
  EXPECT_EQ(key_roundtrip("2001:db8::10:53/udp"),
            "error: VIP key '2001:db8::10:53/udp': an IPv6 address must be in brackets, as "
            "in [2001:db8::10]:53/udp");
  EXPECT_EQ(key_roundtrip("[2001:db8::10:53/udp"),
            "error: VIP key '[2001:db8::10:53/udp': no ']' after the IPv6 address");
  EXPECT_EQ(key_roundtrip("[2001:db8::10]53/udp"),
            "error: VIP key '[2001:db8::10]53/udp': no :PORT after the address");
  EXPECT_EQ(key_roundtrip("[192.0.2.10]:80/tcp"),
            "error: VIP key '[192.0.2.10]:80/tcp': brackets are for IPv6 addresses only");
  EXPECT_EQ(key_roundtrip(""), "error: VIP key '': no /PROTOCOL at the end");
}

TEST(Values, UnsignedIntegers) {
  uint64_t v = 99;
  EXPECT_EQ(parse_uint("weight", "0", 1000, v), "");
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(parse_uint("weight", "1000", 1000, v), "");
  EXPECT_EQ(v, 1000u);
  v = 7;
  EXPECT_EQ(parse_uint("weight", "1001", 1000, v), "weight '1001' is out of range [0, 1000]");
  EXPECT_EQ(parse_uint("weight", "-1", 1000, v), "weight '-1' is not a non-negative integer");
  EXPECT_EQ(parse_uint("weight", "+1", 1000, v), "weight '+1' is not a non-negative integer");
  EXPECT_EQ(parse_uint("weight", " 1", 1000, v), "weight ' 1' is not a non-negative integer");
  EXPECT_EQ(parse_uint("weight", "", 1000, v), "weight is empty");
  // Overflow of 64 bits is a range error, not a wrap-around.
  EXPECT_EQ(parse_uint("n", "18446744073709551616", UINT64_MAX, v),
            "n '18446744073709551616' is out of range [0, 18446744073709551615]");
  EXPECT_EQ(v, 7u);  // untouched on error
  EXPECT_EQ(parse_uint("n", "18446744073709551615", UINT64_MAX, v), "");
  EXPECT_EQ(v, UINT64_MAX);
}

TEST(Values, Enumerations) {
  std::string out;
  EXPECT_EQ(parse_encap("GUE", out), "");
  EXPECT_EQ(out, "gue");
  EXPECT_EQ(parse_encap("gre", out), "encap 'gre' is not ipip or gue");
  EXPECT_EQ(parse_backend_state("Draining", out), "");
  EXPECT_EQ(out, "draining");
  EXPECT_EQ(parse_backend_state("up", out), "state 'up' is not active, draining or disabled");
  EXPECT_EQ(parse_protocol("icmp", out), "protocol 'icmp' is not tcp or udp");
  IpAddress a;
  EXPECT_EQ(parse_address("backend address", "198.51.100.1", a), "");
  EXPECT_EQ(parse_address("backend address", "web-1", a),
            "backend address 'web-1' is not an IPv4 or IPv6 address");
}

TEST(Values, JsonSyntaxErrorsGiveLineAndColumn) {
  nlohmann::json j;
  EXPECT_EQ(parse_json_text("a.json", "{\"vips\": []}", j), "");
  EXPECT_TRUE(j.contains("vips"));
  EXPECT_EQ(parse_json_text("a.json", "{\"vips\": [\n  {\"port\": 80,}\n]}", j),
            "a.json:2:15: not valid JSON: syntax error while parsing object key - unexpected "
            "'}'; expected string literal");
  EXPECT_EQ(parse_json_text("b.json", "", j),
            "b.json:1:1: not valid JSON: syntax error while parsing value - unexpected "
            "end of input; expected '[', '{', or a literal");
}

TEST(Values, DuplicateKeysInAFileAreRefusedWithTheirPath) {
  nlohmann::json j = {{"kept", true}};
  EXPECT_EQ(parse_json_text("c.json",
                            "{\"vips\": [{\"port\": 80, \"backends\": [{\"name\": \"a\", "
                            "\"name\": \"b\"}]}]}",
                            j),
            "c.json: vips[0].backends[0].name: duplicate key 'name' (a key may appear once per "
            "object)");
  EXPECT_EQ(j, (nlohmann::json{{"kept", true}}));  // untouched
}

// --- Exit codes ----------------------------------------------------------

TEST(ExitCodes, DaemonCodesMapAsTheContractSays) {
  EXPECT_EQ(exit_for_daemon_code("usage"), Exit::kUsage);
  EXPECT_EQ(exit_for_daemon_code("invalid"), Exit::kInvalid);
  EXPECT_EQ(exit_for_daemon_code("not_found"), Exit::kNotFound);
  EXPECT_EQ(exit_for_daemon_code("dataplane"), Exit::kDataplane);
  EXPECT_EQ(exit_for_daemon_code("unavailable"), Exit::kUnreachable);
  EXPECT_EQ(exit_for_daemon_code("internal"), Exit::kInternal);
  EXPECT_EQ(exit_for_daemon_code("something_new"), Exit::kInternal);
  EXPECT_EQ(static_cast<int>(Exit::kUsage), 2);
  EXPECT_EQ(static_cast<int>(Exit::kInvalid), 3);
  EXPECT_EQ(static_cast<int>(Exit::kNotFound), 4);
  EXPECT_EQ(static_cast<int>(Exit::kUnreachable), 5);
  EXPECT_EQ(static_cast<int>(Exit::kDataplane), 6);
}

TEST(ExitCodes, DocumentedInHelp) {
  const std::string help = global_help();
  for (const char* line :
       {"  0  success", "  1  internal", "  2  usage", "  3  invalid", "  4  not found",
        "  5  control plane unreachable", "  6  the dataplane refused"}) {
    EXPECT_NE(help.find(line), std::string::npos) << line;
  }
}

// --- Command line --------------------------------------------------------

Invocation parse(std::vector<std::string> args, const char* env = nullptr) {
  return parse_command_line(args, env);
}

// The exit code and message of a command line that must fail.
std::pair<Exit, std::string> failure(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const CliError& e) {
    return {e.exit, e.what()};
  }
  return {Exit::kOk, "parsed"};
}

TEST(CommandLine, NounVerbArgumentsAndOptions) {
  const Invocation inv =
      parse({"backend", "add", "192.0.2.10:80/tcp", "web-1", "198.51.100.1", "--weight", "3"});
  ASSERT_NE(inv.command, nullptr);
  EXPECT_STREQ(inv.command->noun, "backend");
  EXPECT_STREQ(inv.command->verb, "add");
  EXPECT_EQ(inv.args, (std::vector<std::string>{"192.0.2.10:80/tcp", "web-1", "198.51.100.1"}));
  EXPECT_EQ(inv.option("weight"), "3");
  EXPECT_EQ(inv.option("state"), std::nullopt);
  EXPECT_EQ(inv.globals.output, OutputFormat::kTable);
  EXPECT_EQ(inv.globals.socket, kDefaultSocket);
  EXPECT_EQ(inv.globals.timeout_ms, kDefaultTimeoutMs);
}

TEST(CommandLine, GlobalOptionsAnywhere) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-o", "json", "--socket", "/tmp/s", "vip", "list"},
           {"vip", "-o", "json", "list", "--socket=/tmp/s"},
           {"vip", "list", "-ojson", "--socket", "/tmp/s"},
           {"--output=json", "vip", "--socket", "/tmp/s", "list"}}) {
    const Invocation inv = parse(args);
    ASSERT_NE(inv.command, nullptr);
    EXPECT_STREQ(inv.command->verb, "list");
    EXPECT_EQ(inv.globals.output, OutputFormat::kJson);
    EXPECT_EQ(inv.globals.socket, "/tmp/s");
  }
}

TEST(CommandLine, SocketPrecedence) {
  EXPECT_EQ(parse({"status"}, "/env.sock").globals.socket, "/env.sock");
  EXPECT_EQ(parse({"status", "--socket", "/opt.sock"}, "/env.sock").globals.socket, "/opt.sock");
  EXPECT_EQ(parse({"status"}, "").globals.socket, kDefaultSocket);
  EXPECT_EQ(parse({"status", "--timeout-ms", "250"}).globals.timeout_ms, 250);
}

TEST(CommandLine, NegativeNumbersAreArgumentsNotOptions) {
  const Invocation inv = parse({"backend", "set-weight", "192.0.2.10:80/tcp", "web-1", "-1"});
  EXPECT_EQ(inv.args.back(), "-1");  // refused later as a bad value (exit 3)
}

TEST(CommandLine, UsageErrors) {
  using P = std::pair<Exit, std::string>;
  EXPECT_EQ(failure({}), (P{Exit::kUsage, "no command given"}));
  EXPECT_EQ(failure({"frob"}), (P{Exit::kUsage, "unknown command 'frob'"}));
  EXPECT_EQ(failure({"vip", "frob"}), (P{Exit::kUsage, "unknown command 'vip frob'"}));
  EXPECT_EQ(failure({"vip"}),
            (P{Exit::kUsage, "'lbctl vip' needs a command: add, set, del, list, show"}));
  EXPECT_EQ(failure({"vip", "show"}), (P{Exit::kUsage, "missing argument KEY"}));
  EXPECT_EQ(failure({"vip", "list", "x"}), (P{Exit::kUsage, "unexpected argument 'x'"}));
  EXPECT_EQ(failure({"vip", "list", "--encap", "gue"}),
            (P{Exit::kUsage, "unrecognised option '--encap'"}));
  // Abbreviations are not guessed: scripts must not change meaning when an
  // option is added.
  EXPECT_EQ(failure({"vip", "add", "192.0.2.10:80/tcp", "--enc", "gue"}),
            (P{Exit::kUsage, "unrecognised option '--enc'"}));
  EXPECT_EQ(failure({"config", "apply"}), (P{Exit::kUsage, "missing option -f FILE"}));
  EXPECT_EQ(failure({"status", "-o", "yaml"}),
            (P{Exit::kUsage, "output format 'yaml' is not table or json"}));
  EXPECT_EQ(failure({"status", "--timeout-ms", "0"}),
            (P{Exit::kUsage, "--timeout-ms must be at least 1"}));
  EXPECT_EQ(failure({"status", "--timeout-ms"}).first, Exit::kUsage);
}

TEST(CommandLine, HelpAtEveryLevel) {
  EXPECT_EQ(parse({"--help"}).help, global_help());
  EXPECT_EQ(parse({"-h"}).help, global_help());
  EXPECT_EQ(parse({"help"}).help, global_help());
  EXPECT_EQ(parse({"vip", "--help"}).help, noun_help("vip"));
  EXPECT_EQ(parse({"help", "vip"}).help, noun_help("vip"));
  const Invocation inv = parse({"vip", "add", "--help"});
  EXPECT_EQ(inv.command, nullptr);
  EXPECT_NE(inv.help.find("Usage: lbctl vip add ADDRESS:PORT/PROTO [--encap ipip|gue] "
                          "[--table-size M]"),
            std::string::npos);
  EXPECT_NE(inv.help.find("Examples:"), std::string::npos);
  EXPECT_EQ(parse({"help", "backend", "drain"}).help, parse({"backend", "drain", "-h"}).help);
  EXPECT_EQ(parse({"status", "--help"}).help.rfind("Usage: lbctl status\n", 0), 0u);
}

TEST(CommandLine, EveryCommandHasHelpAndExamples) {
  const std::string global = global_help();
  for (size_t start = 0, nl; (nl = global.find('\n', start)) != std::string::npos; start = nl + 1) {
    EXPECT_LE(nl - start, 79u) << global.substr(start, nl - start);
  }
  for (const CommandSpec& c : command_table()) {
    const std::string help = command_help(c);
    EXPECT_EQ(help.rfind("Usage: " + usage_line(c) + "\n", 0), 0u) << command_name(c);
    EXPECT_FALSE(c.examples.empty()) << command_name(c);
    EXPECT_NE(global_help().find(command_name(c).substr(6)), std::string::npos);
    // Help fits an 80-column terminal.
    size_t start = 0;
    for (size_t nl; (nl = help.find('\n', start)) != std::string::npos; start = nl + 1) {
      EXPECT_LE(nl - start, 79u) << help.substr(start, nl - start);
    }
  }
}

// --- Output --------------------------------------------------------------

TEST(Output, TablePadsToWidestCellWithoutTrailingSpaces) {
  Table t({{"name"}, {"weight", Table::Align::kRight}, {"state"}});
  t.add_row({"web-1", "1", "active"});
  t.add_row({"a-much-longer-name", "1000", "draining"});
  t.add_row({"x", "20"});  // missing cell prints empty
  EXPECT_EQ(t.render(),
            "NAME                WEIGHT  STATE\n"
            "web-1                    1  active\n"
            "a-much-longer-name    1000  draining\n"
            "x                       20\n");
  EXPECT_EQ(Table({{"key"}, {"encap"}}).render(), "KEY  ENCAP\n");
}

TEST(Output, KeyValuesAlignValues) {
  KeyValues kv;
  kv.add("dataplane", "attached");
  kv.add("boot id", "9f3c", 1);
  kv.add("control plane", "running");
  kv.add("in sync", "yes", 1);
  EXPECT_EQ(kv.render(),
            "dataplane:      attached\n"
            "  boot id:      9f3c\n"
            "control plane:  running\n"
            "  in sync:      yes\n");
}

TEST(Output, Cells) {
  const nlohmann::json j = {{"s", "x"}, {"n", 65537}, {"b", true}, {"z", nullptr}};
  EXPECT_EQ(cell(j, "s"), "x");
  EXPECT_EQ(cell(j, "n"), "65537");
  EXPECT_EQ(cell(j, "b"), "yes");
  EXPECT_EQ(cell(j, "z"), "-");
  EXPECT_EQ(cell(j, "missing"), "-");
}

TEST(Output, Durations) {
  EXPECT_EQ(format_duration(0), "0.0s");
  EXPECT_EQ(format_duration(12.54), "12.5s");
  EXPECT_EQ(format_duration(65), "1m 5s");
  EXPECT_EQ(format_duration(7207), "2h 0m 7s");
  EXPECT_EQ(format_duration(90061), "1d 1h 1m");
  EXPECT_EQ(format_duration(-1), "-");
}

TEST(Output, JsonIsPrettyAndSorted) {
  const nlohmann::json j = nlohmann::json::parse(R"({"b": 1, "a": {"d": [1], "c": null}})");
  EXPECT_EQ(json_text(j),
            "{\n  \"a\": {\n    \"c\": null,\n    \"d\": [\n      1\n    ]\n  },\n  \"b\": 1\n}\n");
}

const char* kVip = R"({"key": "192.0.2.10:80/tcp", "id": 1, "address": "192.0.2.10",
  "port": 80, "protocol": "tcp", "encap": "ipip", "table_size": 65537,
  "scheduler": "least-connections", "host_local": true, "no_backend": "reset", "slow_start": 30,
  "counters": {"packets": 1200, "bytes": 98000, "new_flows": 40},
  "backends": [
    {"name": "web-1", "id": 3, "address": "198.51.100.1", "weight": 1, "state": "active",
     "effective_weight": 0.3, "backup": false,
     "counters": {"packets": 700, "bytes": 56000, "new_flows": 25}},
    {"name": "web-2", "id": 4, "address": "198.51.100.2", "weight": 10, "state": "draining",
     "effective_weight": 0, "backup": true,
     "counters": {"packets": 500, "bytes": 42000, "new_flows": 15}}]})";

TEST(Output, VipListAndBackendList) {
  nlohmann::json vip = nlohmann::json::parse(kVip);
  const nlohmann::json v6 = {{"key", "[2001:db8::10]:53/udp"},
                             {"encap", "gue"},
                             {"table_size", 251},
                             {"scheduler", "maglev"},
                             {"backends", nlohmann::json::array()}};
  EXPECT_EQ(render_vip_list({{"vips", {vip, v6}}}),
            "KEY                    ENCAP  TABLE  SCHEDULER          BACKENDS\n"
            "192.0.2.10:80/tcp      ipip   65537  least-connections         2\n"
            "[2001:db8::10]:53/udp  gue      251  maglev                    0\n");
  vip["backends"][0].erase("counters");
  vip["backends"][1].erase("counters");
  EXPECT_EQ(render_backend_list({{"backends", vip["backends"]}}),
            "NAME   ADDRESS       WEIGHT  EFFECTIVE  STATE     ROLE\n"
            "web-1  198.51.100.1       1        0.3  active    primary\n"
            "web-2  198.51.100.2      10          0  draining  backup\n");
  // Without backups, no ROLE column.
  vip["backends"][1]["backup"] = false;
  vip["backends"][1]["effective_weight"] = 10.0;
  EXPECT_EQ(render_backend_list({{"backends", vip["backends"]}}),
            "NAME   ADDRESS       WEIGHT  EFFECTIVE  STATE\n"
            "web-1  198.51.100.1       1        0.3  active\n"
            "web-2  198.51.100.2      10         10  draining\n");
}

TEST(Output, VipShowWithCounters) {
  EXPECT_EQ(render_vip_show({{"vip", nlohmann::json::parse(kVip)}}),
            "key:         192.0.2.10:80/tcp\n"
            "id:          1\n"
            "encap:       ipip\n"
            "table size:  65537\n"
            "scheduler:   least-connections (host-local: not kept across hosts)\n"
            "no backend:  reset\n"
            "slow start:  30 s\n"
            "backends:    2\n"
            "packets:     1200\n"
            "bytes:       98000\n"
            "new flows:   40\n"
            "\n"
            "NAME   ADDRESS       WEIGHT  EFFECTIVE  STATE     ROLE     PACKETS  BYTES  NEW_FLOWS\n"
            "web-1  198.51.100.1       1        0.3  active    primary      700  56000         25\n"
            "web-2  198.51.100.2      10          0  draining  backup       500  42000         15\n");
}

// The next hop per family: learned from the kernel (resolved or not),
// static, or none.
TEST(Output, StatusNextHops) {
  auto status = [](const char* next_hops) {
    std::string doc = R"({"dataplane": {"attached": true, "instance": "sluice", "next_hops": )";
    doc += next_hops;
    doc += R"(}, "controlplane": {}})";
    return render_status(nlohmann::json::parse(doc));
  };
  const std::string kernel = status(R"([
      {"family": 4, "source": "kernel", "address": "198.51.100.1", "mac": "02:00:00:5e:00:53",
       "changes": 2, "changed_ago_s": 12.5},
      {"family": 6, "source": "kernel", "address": "2001:db8:a::1", "mac": null,
       "changes": 3, "changed_ago_s": 0.4}])");
  EXPECT_NE(kernel.find("  next hop v4:     198.51.100.1 (kernel) 02:00:00:5e:00:53, changed "
                        "12.5s ago (2 changes)\n"),
            std::string::npos)
      << kernel;
  EXPECT_NE(kernel.find("  next hop v6:     2001:db8:a::1 (kernel) unresolved, changed 0.4s ago "
                        "(3 changes)\n"),
            std::string::npos)
      << kernel;
  const std::string fixed = status(R"([
      {"family": 4, "source": "static", "mac": "02:00:00:00:00:fe", "changes": 0,
       "changed_ago_s": null},
      {"family": 6, "source": "none", "mac": null, "changes": 0, "changed_ago_s": null}])");
  EXPECT_NE(fixed.find("  next hop v4:     02:00:00:00:00:fe (static)\n"), std::string::npos)
      << fixed;
  EXPECT_NE(fixed.find("  next hop v6:     none (packets to these backends are dropped: "
                       "drop_no_neighbour)\n"),
            std::string::npos)
      << fixed;
}

TEST(Output, Status) {
  const auto attached = nlohmann::json::parse(R"({
    "dataplane": {"attached": true, "instance": "sluice", "boot_id": "9f3c", "pid": 1234,
                  "generation": 7, "lcores": 1, "uptime_s": 12.5, "heartbeat_age_ms": 3,
                  "config_digest": "c03fecfd0fb11462", "building": null,
                  "table_memory_used_bytes": 1048576, "table_memory_budget_bytes": 2097152,
                  "refused_transactions": 0,
                  "ports": [
                    {"port_id": 0, "role": "ingress", "name": "net_af_packet0",
                     "driver": "net_af_packet", "mac": "02:00:00:00:00:01", "link_up": true, "speed_mbps": 10000,
                     "mtu": 1500, "query_errors": 0},
                    {"port_id": 1, "name": "net_null0", "driver": "net_null",
                     "mac": "02:00:00:00:00:02", "link_up": false, "speed_mbps": 0,
                     "mtu": 9000, "query_errors": 2}]},
    "controlplane": {"uptime_s": 3725.0, "state_file": "/var/lib/sluice/state.json",
                     "vips": 2, "backends": 5, "config_digest": "c03fecfd0fb11462",
                     "in_sync": true, "push_in_flight": false, "queued_changes": 0,
                     "transactions_pushed": 3, "changes_pushed": 4,
                     "audit_log": {"path": "/var/log/sluice/audit.log", "write_errors": 2}}})");
  EXPECT_EQ(render_status(attached),
            "dataplane:         attached\n"
            "  instance:        sluice\n"
            "  pid:             1234\n"
            "  boot id:         9f3c\n"
            "  generation:      7\n"
            "  lcores:          1\n"
            "  uptime:          12.5s\n"
            "  heartbeat age:   3 ms\n"
            "  config digest:   c03fecfd0fb11462\n"
            "  building:        no\n"
            "  table memory:    1.0 MiB of 2.0 MiB budget\n"
            "  refused txns:    0\n"
            "  port 0:          net_af_packet0 (net_af_packet) 02:00:00:00:00:01 link up 10000 "
            "Mb/s mtu 1500, ingress\n"
            "  port 1:          net_null0 (net_null) 02:00:00:00:00:02 link down mtu 9000 (2 "
            "failed link/MTU queries)\n"
            "control plane:     running\n"
            "  uptime:          1h 2m 5s\n"
            "  state file:      /var/lib/sluice/state.json\n"
            "  vips:            2\n"
            "  backends:        5\n"
            "  config digest:   c03fecfd0fb11462\n"
            "  in sync:         yes\n"
            "  push in flight:  no\n"
            "  queued changes:  0\n"
            "  pushes:          3 transactions carrying 4 changes\n"
            "  audit log:       /var/log/sluice/audit.log (2 write errors)\n");
  const auto detached = nlohmann::json::parse(R"({
    "dataplane": {"attached": false, "instance": "t1", "reason": "no segment"},
    "controplane_typo_is_ignored": 1,
    "controlplane": {"uptime_s": 1.0, "state_file": "s.json", "vips": 0, "backends": 0,
                     "in_sync": false, "audit_log": {"path": null, "write_errors": 0},
                     "newer_field": "shown"}})");
  EXPECT_EQ(render_status(detached),
            "dataplane:         not attached\n"
            "  instance:        t1\n"
            "  reason:          no segment\n"
            "control plane:     running\n"
            "  uptime:          1.0s\n"
            "  state file:      s.json\n"
            "  vips:            0\n"
            "  backends:        0\n"
            "  config digest:   -\n"
            "  in sync:         no\n"
            "  push in flight:  -\n"
            "  queued changes:  -\n"
            "  pushes:          - transactions carrying - changes\n"
            "  audit log:       none (--audit-log not set)\n"
            "  newer field:     shown\n");
}

TEST(Output, StatsFollowTheCounterList) {
  // The answer's object comes sorted by name; the table follows the list,
  // and counters lbctl does not know (a newer daemon) come after, sorted.
  nlohmann::json counters = {{"zz_newer", 7}, {"aa_newer", 8}};
  std::string rows;
  for (size_t i = 0; i < kCounterCount; ++i) {
    counters[kCounterInfo[i].name] = i * 10;
    rows += std::string(kCounterInfo[i].name) + " " + std::to_string(i * 10) + "\n";
  }
  const std::string table =
      render_stats({{"attached", true}, {"lcores", 2}, {"counters", counters}});
  // Padding aside, the rows are exactly the list, then the others.
  std::istringstream lines(table);
  std::string squeezed, line, name, value;
  while (std::getline(lines, line)) {
    std::istringstream(line) >> name >> value;
    squeezed += name + " " + value + "\n";
  }
  EXPECT_EQ(squeezed, "COUNTER VALUE\n" + rows + "aa_newer 8\nzz_newer 7\n") << table;
  EXPECT_EQ(render_stats({{"attached", false}}),
            "no dataplane attached: no counters to show (run 'lbctl status' to see why)\n");
}

TEST(Output, BgpShowAndStatus) {
  EXPECT_EQ(render_bgp_show(nlohmann::json::parse(R"js({"enabled": false, "vips": []})js")),
            "BGP is off: lb-controlplane runs without --bird-socket\n");
  const auto shown = nlohmann::json::parse(R"js({
    "enabled": true, "hold_down_s": 10.0,
    "bird": {"connected": true, "version": "2.0.12", "socket": "/run/bird/bird.ctl",
             "include_file": "/run/sluice/sluice.bird.conf", "liveness_iface": "sluice-alive",
             "applied": true, "configures": 3, "reconnects": 1, "error": "", "file_error": "",
             "sessions": [{"name": "upstream", "protocol": "BGP", "state": "up",
                           "since": "18:00:01.000", "info": "Established"}]},
    "host": {"state": "serving", "since_s": 12.0, "starting": false},
    "vips": [{"vip": "192.0.2.10:80/tcp", "prefix": "192.0.2.10/32", "announced": true,
              "reason": "can serve", "serving_backends": 3, "backends": 3, "min_healthy": 1},
             {"vip": "192.0.2.11:80/tcp", "prefix": "192.0.2.11/32", "announced": false,
              "reason": "hold-down: can serve again, announced after 4.2 s",
              "serving_backends": 1, "backends": 1, "min_healthy": 1}]})js");
  const std::string text = render_bgp_show(shown);
  EXPECT_NE(text.find("bird:               connected, version 2.0.12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("host:               serving\n"), std::string::npos) << text;
  EXPECT_NE(text.find("upstream  BGP       up     Established"), std::string::npos) << text;
  EXPECT_NE(text.find("192.0.2.11:80/tcp  192.0.2.11/32  no"), std::string::npos) << text;
  EXPECT_NE(text.find("hold-down: can serve again, announced after 4.2 s"), std::string::npos)
      << text;
  // status: the BGP lines an operator compares across hosts.
  const auto status = nlohmann::json::parse(R"js({
    "dataplane": {"attached": false, "instance": "sluice", "reason": "not attached yet"},
    "controlplane": {},
    "bgp": {"enabled": true, "host": "drained", "bird_connected": true,
            "sessions_established": 1,
            "vips": [{"vip": "192.0.2.10:80/tcp", "announced": false,
                      "reason": "host drained (lbctl host drain)"}]}})js");
  const std::string st = render_status(status);
  EXPECT_NE(st.find("\nbgp: "), std::string::npos) << st;
  EXPECT_NE(st.find(" host drained, BIRD connected, 1 sessions established\n"),
            std::string::npos)
      << st;
  EXPECT_NE(st.find("\n  192.0.2.10:80/tcp: "), std::string::npos) << st;
  EXPECT_NE(st.find(" withdrawn: host drained (lbctl host drain)\n"),
            std::string::npos)
      << st;
}

TEST(Output, FlowExplain) {
  const auto result = nlohmann::json::parse(R"({"vip": "192.0.2.10:80/tcp",
    "scheduler": "source-hash", "host_local": false,
    "hash": "885b50519e1166ad", "table_size": 65537, "slot": 34981,
    "backend": {"name": "web-2", "id": 2, "address": "198.51.100.2"}})");
  EXPECT_EQ(render_flow_explain(result, "tcp 203.0.113.7:40000 -> 192.0.2.10:80"),
            "flow:        tcp 203.0.113.7:40000 -> 192.0.2.10:80\n"
            "vip:         192.0.2.10:80/tcp\n"
            "scheduler:   source-hash\n"
            "hash:        885b50519e1166ad\n"
            "table size:  65537\n"
            "slot:        34981\n"
            "backend:     web-2 (id 2, 198.51.100.2)\n");
  auto none = result;
  none["backend"] = nullptr;
  EXPECT_NE(render_flow_explain(none, "f").find("backend:     none ("), std::string::npos);
  // A host-local scheduler's new flow has no answer here: say who decides.
  auto wrr = none;
  wrr["scheduler"] = "weighted-round-robin";
  wrr["host_local"] = true;
  const std::string text = render_flow_explain(wrr, "f");
  EXPECT_NE(text.find("scheduler:   weighted-round-robin (host-local)\n"), std::string::npos);
  EXPECT_NE(text.find("backend:     chosen at the flow's first packet by the worker"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::lbctl
