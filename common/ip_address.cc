#include "common/ip_address.h"

#include <arpa/inet.h>

#include <cstdio>

namespace sluice {

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  // inet_pton needs a terminated string; addresses are short.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress addr;
  if (inet_pton(AF_INET, buf, addr.bytes) == 1) {
    addr.family = 4;
    return addr;
  }
  if (inet_pton(AF_INET6, buf, addr.bytes) == 1) {
    addr.family = 6;
    return addr;
  }
  return std::nullopt;
}

std::string format_ip_address(const IpAddress& addr) {
  char buf[INET6_ADDRSTRLEN] = "invalid";
  if (addr.family == 4) {
    inet_ntop(AF_INET, addr.bytes, buf, sizeof buf);
  } else if (addr.family == 6) {
    inet_ntop(AF_INET6, addr.bytes, buf, sizeof buf);
  }
  return buf;
}

bool parse_mac_address(std::string_view text, uint8_t out[6]) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    unsigned value = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = text[i * 3 + j];
      unsigned digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return false;
      }
      value = value * 16 + digit;
    }
    if (i < 5 && text[i * 3 + 2] != ':') return false;
    out[i] = static_cast<uint8_t>(value);
  }
  return true;
}

std::string format_mac_address(const uint8_t mac[6]) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return text;
}

}  // namespace sluice
