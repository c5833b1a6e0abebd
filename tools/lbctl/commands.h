// The handlers of lbctl's commands: each turns a parsed Invocation into one
// request of docs/control-api.md, maps a daemon error to its exit code and a
// hint, and renders the answer (table or JSON). Single-threaded.
#pragma once

#include <string>

#include "tools/lbctl/cli.h"

namespace sluice::lbctl {

void cmd_vip_add(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_vip_del(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_vip_list(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_vip_show(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_vip_set(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_add(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_del(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_set_weight(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_drain(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_enable(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_disable(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_backend_list(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_config_apply(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_config_check(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_config_export(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_status(const Invocation& inv, ApiClient& client, std::string& out);
void cmd_flow_explain(const Invocation& inv, ApiClient& client, std::string& out);

}  // namespace sluice::lbctl
