#include "tools/lbctl/values.h"

#include "common/scheduler.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "common/json_strict.h"

namespace sluice::lbctl {

const char* const kVipKeyHint =
    "VIP keys look like 192.0.2.10:80/tcp or [2001:db8::10]:53/udp (port 0 = all ports)";

namespace {

std::string lower(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Appends rather than `"'" + std::string(...)`, which trips GCC 12's false
// -Wrestrict (GCC bug 105329) under -O2.
std::string quoted(std::string_view text) {
  std::string s = "'";
  s.append(text);
  s += '\'';
  return s;
}

}  // namespace

std::string parse_uint(std::string_view what, std::string_view text, uint64_t max, uint64_t& out) {
  const std::string bad = std::string(what) + " " + quoted(text);
  if (text.empty()) return std::string(what) + " is empty";
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return bad + " is not a non-negative integer";
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, digit, &value) ||
        value > max) {
      return bad + " is out of range [0, " + std::to_string(max) + "]";
    }
  }
  out = value;
  return {};
}

std::string parse_port(std::string_view text, uint16_t& out, std::string_view what) {
  uint64_t value = 0;
  if (std::string e = parse_uint(what, text, 65535, value); !e.empty()) return e;
  out = static_cast<uint16_t>(value);
  return {};
}

std::string parse_address(std::string_view what, std::string_view text, IpAddress& out) {
  const auto addr = parse_ip_address(text);
  if (!addr) return std::string(what) + " " + quoted(text) + " is not an IPv4 or IPv6 address";
  out = *addr;
  return {};
}

std::string parse_protocol(std::string_view text, std::string& out) {
  const std::string p = lower(text);
  if (p != "tcp" && p != "udp") return "protocol " + quoted(text) + " is not tcp or udp";
  out = p;
  return {};
}

std::string parse_encap(std::string_view text, std::string& out) {
  const std::string e = lower(text);
  if (e != "ipip" && e != "gue") return "encap " + quoted(text) + " is not ipip or gue";
  out = e;
  return {};
}

std::string parse_scheduler_name(std::string_view text, std::string& out) {
  const std::string s = lower(text);
  if (!parse_scheduler(s)) return "scheduler " + quoted(text) + " is not " + scheduler_names();
  out = s;
  return {};
}

std::string parse_no_backend_name(std::string_view text, std::string& out) {
  const std::string s = lower(text);
  if (!parse_no_backend(s)) {
    return "no-backend " + quoted(text) + " is not " + no_backend_names();
  }
  out = s;
  return {};
}

std::string parse_backend_state(std::string_view text, std::string& out) {
  const std::string s = lower(text);
  if (s != "active" && s != "draining" && s != "disabled") {
    return "state " + quoted(text) + " is not active, draining or disabled";
  }
  out = s;
  return {};
}

std::string parse_vip_key(std::string_view text, VipKey& out) {
  const std::string prefix = "VIP key " + quoted(text) + ": ";
  const size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) return prefix + "no /PROTOCOL at the end";
  std::string_view endpoint = text.substr(0, slash);
  VipKey key;
  if (std::string e = parse_protocol(text.substr(slash + 1), key.protocol); !e.empty()) {
    return prefix + e;
  }
  std::string_view address, port;
  if (!endpoint.empty() && endpoint.front() == '[') {
    const size_t close = endpoint.find(']');
    if (close == std::string_view::npos) return prefix + "no ']' after the IPv6 address";
    address = endpoint.substr(1, close - 1);
    if (close + 1 >= endpoint.size() || endpoint[close + 1] != ':') {
      return prefix + "no :PORT after the address";
    }
    port = endpoint.substr(close + 2);
    if (std::string e = parse_address("address", address, key.address); !e.empty()) {
      return prefix + e;
    }
    if (!key.address.is_v6()) return prefix + "brackets are for IPv6 addresses only";
  } else {
    const size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return prefix + "no :PORT after the address";
    address = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
    if (address.find(':') != std::string_view::npos) {
      return prefix + "an IPv6 address must be in brackets, as in [2001:db8::10]:53/udp";
    }
    if (std::string e = parse_address("address", address, key.address); !e.empty()) {
      return prefix + e;
    }
  }
  if (std::string e = parse_port(port, key.port); !e.empty()) return prefix + e;
  out = std::move(key);
  return {};
}

std::string format_endpoint(const IpAddress& address, uint16_t port) {
  const std::string a = format_ip_address(address);
  return (address.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

std::string format_vip_key(const VipKey& key) {
  return format_endpoint(key.address, key.port) + "/" + key.protocol;
}

std::string parse_json_text(std::string_view name, const std::string& text, nlohmann::json& out) {
  try {
    // Syntax first, for the LINE:COLUMN form below; then the strict reading,
    // which the daemon applies too: a key twice in one object is refused
    // here, naming its path, rather than the last one silently winning.
    nlohmann::json parsed = nlohmann::json::parse(text);
    JsonStrictError strict;
    if (!parse_json_strict(text, parsed, strict)) return std::string(name) + ": " + strict.message;
    out = std::move(parsed);
    return {};
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line L,
    // column C: <detail>"; keep the position and the detail, in the
    // FILE:LINE:COLUMN form editors jump to.
    static const std::regex kPosition(R"(at line (\d+), column (\d+): (.*)$)");
    std::cmatch m;
    const std::string where(name);
    if (std::regex_search(e.what(), m, kPosition)) {
      return where + ":" + m[1].str() + ":" + m[2].str() + ": not valid JSON: " + m[3].str();
    }
    return where + ": not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what();
  }
}

}  // namespace sluice::lbctl
