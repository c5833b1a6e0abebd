// Local parsing of what operators type: VIP keys, ports, numbers and the
// enumerations of docs/control-api.md, and JSON files with the position of a
// syntax error. lbctl checks these before contacting lb-controlplane so that
// a typo gets a precise message (exit 3); the daemon still validates the
// resulting change as a whole. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace sluice::lbctl {

// A VIP as it is named: ADDRESS:PORT/PROTOCOL, IPv6 in brackets.
struct VipKey {
  IpAddress address;
  uint16_t port = 0;     // 0 = all ports
  std::string protocol;  // "tcp" or "udp"
};

// Each parse_* returns an empty string on success and fills `out`; otherwise
// a message naming the text and what is wrong with it, leaving `out` as is.
std::string parse_vip_key(std::string_view text, VipKey& out);
std::string parse_port(std::string_view text, uint16_t& out, std::string_view what = "port");
// Decimal digits only (no sign, no spaces), at most `max`.
std::string parse_uint(std::string_view what, std::string_view text, uint64_t max, uint64_t& out);
std::string parse_address(std::string_view what, std::string_view text, IpAddress& out);
// Case-insensitive; `out` is the lower-case name.
std::string parse_protocol(std::string_view text, std::string& out);
std::string parse_encap(std::string_view text, std::string& out);
std::string parse_backend_state(std::string_view text, std::string& out);
// The names of common/scheduler.h: a scheduler, a no-backend answer.
std::string parse_scheduler_name(std::string_view text, std::string& out);
std::string parse_no_backend_name(std::string_view text, std::string& out);

// The canonical key: lower-case protocol, the address as format_ip_address
// prints it (compressed IPv6 in brackets). lbctl always sends this form.
std::string format_vip_key(const VipKey& key);
// ADDRESS:PORT with IPv6 in brackets.
std::string format_endpoint(const IpAddress& address, uint16_t port);

// Reads `text` (the contents of `name`) as JSON. On a syntax error returns
// "NAME:LINE:COLUMN: not valid JSON: <what the parser expected>"; for a key
// twice in one object "NAME: PATH: duplicate key 'KEY' (...)".
std::string parse_json_text(std::string_view name, const std::string& text, nlohmann::json& out);

extern const char* const kVipKeyHint;

}  // namespace sluice::lbctl
