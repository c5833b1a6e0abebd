#include "tools/bench/addresses.h"

#include <stdexcept>
#include <string>

namespace sluice::bench {

namespace {

uint16_t be16(uint32_t v) { return __builtin_bswap16(static_cast<uint16_t>(v)); }

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// 2001:db8:<group>::<low 32 bits>
void v6_address(uint8_t* out, uint16_t group, uint32_t low) {
  const uint8_t prefix[6] = {0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(group >> 8),
                             static_cast<uint8_t>(group)};
  for (int i = 0; i < 16; ++i) out[i] = 0;
  for (int i = 0; i < 6; ++i) out[i] = prefix[i];
  put_be32(out + 12, low);
}

}  // namespace

Endpoint client_endpoint(uint8_t family, uint32_t flow) {
  Endpoint e;
  e.family = family;
  if (family == 4) {
    e.addr[0] = 203;
    e.addr[1] = 0;
    e.addr[2] = 113;
    e.addr[3] = static_cast<uint8_t>(flow & 0xFF);
    e.port_be = be16(1024 + (flow >> 8));
  } else {
    v6_address(e.addr, 0xc, flow);
    e.port_be = be16(1024 + flow % 64512);
  }
  return e;
}

Endpoint vip_endpoint(uint8_t family, uint32_t index) {
  Endpoint e;
  e.family = family;
  if (family == 4) {
    e.addr[0] = 192;
    e.addr[1] = 0;
    e.addr[2] = 2;
    e.addr[3] = static_cast<uint8_t>(1 + index % 250);
    e.port_be = be16(80 + index / 250);
  } else {
    v6_address(e.addr, 0x1, 1 + index % 250);
    e.port_be = be16(80 + index / 250);
  }
  return e;
}

Endpoint non_vip_endpoint(uint8_t family) {
  Endpoint e;
  e.family = family;
  if (family == 4) {
    e.addr[0] = 192;
    e.addr[1] = 0;
    e.addr[2] = 2;
    e.addr[3] = 253;
  } else {
    v6_address(e.addr, 0x1, 0xfffd);
  }
  e.port_be = be16(80);
  return e;
}

IpAddress backend_address(uint8_t family, uint32_t index) {
  IpAddress a;
  a.family = family;
  if (family == 4) {
    if (index >= 250) {
      throw std::invalid_argument("IPv4 documentation space holds 250 backends per VIP, not " +
                                  std::to_string(index + 1));
    }
    a.bytes[0] = 198;
    a.bytes[1] = 51;
    a.bytes[2] = 100;
    a.bytes[3] = static_cast<uint8_t>(1 + index);
  } else {
    v6_address(a.bytes, 0xb, 1 + index);
  }
  return a;
}

IpAddress outer_source(uint8_t family) {
  IpAddress a;
  a.family = family;
  if (family == 4) {
    a.bytes[0] = 192;
    a.bytes[1] = 0;
    a.bytes[2] = 2;
    a.bytes[3] = 254;
  } else {
    v6_address(a.bytes, 0, 1);
  }
  return a;
}

Endpoint router_endpoint(uint8_t family) {
  Endpoint e;
  e.family = family;
  if (family == 4) {
    e.addr[0] = 198;
    e.addr[1] = 51;
    e.addr[2] = 100;
    e.addr[3] = 254;
  } else {
    v6_address(e.addr, 0xfe, 1);
  }
  return e;
}

}  // namespace sluice::bench
