// lb-controlplane --metrics-address: "HOST:PORT" (an IPv4 address, or an
// IPv6 one in brackets, as civetweb listens on it) or "none". Start-up only.
#pragma once

#include <string>

namespace sluice::cp {

// Returns an error naming what is wrong, empty when `text` is good;
// `host_port` is the address to listen on, empty for "none".
std::string parse_metrics_address(const std::string& text, std::string& host_port);

}  // namespace sluice::cp
