// Table configuration: strict JSON reading and whole-config validation. Every
// refusal must name the field and the value, and leave the output untouched.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/table_config.h"

namespace sluice {
namespace {

const char* kGood = R"({"vips": [
  {"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp", "encap": "ipip",
   "table_size": 251,
   "backends": [{"id": 1, "name": "a", "address": "198.51.100.1", "weight": 2},
                {"id": 2, "name": "b", "address": "198.51.100.2", "state": "draining"}]},
  {"id": 2, "address": "2001:db8::10", "port": 0, "protocol": "udp", "encap": "gue",
   "backends": [{"id": 3, "name": "c", "address": "192.0.2.50"}]}]})";

TableConfig parse_ok(const std::string& text) {
  ConfigDocument d;
  const std::string err = parse_config_document(text, d);
  EXPECT_EQ(err, "");
  return d.config;
}

TEST(TableConfigJson, ReadsEveryField) {
  const TableConfig c = parse_ok(kGood);
  ASSERT_EQ(c.vips.size(), 2u);
  const VipConfig& v = c.vips[0];
  EXPECT_EQ(v.id, 1u);
  EXPECT_EQ(format_ip_address(v.address), "192.0.2.10");
  EXPECT_EQ(v.port, 80);
  EXPECT_EQ(v.protocol, 6);
  EXPECT_EQ(v.encap, Encap::kIpip);
  EXPECT_EQ(v.table_size, 251u);
  ASSERT_EQ(v.backends.size(), 2u);
  EXPECT_EQ(v.backends[0].weight, 2u);
  EXPECT_EQ(v.backends[1].weight, 1u);  // default
  EXPECT_EQ(v.backends[1].state, BackendState::kDraining);
  EXPECT_EQ(c.vips[1].encap, Encap::kGue);
  EXPECT_EQ(c.vips[1].table_size, kMaglevDefaultTableSize);  // default
  EXPECT_EQ(c.vips[1].port, 0);
  EXPECT_EQ(validate_table_config(c, TableLimits{}), "");
}

TEST(TableConfigJson, RoundTrips) {
  const TableConfig c = parse_ok(kGood);
  const TableConfig again = parse_ok(table_config_to_json(c));
  EXPECT_EQ(table_config_to_json(again), table_config_to_json(c));
}

struct BadJson {
  const char* text;
  const char* error_has;
};

class TableConfigJsonRefuses : public ::testing::TestWithParam<BadJson> {};

TEST_P(TableConfigJsonRefuses, NamesTheField) {
  ConfigDocument d;
  ASSERT_EQ(parse_config_document(kGood, d), "");
  const std::string before = table_config_to_json(d.config);
  const std::string err = parse_config_document(GetParam().text, d);
  EXPECT_NE(err.find(GetParam().error_has), std::string::npos) << err;
  EXPECT_EQ(table_config_to_json(d.config), before) << "a refused parse changed the output";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TableConfigJsonRefuses,
    ::testing::Values(
        BadJson{"{", "not valid JSON"},
        BadJson{R"({"vips": [], "vips": []})", "config.vips: duplicate key 'vips'"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "port": 81,
                  "protocol": "tcp"}]})",
                "config.vips[0].port: duplicate key 'port'"},
        BadJson{"[]", "config: must be an object"},
        BadJson{R"({"vips": {}})", "config.vips: must be an array"},
        BadJson{R"({"vipz": []})", "config.vipz: unknown field"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "colour": "red"}]})",
                "config.vips[0].colour: unknown field"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.300", "port": 80, "protocol": "tcp"}]})",
                "'192.0.2.300' is not an IPv4 or IPv6 address"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": "80", "protocol": "tcp"}]})",
                "config.vips[0].port: must be a non-negative integer"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 70000, "protocol": "tcp"}]})",
                "config.vips[0].port: 70000 exceeds 65535"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "sctp"}]})",
                "'sctp' is not tcp or udp"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "encap": "gre"}]})",
                "'gre' is not ipip or gue"},
        BadJson{R"({"vips": [{"id": -1, "address": "192.0.2.10", "port": 80, "protocol": "tcp"}]})",
                "config.vips[0].id: must be a non-negative integer"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp"},
                           {"address": "192.0.2.11", "port": 80, "protocol": "tcp"}]})",
                "config.vips[1]: ids must be given for every VIP and backend, or for none"},
        BadJson{R"({})", "config.vips: is required"},
        BadJson{R"({"format": "something-else", "version": 1, "vips": []})",
                "config.format: 'something-else' is not"},
        BadJson{R"({"format": "sluice-controlplane-state", "version": 7, "vips": []})",
                "config.version: 7 is not 1"},
        BadJson{R"({"next_vip_id": 3, "vips": []})", "config.format: is required"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "backends": [{"id": 1, "name": "a", "address": "198.51.100.1",
                                "state": "sleepy"}]}]})",
                "config.vips[0].backends[0].state: 'sleepy' is not active, draining or disabled"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "backends": [{"id": 1, "name": 5, "address": "198.51.100.1"}]}]})",
                "config.vips[0].backends[0].name: must be a string"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "scheduler": "round-robin"}]})",
                "config.vips[0].scheduler: 'round-robin' is not maglev, source-hash, "
                "weighted-round-robin, least-connections or power-of-two"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "no_backend": "reject"}]})",
                "config.vips[0].no_backend: 'reject' is not drop, reset or unreachable"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 53, "protocol": "udp",
                  "no_backend": "reset"}]})",
                "config.vips[0].no_backend: no_backend reset answers with a TCP RST, and this "
                "VIP is not tcp"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "slow_start": 90000}]})",
                "config.vips[0].slow_start: slow_start 90000 s exceeds 86400"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "slow_start": -3}]})",
                "config.vips[0].slow_start: must be a non-negative integer"},
        BadJson{R"({"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
                  "backends": [{"id": 1, "name": "a", "address": "198.51.100.1",
                                "backup": "yes"}]}]})",
                "config.vips[0].backends[0].backup: must be true or false"}));

// The policy keys read, write back only when not the default, and travel
// the ring and the digest.
TEST(TableConfigJson, SchedulerKeys) {
  const TableConfig c = parse_ok(R"({"vips": [
    {"id": 1, "address": "192.0.2.10", "port": 80, "protocol": "tcp",
     "scheduler": "least-connections", "no_backend": "reset", "slow_start": 30,
     "backends": [{"id": 1, "name": "a", "address": "198.51.100.1"},
                  {"id": 2, "name": "b", "address": "198.51.100.2", "backup": true}]},
    {"id": 2, "address": "192.0.2.10", "port": 53, "protocol": "udp",
     "no_backend": "unreachable"}]})");
  const VipConfig& v = c.vips[0];
  EXPECT_EQ(v.scheduler, Scheduler::kLeastConnections);
  EXPECT_EQ(v.no_backend, NoBackend::kReset);
  EXPECT_EQ(v.slow_start_s, 30u);
  EXPECT_FALSE(v.backends[0].backup);
  EXPECT_TRUE(v.backends[1].backup);
  EXPECT_EQ(c.vips[1].scheduler, Scheduler::kMaglev);
  EXPECT_EQ(c.vips[1].no_backend, NoBackend::kUnreachable);
  const nlohmann::json j = nlohmann::json::parse(table_config_to_json(c));
  EXPECT_EQ(j["vips"][0]["scheduler"], "least-connections");
  EXPECT_EQ(j["vips"][0]["slow_start"], 30);
  EXPECT_EQ(j["vips"][0]["backends"][1]["backup"], true);
  EXPECT_FALSE(j["vips"][0]["backends"][0].contains("backup"));
  EXPECT_FALSE(j["vips"][1].contains("scheduler"));
  EXPECT_FALSE(j["vips"][1].contains("slow_start"));
  EXPECT_EQ(table_config_to_json(parse_ok(table_config_to_json(c))), table_config_to_json(c));
  EXPECT_EQ(validate_table_config(c, TableLimits{}), "");
}

TEST(ConfigDocument, OneDocumentInThreeWrappings) {
  // The operator's form (no ids), the same with ids, and the state file.
  const char* bare = R"({"vips": [
    {"address": "2001:db8::10", "port": 53, "protocol": "udp",
     "backends": [{"name": "z", "address": "2001:db8:2::1"}, {"name": "a", "address": "2001:db8:2::2"}]},
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp",
     "backends": [{"name": "web", "address": "198.51.100.1"}]}]})";
  ConfigDocument d;
  ASSERT_EQ(parse_config_document(bare, d), "");
  EXPECT_FALSE(d.has_ids);
  EXPECT_FALSE(d.state_file);
  number_in_order(d.config);
  // IPv4 first, backends by name, numbered in that order.
  ASSERT_EQ(d.config.vips.size(), 2u);
  EXPECT_EQ(format_ip_address(d.config.vips[0].address), "192.0.2.10");
  EXPECT_EQ(d.config.vips[0].id, 1u);
  EXPECT_EQ(d.config.vips[0].backends[0].id, 1u);
  EXPECT_EQ(d.config.vips[1].id, 2u);
  EXPECT_EQ(d.config.vips[1].backends[0].name, "a");
  EXPECT_EQ(d.config.vips[1].backends[0].id, 2u);
  EXPECT_EQ(d.config.vips[1].backends[1].id, 3u);

  ConfigDocument with_ids;
  ASSERT_EQ(parse_config_document(table_config_to_json(d.config, true), with_ids), "");
  EXPECT_TRUE(with_ids.has_ids);
  EXPECT_EQ(table_config_to_json(with_ids.config), table_config_to_json(d.config));

  nlohmann::json wrapper = table_config_json(d.config, true);
  wrapper["format"] = kStateFormat;
  wrapper["version"] = kStateVersion;
  wrapper["next_vip_id"] = 3;
  wrapper["next_backend_id"] = 4;
  const std::string state = wrapper.dump();
  ConfigDocument wrapped;
  ASSERT_EQ(parse_config_document(state, wrapped), "") << state;
  EXPECT_TRUE(wrapped.state_file);
  EXPECT_EQ(wrapped.next_vip_id, 3u);
  EXPECT_EQ(wrapped.next_backend_id, 4u);
  EXPECT_EQ(table_config_to_json(wrapped.config), table_config_to_json(d.config));

  ConfigDocument empty;
  ASSERT_EQ(parse_config_document(R"({"vips": []})", empty), "");
  EXPECT_TRUE(empty.config.vips.empty());
}

VipConfig vip(uint32_t id, const char* addr, uint16_t port) {
  VipConfig v;
  v.id = id;
  v.address = *parse_ip_address(addr);
  v.port = port;
  v.protocol = 6;
  v.table_size = 251;
  return v;
}

BackendConfig backend(uint32_t id, const char* name, const char* addr, uint32_t weight = 1) {
  BackendConfig b;
  b.id = id;
  b.name = name;
  b.address = *parse_ip_address(addr);
  b.weight = weight;
  return b;
}

TEST(TableConfigValidate, RefusesWithTheFieldNamed) {
  const TableLimits limits{.max_vips = 10, .max_backend_id = 100, .max_backends_per_vip = 5};
  auto expect_error = [&](const TableConfig& c, const std::string& has) {
    const std::string err = validate_table_config(c, limits);
    EXPECT_NE(err.find(has), std::string::npos) << "error: '" << err << "', wanted '" << has << "'";
  };
  TableConfig c;
  c.vips.push_back(vip(1, "192.0.2.10", 80));
  c.vips.push_back(vip(2, "192.0.2.10", 80));
  expect_error(c, "duplicate VIP");

  c.vips[1] = vip(1, "192.0.2.11", 80);
  expect_error(c, "id 1 is used by another VIP");

  c.vips.resize(1);
  c.vips[0].id = 11;
  expect_error(c, "id 11 is out of range [1, 10]");

  c.vips[0] = vip(1, "192.0.2.10", 80);
  c.vips[0].table_size = 65536;
  expect_error(c, "table_size 65536");

  c.vips[0].table_size = 7;
  for (uint32_t i = 1; i <= 8; ++i) {
    // Built by appending: GCC 12 warns falsely (-Wrestrict) on "b" + std::string.
    std::string name = "b", address = "198.51.100.";
    name += std::to_string(i);
    address += std::to_string(i);
    c.vips[0].backends.push_back(backend(i, name.c_str(), address.c_str()));
  }
  expect_error(c, "8 backends exceed the per-VIP limit of 5");
  c.vips[0].backends.resize(5);
  c.vips[0].table_size = 251;
  EXPECT_EQ(validate_table_config(c, limits), "");

  c.vips[0].backends[1].name = "b1";
  expect_error(c, "duplicate backend name 'b1'");
  c.vips[0].backends[1].name = "b2";

  c.vips[0].backends[1].address = c.vips[0].backends[0].address;
  expect_error(c, "duplicate backend address 198.51.100.1");
  c.vips[0].backends[1].address = *parse_ip_address("198.51.100.2");

  c.vips[0].backends[2].weight = kMaxBackendWeight + 1;
  expect_error(c, "weight 1000001 is out of range");
  c.vips[0].backends[2].weight = 0;
  EXPECT_EQ(validate_table_config(c, limits), "");

  c.vips[0].backends[3].id = 0;
  expect_error(c, "backend 'b4': id 0 is out of range [1, 100]");
  c.vips[0].backends[3].id = 4;

  c.vips.push_back(vip(2, "192.0.2.11", 80));
  c.vips[1].backends.push_back(backend(4, "other", "198.51.100.9"));
  expect_error(c, "id 4 is used twice");
  c.vips.resize(1);

  c.vips[0].backends[4].name = "";
  expect_error(c, "has an empty name");
  c.vips[0].backends[4].name = "b5";

  c.vips[0].backends[4].address.bytes[9] = 1;  // IPv4 with bytes past the fourth
  expect_error(c, "backend 'b5': address is not set or malformed");
  c.vips[0].backends[4].address.bytes[9] = 0;
  c.vips[0].address.bytes[15] = 7;
  expect_error(c, "vip: address is not set or malformed");
  c.vips[0].address.bytes[15] = 0;

  c.vips[0].protocol = 1;
  expect_error(c, "protocol 1 is not tcp (6) or udp (17)");
  c.vips[0].protocol = 6;
  EXPECT_EQ(validate_table_config(c, limits), "");
}

TEST(TableConfigValidate, EncapMustCarryTheFamilies) {
  TableConfig c;
  c.vips.push_back(vip(1, "2001:db8::10", 443));
  c.vips[0].backends.push_back(backend(1, "v4", "198.51.100.1"));
  c.vips[0].encap = Encap::kIpip;
  const std::string err = validate_table_config(c, TableLimits{});
  EXPECT_NE(err.find("encap ipip cannot carry IPv6"), std::string::npos) << err;
  c.vips[0].encap = Encap::kGue;
  EXPECT_EQ(validate_table_config(c, TableLimits{}), "");
  // v4-in-v6 IPIP is fine.
  TableConfig d;
  d.vips.push_back(vip(1, "192.0.2.10", 443));
  d.vips[0].backends.push_back(backend(1, "v6", "2001:db8:2::1"));
  EXPECT_EQ(validate_table_config(d, TableLimits{}), "");
  // ...unless the dataplane has no IPv6 outer source.
  TableLimits no_v6;
  no_v6.outer_v6 = false;
  EXPECT_NE(validate_table_config(d, no_v6).find("needs an IPv6 outer source"), std::string::npos);
}

TEST(IpAddress, ParsesAndFormats) {
  EXPECT_EQ(format_ip_address(*parse_ip_address("2001:db8::1")), "2001:db8::1");
  EXPECT_FALSE(parse_ip_address(""));
  EXPECT_FALSE(parse_ip_address("192.0.2"));
  EXPECT_FALSE(parse_ip_address(std::string(100, '1')));
  uint8_t mac[6];
  EXPECT_TRUE(parse_mac_address("02:00:00:00:00:fE", mac));
  EXPECT_EQ(mac[5], 0xFE);
  EXPECT_FALSE(parse_mac_address("02:00:00:00:00", mac));
  EXPECT_FALSE(parse_mac_address("02-00-00-00-00-01", mac));
  EXPECT_FALSE(parse_mac_address("0g:00:00:00:00:01", mac));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The table pair for drains (MaglevTurns): one table, no extra memory,
// while nothing drains; with a draining backend the existing-flows table is
// exactly the table from before the drain, and the new-flows table gives
// the draining backend no slot. A disabled backend has no turn in either.
TEST(MaglevTablePair, SecondChanceTableIsTheTableBeforeTheDrain) {
  VipConfig v;
  v.id = 1;
  v.address = *parse_ip_address("192.0.2.1");
  v.port = 80;
  v.protocol = 6;
  v.table_size = 4099;
  for (uint32_t i = 1; i <= 5; ++i) {
    BackendConfig be;
    be.id = i;
    be.name = "be-" + std::to_string(i);
    be.address = *parse_ip_address("198.51.100." + std::to_string(i));
    be.weight = i;
    v.backends.push_back(be);
  }
  std::vector<uint32_t> before, pair;
  ASSERT_EQ(build_vip_maglev(v, before), "");
  ASSERT_EQ(build_vip_tables(v, pair), "");
  EXPECT_FALSE(needs_existing_flows_table(v));
  EXPECT_EQ(pair, before) << "nothing drains: one table";
  const uint64_t one_table = vip_table_memory_bytes(v);

  v.backends[2].state = BackendState::kDraining;  // be-3
  v.backends[4].state = BackendState::kDisabled;  // be-5
  std::vector<uint32_t> before_disable;
  {
    VipConfig only_disabled = v;
    only_disabled.backends[2].state = BackendState::kActive;
    ASSERT_EQ(build_vip_maglev(only_disabled, before_disable), "");
  }
  ASSERT_TRUE(needs_existing_flows_table(v));
  ASSERT_EQ(build_vip_tables(v, pair), "");
  ASSERT_EQ(pair.size(), 2u * v.table_size);
  const std::vector<uint32_t> new_flows(pair.begin(), pair.begin() + v.table_size);
  const std::vector<uint32_t> existing(pair.begin() + v.table_size, pair.end());
  EXPECT_EQ(existing, before_disable) << "the draining backend keeps exactly its turns";
  size_t drained_slots = 0, drained_slots_before = 0;
  for (uint32_t s = 0; s < v.table_size; ++s) {
    EXPECT_NE(new_flows[s], 3u) << "slot " << s << ": a draining backend takes no new flow";
    EXPECT_NE(new_flows[s], 5u);
    EXPECT_NE(existing[s], 5u) << "slot " << s << ": a disabled backend has no turn";
    drained_slots += existing[s] == 3 ? 1 : 0;
    drained_slots_before += before_disable[s] == 3 ? 1 : 0;
  }
  EXPECT_GT(drained_slots, 0u);
  EXPECT_EQ(drained_slots, drained_slots_before);
  EXPECT_EQ(vip_table_memory_bytes(v) - one_table, uint64_t{v.table_size} * sizeof(uint32_t))
      << "the budget counts the second table";

  // Only a disabled backend: one table again.
  v.backends[2].state = BackendState::kActive;
  EXPECT_FALSE(needs_existing_flows_table(v));
  ASSERT_EQ(build_vip_tables(v, pair), "");
  EXPECT_EQ(pair, before_disable);
}

}  // namespace
}  // namespace sluice
