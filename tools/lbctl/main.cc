// lbctl: the operator's command line for Sluice (docs/control-api.md).
// Parses the command line, runs one command against lb-controlplane, prints
// the answer on stdout and errors on stderr, and exits with the code that
// `lbctl --help` documents.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/cli.h"
#include "tools/lbctl/exit_codes.h"

namespace {

using sluice::lbctl::Exit;

int fail(Exit exit, const std::string& message, const std::string& hint) {
  std::fprintf(stderr, "lbctl: %s\n", message.c_str());
  if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", hint.c_str());
  return static_cast<int>(exit);
}

// Writes everything or reports why not (a closed pipe, a full disk).
bool write_stdout(const std::string& text) {
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
         std::fflush(stdout) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::lbctl;
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const Invocation inv = parse_command_line(args, std::getenv("SLUICE_SOCKET"));
    std::string out;
    if (inv.command == nullptr) {
      out = inv.help;
    } else {
      ApiClient client(inv.globals.socket, std::chrono::milliseconds(inv.globals.timeout_ms));
      inv.command->handler(inv, client, out);
    }
    if (!write_stdout(out)) return fail(Exit::kInternal, "cannot write the output", "");
    return static_cast<int>(Exit::kOk);
  } catch (const CliError& e) {
    return fail(e.exit, e.what(), e.hint);
  } catch (const std::exception& e) {
    return fail(Exit::kInternal, std::string("internal error: ") + e.what(),
                "this is a bug in lbctl; please report it with the command line");
  }
}
