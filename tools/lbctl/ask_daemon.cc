#include "tools/lbctl/ask_daemon.h"

#include "tools/lbctl/api_client.h"
#include "tools/lbctl/exit_codes.h"

namespace sluice::lbctl {

json ask_daemon(const Invocation& inv, ApiClient& client, const json& request) {
  const json answer = client.call(request);
  if (answer["ok"].get<bool>()) return answer["result"];
  const json& e = answer["error"];
  const std::string code = e["code"].get<std::string>();
  const Exit exit = exit_for_daemon_code(code);
  std::string hint;
  if (exit == Exit::kNotFound) {
    hint = "run 'lbctl vip list' (or 'lbctl backend list VIPKEY') to see what exists";
  } else if (exit == Exit::kInvalid || exit == Exit::kUsage) {
    hint = "run '" + command_name(*inv.command) + " --help' for the accepted values";
  } else if (exit == Exit::kPending) {
    hint = "do not retry: the change is the desired state already";
  }
  throw CliError(exit, e["message"].get<std::string>(), hint);
}

}  // namespace sluice::lbctl
