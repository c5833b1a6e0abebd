#include "controlplane/metrics_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace sluice::cp {

std::string parse_metrics_address(const std::string& text, std::string& host_port) {
  host_port.clear();
  if (text == "none") return {};
  const std::string why = "--metrics-address '" + text +
                          "' is not HOST:PORT (an IPv4 address, or an IPv6 one in brackets, "
                          "and a port 0 to 65535) or 'none'";
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return why;
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return why;
  }
  in6_addr a6{};
  in_addr a4{};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6) != 1) return why;
  } else if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
    return why;
  }
  host_port = text;
  return {};
}

}  // namespace sluice::cp
