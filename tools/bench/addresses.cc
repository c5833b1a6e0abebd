#include "tools/bench/addresses.h"

#include <stdexcept>
#include <string>

namespace sluice::bench {

namespace {

uint16_t be16(uint32_t v) { return __builtin_bswap16(static_cast<uint16_t>(v)); }

// a.b.c.d into 4 bytes.
void v4_address(uint8_t* out, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  out[0] = static_cast<uint8_t>(a);
  out[1] = static_cast<uint8_t>(b);
  out[2] = static_cast<uint8_t>(c);
  out[3] = static_cast<uint8_t>(d);
}

void put_be32(uint8_t* p, uint32_t v) { v4_address(p, v >> 24, v >> 16, v >> 8, v); }

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
    v4_address(e.addr, 203, 0, 113, flow & 0xFF);
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
    v4_address(e.addr, 192, 0, 2, 1 + index % 250);
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
    v4_address(e.addr, 192, 0, 2, 253);
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
    v4_address(a.bytes, 198, 51, 100, static_cast<uint8_t>(1 + index));
  } else {
    v6_address(a.bytes, 0xb, 1 + index);
  }
  return a;
}

IpAddress outer_source(uint8_t family) {
  IpAddress a;
  a.family = family;
  if (family == 4) {
    v4_address(a.bytes, 192, 0, 2, 254);
  } else {
    v6_address(a.bytes, 0, 1);
  }
  return a;
}

Endpoint router_endpoint(uint8_t family) {
  Endpoint e;
  e.family = family;
  if (family == 4) {
    v4_address(e.addr, 198, 51, 100, 254);
  } else {
    v6_address(e.addr, 0xfe, 1);
  }
  return e;
}

}  // namespace sluice::bench
