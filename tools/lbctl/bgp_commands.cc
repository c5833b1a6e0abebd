#include "tools/lbctl/bgp_commands.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/ask_daemon.h"
#include "tools/lbctl/exit_codes.h"
#include "tools/lbctl/output.h"

namespace sluice::lbctl {

namespace {

// "--gshut-time 5", "--timeout 2.5": seconds, 0 to 3600.
double seconds_option(const Invocation& inv, const char* name, double fallback) {
  const auto v = inv.option(name);
  if (!v) return fallback;
  char* end = nullptr;
  const double s = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !(s >= 0 && s <= 3600)) {
    throw CliError(Exit::kInvalid,
                   std::string("--") + name + " '" + *v + "' is not a number of seconds from 0 to 3600",
                   "run '" + command_name(*inv.command) + " --help'");
  }
  return s;
}

}  // namespace

void cmd_bgp_show(const Invocation& inv, ApiClient& client, std::string& out) {
  const json result = ask_daemon(inv, client, {{"op", "bgp.show"}});
  out += inv.globals.output == OutputFormat::kJson ? json_text(result) : render_bgp_show(result);
}

// Starts the drain, then follows it (one bgp.show every 200 ms) until the
// host is drained: graceful shutdown, withdrawal, traffic stopped (or the
// daemon's timeout). Progress goes to stderr as it happens.
void cmd_host_drain(const Invocation& inv, ApiClient& client, std::string& out) {
  const double gshut = seconds_option(inv, "gshut-time", 5);
  const double timeout = seconds_option(inv, "timeout", 30);
  const auto started = std::chrono::steady_clock::now();
  ask_daemon(inv, client, {{"op", "host.drain"}, {"gshut_time", gshut}, {"timeout", timeout}});
  const bool table = inv.globals.output != OutputFormat::kJson;
  std::string last_state;
  // The daemon ends the wait at its timeout; a little more here covers the
  // 100 ms ticks and a slow answer.
  const auto give_up = started + std::chrono::duration<double>(gshut + timeout + 10);
  json shown;
  for (;;) {
    shown = ask_daemon(inv, client, {{"op", "bgp.show"}});
    const std::string state = shown["host"].value("state", "");
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (table && state != last_state) {
      if (state == "graceful-shutdown") {
        std::fprintf(stderr, "%.1f s: routes tagged graceful-shutdown (65535:0) for %.1f s\n",
                     elapsed, gshut);
      } else if (state == "withdrawn") {
        std::fprintf(stderr, "%.1f s: routes withdrawn; waiting for VIP traffic to stop\n",
                     elapsed);
      }
    }
    last_state = state;
    if (state == "drained") break;
    if (state == "serving") {
      throw CliError(Exit::kInternal, "the host is serving again ('lbctl host undrain' ran?)", "");
    }
    if (std::chrono::steady_clock::now() > give_up) {
      throw CliError(Exit::kInternal,
                     "the host did not reach 'drained' in time (state " + state + ")",
                     "run 'lbctl bgp show' to see where it is");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!table) {
    out += json_text(json{{"host", shown["host"]}, {"elapsed_s", elapsed}});
    return;
  }
  char line[160];
  const bool stopped = shown["host"].value("traffic_stopped", false);
  std::snprintf(line, sizeof line, "host drained in %.1f s: routes withdrawn, %s\n", elapsed,
                stopped ? "VIP traffic stopped"
                        : "but VIP traffic still arrived when the timeout ended the wait");
  out += line;
}

void cmd_host_undrain(const Invocation& inv, ApiClient& client, std::string& out) {
  const json result = ask_daemon(inv, client, {{"op", "host.undrain"}});
  if (inv.globals.output == OutputFormat::kJson) {
    out += json_text(result);
    return;
  }
  out += result["host"].value("already", false)
             ? "host was serving already\n"
             : "host serving: every VIP address that can serve is announced now\n";
}

}  // namespace sluice::lbctl
