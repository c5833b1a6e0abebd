// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/): frames
// built with tests/fixtures/packet_builder.h aimed at the VIPs of
// fuzz_tables.h, transactions encoded by the real encode_transaction, and
// request lines of every API operation. The files are checked in; rerun
// after a change to the record layout or the tables:
//   build/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/control_segment.h"
#include "tests/fixtures/packet_builder.h"
#include "tests/fuzz/fuzz_tables.h"

namespace {

using sluice::test::Bytes;
using sluice::test::ip;
using sluice::test::mac;
using sluice::test::PacketBuilder;

std::filesystem::path g_out;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  const auto dir = g_out / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// The packet target's control byte (fuzz_packets.cc).
struct Ctl {
  bool ext = false;
  unsigned segs = 1;     // 1..4
  unsigned repeats = 1;  // 1..8
  bool several = false;
  bool second = false;
  uint8_t byte() const {
    return static_cast<uint8_t>((ext ? 0x01 : 0) | (segs - 1) << 1 | (repeats - 1) << 3 |
                                (several ? 0x40 : 0) | (second ? 0x80 : 0));
  }
};

void frame(const std::string& name, const PacketBuilder& p, Ctl ctl = {}) {
  Bytes b{ctl.byte()};
  const Bytes f = p.build();
  b.insert(b.end(), f.begin(), f.end());
  write("packets", name, b);
}

void frames(const std::string& name, const std::vector<PacketBuilder>& ps, Ctl ctl) {
  ctl.several = true;
  Bytes b{ctl.byte()};
  for (const PacketBuilder& p : ps) {
    const Bytes f = p.build();
    b.push_back(static_cast<uint8_t>(f.size() >> 8));
    b.push_back(static_cast<uint8_t>(f.size()));
    b.insert(b.end(), f.begin(), f.end());
  }
  write("packets", name, b);
}

PacketBuilder v4(const char* dst, const char* src = "203.0.113.7") {
  return PacketBuilder()
      .eth(mac("02:00:5e:00:00:01"), mac("02:00:5e:00:00:99"))
      .ipv4(ip(src), ip(dst));
}
PacketBuilder v6(const char* dst, const char* src = "2001:db8:c::7") {
  return PacketBuilder()
      .eth(mac("02:00:5e:00:00:01"), mac("02:00:5e:00:00:99"))
      .ipv6(ip(src), ip(dst));
}

void packets() {
  frame("v4-tcp-syn", v4("192.0.2.10").tcp(40000, 80, 0x02));
  frame("v4-tcp-established", v4("192.0.2.10").tcp(40001, 80).payload_size(100),
        Ctl{.repeats = 4, .second = true});
  frame("v4-udp-gue-to-v6", v4("192.0.2.10").udp(40000, 53).payload_size(32));
  frame("v4-tcp-all-ports-to-v6", v4("192.0.2.11").tcp(40000, 8080));
  frame("v6-tcp", v6("2001:db8::10").tcp(40000, 80).payload_size(20));
  frame("v6-udp-all-ports-gue-to-v4", v6("2001:db8::10").udp(40000, 5353).payload_size(40));
  frame("v6-tcp-gue", v6("2001:db8::11").tcp(40000, 443));
  frame("v4-echo", v4("192.0.2.10").icmp(8, 0, 0x51500007).payload_size(56));
  frame("v6-echo", v6("2001:db8::10").icmp(128, 0, 0x51500007).payload_size(56));
  frame(
      "v4-icmp-error-for-flow",
      v4("192.0.2.10", "203.0.113.254")
          .icmp(3, 4, 1400)
          .payload(
              PacketBuilder().ipv4(ip("192.0.2.10"), ip("203.0.113.7")).tcp(80, 40000).datagram()));
  frame("v6-packet-too-big-for-flow",
        v6("2001:db8::10", "2001:db8:c::fe")
            .icmp(2, 0, 1280)
            .payload(PacketBuilder()
                         .ipv6(ip("2001:db8::10"), ip("2001:db8:c::7"))
                         .tcp(80, 40000)
                         .datagram()));
  frame("v4-too-big-df", v4("192.0.2.10").tcp(40000, 80).payload_size(1460));
  frame("v4-too-big-may-fragment", v4("192.0.2.10").ipv4_frag(0).tcp(40000, 80).payload_size(1460));
  frame("v6-too-big-segmented", v6("2001:db8::10").udp(40000, 9999).payload_size(4000),
        Ctl{.segs = 2});
  frame("v4-vlan", v4("192.0.2.10").vlan(100).tcp(40000, 80).payload_size(10));
  frame("v4-vlan-stacked", v4("192.0.2.10").vlan(100, 0x88A8).vlan(200).tcp(40000, 80));
  frame("v6-hop-by-hop", v6("2001:db8::10").ipv6_ext(0, {1, 4, 0, 0, 0, 0}).tcp(40000, 80));
  frame("v6-fragment-header", v6("2001:db8::10").ipv6_ext(44, {0, 0, 0, 0, 0, 1}).tcp(40000, 80));
  frame("v4-padded-external-segments", v4("192.0.2.10").udp(40000, 53).payload_size(4).pad_to(200),
        Ctl{.ext = true, .segs = 3});
  frame("v4-gue-v6-external-segments", v4("192.0.2.10").udp(40000, 53).payload_size(1000),
        Ctl{.ext = true, .segs = 4});
  // Inputs that found bugs, kept as regressions (README.md, Findings).
  frame("regression-padding-in-tunnel", v4("192.0.2.10").udp(40000, 53).payload_size(4).pad_to(200),
        Ctl{.segs = 3});
  frame("regression-odd-segment-checksum", v4("192.0.2.10").udp(40000, 53).payload_size(1001),
        Ctl{.segs = 2});
  frame("regression-echo-reply-cut", v4("192.0.2.10").icmp(8, 0, 0x51500007).payload_size(56),
        Ctl{.segs = 2});
  frame("regression-zero-echo-checksum", v4("192.0.2.10").icmp(8, 0, 0));
  frame("v4-fragment", v4("192.0.2.10").ipv4_frag(0x2000).tcp(40000, 80));
  frame("v4-options", v4("192.0.2.10").ipv4_options({1, 1, 1, 1}).tcp(40000, 80));
  frame("v4-ttl-1", v4("192.0.2.10").ttl(1).tcp(40000, 80));
  frame("v4-vip-without-backends", v4("192.0.2.12").tcp(40000, 80));
  frame("v4-vip-weight-0", v4("192.0.2.13").tcp(40000, 80));
  frame("v4-truncated", v4("192.0.2.10").tcp(40000, 80).truncate_to(40));
  frame("v4-not-for-us", v4("10.0.0.1").tcp(40000, 80));
  frame("v4-too-big-repeated", v4("192.0.2.10").tcp(40000, 80).payload_size(1460),
        Ctl{.repeats = 8});
  frame("v6-routing-header", v6("2001:db8::10").ipv6_ext(43, {0, 0, 0, 0, 0, 0}).tcp(40000, 80));
  frame("v4-icmp-error-too-big", v4("192.0.2.10", "203.0.113.254")
                                     .icmp(3, 4, 1400)
                                     .payload(PacketBuilder()
                                                  .ipv4(ip("192.0.2.10"), ip("203.0.113.7"))
                                                  .tcp(80, 40000)
                                                  .payload_size(1460)
                                                  .datagram()));
  // Link-layer admission and the ICMP rules (RFC 1122 3.2.2, RFC 4443 2.4).
  frame("l2-broadcast-syn", v4("192.0.2.10").eth(mac("ff:ff:ff:ff:ff:ff"), mac("02:00:5e:00:00:99"))
                                .tcp(40000, 80, 0x02));
  frame("l2-other-host", v6("2001:db8::10").eth(mac("02:00:5e:00:00:77"), mac("02:00:5e:00:00:99"))
                             .tcp(40000, 80));
  frame("v4-echo-bad-checksum",
        v4("192.0.2.10").icmp(8, 0, 0x51500007).payload_size(56).corrupt_l4_checksum());
  frame("v6-echo-code-1", v6("2001:db8::10").icmp(128, 1, 0x51500007).payload_size(8));
  frame("v6-echo-hop-by-hop", v6("2001:db8::10").ipv6_ext(0, {1, 4, 0, 0, 0, 0})
                                  .icmp(128, 0, 0x51500007).payload_size(8));
  frame("v4-echo-from-multicast", v4("192.0.2.10", "224.0.0.1").icmp(8, 0, 0x51500007));
  frame("v6-too-big-from-multicast",
        v6("2001:db8::10", "ff02::1").tcp(40000, 80).payload_size(1440));
  std::vector<PacketBuilder> many;
  for (uint16_t i = 0; i < 24; ++i) {
    many.push_back(v4("192.0.2.10").tcp(static_cast<uint16_t>(1000 + i), 80));
    if (i % 3 == 0) many.push_back(v6("2001:db8::10").udp(static_cast<uint16_t>(2000 + i), 53));
  }
  frames("many-flows", many, Ctl{.second = true});
  frames("burst-mixed",
         {v4("192.0.2.10").tcp(40000, 80), v4("192.0.2.10").tcp(40002, 80),
          v6("2001:db8::10").udp(1234, 53), v4("192.0.2.10").icmp(8, 0, 1),
          v6("2001:db8::11").tcp(40000, 443).payload_size(1500)},
         Ctl{.repeats = 2, .second = true});
}

void transactions() {
  using sluice::Record;
  auto encode_transaction = [](const sluice::TableConfig& c, uint64_t txn) {
    return sluice::encode_transaction(sluice::full_delta(c), txn);
  };
  auto write_records = [](const std::string& name, const std::vector<Record>& records) {
    Bytes b;
    for (const Record& r : records) b.insert(b.end(), r.begin(), r.end());
    write("transaction", name, b);
  };
  const sluice::TableConfig tables = sluice::fuzz::packet_tables();
  write_records("packet-tables", encode_transaction(tables, 1));
  sluice::TableConfig one;
  one.vips = {tables.vips[0]};
  write_records("one-vip", encode_transaction(one, 7));
  write_records("empty", encode_transaction(sluice::TableConfig{}, 9));
  // A torn transaction (a control plane that died after two records), then
  // a whole one.
  std::vector<Record> torn = encode_transaction(one, 10);
  torn.resize(2);
  const std::vector<Record> whole = encode_transaction(tables, 11);
  torn.insert(torn.end(), whole.begin(), whole.end());
  write_records("torn-then-whole", torn);
  // The whole state, then deltas on it: one backend drained, one VIP gone.
  sluice::TableConfig drained = tables;
  drained.vips[0].backends[0].state = sluice::BackendState::kDraining;
  std::vector<Record> deltas = encode_transaction(tables, 12);
  for (const Record& r : sluice::encode_transaction(sluice::diff_configs(tables, drained), 13)) {
    deltas.push_back(r);
  }
  sluice::TableConfig fewer = drained;
  fewer.vips.pop_back();
  for (const Record& r : sluice::encode_transaction(sluice::diff_configs(drained, fewer), 14)) {
    deltas.push_back(r);
  }
  write_records("whole-then-deltas", deltas);
}

void api() {
  auto line = [](const std::string& name, const std::string& text) {
    write("api", name, Bytes(text.begin(), text.end()));
  };
  line("status", R"({"op": "status"})");
  line("stats", R"({"op": "stats"})");
  line("vip-list", R"({"op": "vip.list"})");
  line("vip-show", R"({"op": "vip.show", "vip": "192.0.2.10:80/tcp"})");
  line("backend-list", R"({"op": "backend.list", "vip": "[2001:db8::10]:53/udp"})");
  line("config-export", R"({"op": "config.export"})");
  line("vip-add",
       R"({"op": "vip.add", "vip": {"address": "192.0.2.20", "port": 443, "protocol": "tcp", )"
       R"("encap": "gue", "table_size": 251}})");
  line("vip-del", R"({"op": "vip.del", "vip": "192.0.2.11:0/tcp"})");
  line("backend-add",
       R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp", "backend": {"name": "web-4", )"
       R"("address": "198.51.100.9", "weight": 2, "state": "active"}})");
  line("backend-set",
       R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 5, )"
       R"("state": "draining"})");
  line("backend-del", R"({"op": "backend.del", "vip": "192.0.2.10:80/tcp", "name": "web-2"})");
  const std::string config =
      R"({"vips": [{"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 7, )"
      R"("backends": [{"name": "a", "address": "198.51.100.1", "weight": 1, "state": "active"}]}, )"
      R"({"address": "2001:db8::20", "port": 0, "protocol": "udp", "encap": "gue", )"
      R"("backends": [{"name": "b", "address": "198.51.100.7"}]}]})";
  line("config-check", R"({"op": "config.check", "config": )" + config + "}");
  line("config-apply", R"({"op": "config.apply", "config": )" + config + "}");
  line("flow-explain", R"({"op": "flow.explain", "client": "203.0.113.7", "client_port": 40000, )"
                       R"("vip": "192.0.2.10", "vip_port": 80, "protocol": "tcp"})");
  // Several requests on one connection: a change, its effects, the way back.
  line("session",
       R"({"op": "vip.add", "vip": {"address": "2001:db8::30", "port": 80, "protocol": "tcp", )"
       R"("table_size": 7}})"
       "\n"
       R"({"op": "backend.add", "vip": "[2001:db8::30]:80/tcp", )"
       R"("backend": {"name": "x", "address": "2001:db8:b::30"}})"
       "\n"
       R"({"op": "flow.explain", "client": "2001:db8:c::7", "client_port": 1, )"
       R"("vip": "2001:db8::30", "vip_port": 80, "protocol": "tcp"})"
       "\r\n"
       R"({"op": "backend.del", "vip": "[2001:db8::30]:80/tcp", "name": "x"})"
       "\n\n"
       R"({"op": "vip.del", "vip": "[2001:db8::30]:80/tcp"})"
       "\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  packets();
  transactions();
  api();
  return 0;
}
