#include "controlplane/vip_key.h"

#include "controlplane/api_error.h"

#include <charconv>
#include <cstring>

namespace sluice::cp {

VipKey key_of(const VipConfig& vip) { return VipKey{vip.address, vip.port, vip.protocol}; }

bool same_key(const VipKey& a, const VipKey& b) {
  return a.address == b.address && a.port == b.port && a.protocol == b.protocol;
}

bool key_less(const VipKey& a, const VipKey& b) {
  return vip_order_less(a.address, a.port, a.protocol, b.address, b.port, b.protocol);
}

std::string format_vip_key(const VipKey& key) {
  const std::string addr = format_ip_address(key.address);
  const std::string host = key.address.family == 6 ? "[" + addr + "]" : addr;
  return host + ":" + std::to_string(key.port) + "/" + protocol_name(key.protocol);
}

uint8_t parse_protocol(std::string_view name) {
  if (name == "tcp") return 6;
  if (name == "udp") return 17;
  return 0;
}

std::optional<VipKey> parse_vip_key(std::string_view text, std::string& error) {
  const std::string quoted = in_quotes(text, 80);
  const auto slash = text.rfind('/');
  const auto colon = text.rfind(':', slash);
  if (slash == std::string_view::npos || colon == std::string_view::npos || colon == 0) {
    error = quoted + " is not a VIP key like 192.0.2.10:80/tcp or [2001:db8::10]:53/udp";
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1, slash - colon - 1);
  const std::string_view proto_text = text.substr(slash + 1);
  bool bracketed = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    bracketed = true;
  }
  VipKey key;
  const auto addr = parse_ip_address(host);
  if (!addr || (addr->family == 6) != bracketed) {
    error =
        quoted + ": '" + std::string(host) + "' is not an IPv4 address or a bracketed IPv6 address";
    return std::nullopt;
  }
  key.address = *addr;
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    error = quoted + ": port '" + std::string(port_text) + "' is not a number in [0, 65535]";
    return std::nullopt;
  }
  key.port = static_cast<uint16_t>(port);
  key.protocol = parse_protocol(proto_text);
  if (key.protocol == 0) {
    error = quoted + ": protocol '" + std::string(proto_text) + "' is not tcp or udp";
    return std::nullopt;
  }
  return key;
}

}  // namespace sluice::cp
