// lbctl's command table and command-line parsing (noun verb, then arguments
// and options; global options anywhere), and the help texts generated from
// the table. Parsing never contacts the daemon: a bad command line is a
// CliError with Exit::kUsage, and `--help` at any level is answered here.
// Single-threaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/lbctl/output.h"

namespace sluice::lbctl {

class ApiClient;
struct Invocation;

struct PositionalSpec {
  const char* name;  // as shown in usage: KEY, NAME, ADDRESS
  const char* help;
};

struct OptionSpec {
  const char* name;        // long name without dashes: "encap"
  char short_name;         // 0 when there is none
  const char* value_name;  // "ipip|gue"; nullptr: a switch without a value
  const char* help;
  bool required = false;
};

// Runs a parsed command: builds the request, calls the daemon, prints the
// answer. Throws CliError on any failure.
using Handler = void (*)(const Invocation& inv, ApiClient& client, std::string& out);

struct CommandSpec {
  const char* noun;
  const char* verb;         // "" for a noun that is a command by itself (status)
  const char* summary;      // one line, for the command lists
  const char* description;  // a paragraph, for the command's own --help
  std::vector<PositionalSpec> positionals;
  std::vector<OptionSpec> options;
  std::vector<const char*> examples;
  Handler handler;
};

const std::vector<CommandSpec>& command_table();

struct Globals {
  OutputFormat output = OutputFormat::kTable;
  std::string socket;  // --socket, else $SLUICE_SOCKET, else kDefaultSocket
  int timeout_ms = 0;
};

struct Invocation {
  Globals globals;
  const CommandSpec* command = nullptr;        // null when only help was asked for
  std::vector<std::string> args;               // positionals, in the order of the spec
  std::map<std::string, std::string> options;  // command options given, by long name
  // Non-empty when help was asked for instead of running a command: the text
  // to print on stdout.
  std::string help;

  const std::string& arg(size_t i) const { return args.at(i); }
  std::optional<std::string> option(const std::string& name) const;
};

// `args` excludes the program name; `env_socket` is $SLUICE_SOCKET or null.
Invocation parse_command_line(const std::vector<std::string>& args, const char* env_socket);

std::string global_help();
std::string noun_help(const std::string& noun);
std::string command_help(const CommandSpec& command);
// "lbctl vip add ADDRESS:PORT/PROTO [--encap ipip|gue] [--table-size M]"
std::string usage_line(const CommandSpec& command);
// "lbctl vip add", "lbctl status"
std::string command_name(const CommandSpec& command);

}  // namespace sluice::lbctl
