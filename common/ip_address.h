// An IPv4 or IPv6 address as Sluice stores it: family plus 16 bytes in
// network order (IPv4 in the first 4 bytes, the rest zero, matching FlowKey).
// Parsing and formatting for configuration, logs and tools; any thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

struct IpAddress {
  uint8_t family = 0;  // 4 or 6; 0 = unset
  uint8_t bytes[16] = {};

  bool is_v4() const { return family == 4; }
  bool is_v6() const { return family == 6; }
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family == b.family && std::memcmp(a.bytes, b.bytes, 16) == 0;
  }
  // IPv4 address as the 32-bit value found on the wire (network order).
  uint32_t v4_be() const {
    uint32_t v;
    std::memcpy(&v, bytes, 4);
    return v;
  }
};

// Accepts dotted-quad IPv4 or RFC 4291 IPv6 text; nullopt otherwise.
std::optional<IpAddress> parse_ip_address(std::string_view text);
std::string format_ip_address(const IpAddress& addr);

// Parses "aa:bb:cc:dd:ee:ff"; false if the text is not a MAC address.
bool parse_mac_address(std::string_view text, uint8_t out[6]);
// "aa:bb:cc:dd:ee:ff", lower case.
std::string format_mac_address(const uint8_t mac[6]);

}  // namespace sluice
