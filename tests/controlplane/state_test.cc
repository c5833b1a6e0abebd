// The control plane's state model: add/del/set, id assignment and
// stability, config.apply's diff (ids kept by key and name), export -> apply
// is a no-op, and every refusal leaves the original untouched (callers work
// on a copy).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controlplane/state.h"
#include "controlplane/views.h"

namespace sluice::cp {
namespace {

VipKey key(const std::string& text) {
  std::string error;
  auto k = parse_vip_key(text, error);
  EXPECT_TRUE(k.has_value()) << error;
  return k.value_or(VipKey{});
}

VipConfig vip(const std::string& address, uint16_t port, const std::string& proto = "tcp",
              uint32_t table_size = 251) {
  VipConfig v;
  v.address = *parse_ip_address(address);
  v.port = port;
  v.protocol = parse_protocol(proto);
  v.table_size = table_size;
  return v;
}

BackendConfig backend(const std::string& name, const std::string& address, uint32_t weight = 1) {
  BackendConfig b;
  b.name = name;
  b.address = *parse_ip_address(address);
  b.weight = weight;
  return b;
}

TableConfig parse_declarative(const std::string& text) {
  ConfigDocument d;
  EXPECT_EQ(parse_config_document(text, d), "");
  EXPECT_FALSE(d.has_ids);
  return d.config;
}

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(add_vip(s, vip("192.0.2.10", 80), limits));
    ASSERT_FALSE(
        add_backend(s, key("192.0.2.10:80/tcp"), backend("web-1", "198.51.100.1"), limits));
    ASSERT_FALSE(
        add_backend(s, key("192.0.2.10:80/tcp"), backend("web-2", "198.51.100.2"), limits));
  }
  State s;
  TableLimits limits;
};

TEST_F(StateTest, AddAssignsIdsFromCounters) {
  ASSERT_EQ(s.config.vips.size(), 1u);
  EXPECT_EQ(s.config.vips[0].id, 1u);
  EXPECT_EQ(s.config.vips[0].backends[0].id, 1u);
  EXPECT_EQ(s.config.vips[0].backends[1].id, 2u);
  EXPECT_EQ(s.next_vip_id, 2u);
  EXPECT_EQ(s.next_backend_id, 3u);
}

TEST_F(StateTest, IdsAreNeverReusedBelowTheLimit) {
  ASSERT_FALSE(del_backend(s, key("192.0.2.10:80/tcp"), "web-1"));
  ASSERT_FALSE(add_backend(s, key("192.0.2.10:80/tcp"), backend("web-1", "198.51.100.1"), limits));
  const BackendConfig* b = find_backend(*find_vip(s, key("192.0.2.10:80/tcp")), "web-1");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->id, 3u);  // not 1 again
  ASSERT_FALSE(del_vip(s, key("192.0.2.10:80/tcp")));
  ASSERT_FALSE(add_vip(s, vip("192.0.2.10", 80), limits));
  EXPECT_EQ(s.config.vips[0].id, 2u);
}

TEST_F(StateTest, PastTheLimitTheLowestFreeIdIsTaken) {
  TableLimits small = limits;
  small.max_vips = 3;
  State t;
  ASSERT_FALSE(add_vip(t, vip("192.0.2.1", 80), small));
  ASSERT_FALSE(add_vip(t, vip("192.0.2.2", 80), small));
  ASSERT_FALSE(add_vip(t, vip("192.0.2.3", 80), small));
  ASSERT_FALSE(del_vip(t, key("192.0.2.2:80/tcp")));
  EXPECT_EQ(t.next_vip_id, 4u);
  ASSERT_FALSE(add_vip(t, vip("192.0.2.4", 80), small));
  EXPECT_EQ(find_vip(t, key("192.0.2.4:80/tcp"))->id, 2u);
  auto e = add_vip(t, vip("192.0.2.5", 80), small);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kInvalid);
  EXPECT_NE(e->message.find("at most 3 VIPs"), std::string::npos) << e->message;
}

TEST(AllocateId, CounterThenLowestFree) {
  std::vector<bool> used = {false, true, false, true, true};  // ids 1..4, 2 free
  uint32_t next = 5;
  EXPECT_EQ(allocate_id(next, 4, used), 2u);
  next = 2;
  EXPECT_EQ(allocate_id(next, 4, used), 2u);
  EXPECT_EQ(next, 3u);
  std::vector<bool> full = {false, true, true};
  next = 1;
  EXPECT_EQ(allocate_id(next, 2, full), 0u);
}

TEST_F(StateTest, SetChangesOnlyWhatIsGiven) {
  BackendChange c;
  c.weight = 7;
  ASSERT_FALSE(set_backend(s, key("192.0.2.10:80/tcp"), "web-2", c, limits));
  const BackendConfig* b = find_backend(*find_vip(s, key("192.0.2.10:80/tcp")), "web-2");
  EXPECT_EQ(b->weight, 7u);
  EXPECT_EQ(b->state, BackendState::kActive);
  BackendChange d;
  d.state = BackendState::kDraining;
  ASSERT_FALSE(set_backend(s, key("192.0.2.10:80/tcp"), "web-2", d, limits));
  b = find_backend(*find_vip(s, key("192.0.2.10:80/tcp")), "web-2");
  EXPECT_EQ(b->weight, 7u);
  EXPECT_EQ(b->state, BackendState::kDraining);
  EXPECT_EQ(b->id, 2u);
}

TEST_F(StateTest, MissingVipsAndBackendsAreNotFound) {
  auto e = del_vip(s, key("192.0.2.99:80/tcp"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kNotFound);
  EXPECT_EQ(e->field, "vip");
  e = del_backend(s, key("192.0.2.10:80/tcp"), "nope");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kNotFound);
  EXPECT_EQ(e->field, "name");
  e = set_backend(s, key("192.0.2.10:80/tcp"), "nope", BackendChange{1, std::nullopt, std::nullopt}, limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kNotFound);
  e = add_backend(s, key("192.0.2.10:81/tcp"), backend("x", "198.51.100.7"), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kNotFound);
}

TEST_F(StateTest, DuplicatesAreRefused) {
  auto e = add_vip(s, vip("192.0.2.10", 80), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::kInvalid);
  EXPECT_EQ(e->field, "vip");
  e = add_backend(s, key("192.0.2.10:80/tcp"), backend("web-1", "198.51.100.9"), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "backend.name");
  e = add_backend(s, key("192.0.2.10:80/tcp"), backend("web-9", "198.51.100.1"), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "backend.address");
  // The same VIP address on another port or protocol is another VIP.
  EXPECT_FALSE(add_vip(s, vip("192.0.2.10", 81), limits));
  EXPECT_FALSE(add_vip(s, vip("192.0.2.10", 80, "udp"), limits));
}

TEST_F(StateTest, AllPortsVipIsAccepted) {
  ASSERT_FALSE(add_vip(s, vip("192.0.2.10", 0), limits));
  EXPECT_NE(find_vip(s, key("192.0.2.10:0/tcp")), nullptr);
}

TEST_F(StateTest, KeptInKeyAndNameOrder) {
  ASSERT_FALSE(add_vip(s, vip("2001:db8::10", 53, "udp"), limits));
  ASSERT_FALSE(add_vip(s, vip("192.0.2.9", 443), limits));
  ASSERT_FALSE(
      add_backend(s, key("192.0.2.10:80/tcp"), backend("a-first", "198.51.100.3"), limits));
  ASSERT_EQ(s.config.vips.size(), 3u);
  EXPECT_EQ(format_vip_key(s.config.vips[0]), "192.0.2.9:443/tcp");
  EXPECT_EQ(format_vip_key(s.config.vips[1]), "192.0.2.10:80/tcp");
  EXPECT_EQ(format_vip_key(s.config.vips[2]), "[2001:db8::10]:53/udp");
  EXPECT_EQ(s.config.vips[1].backends[0].name, "a-first");
}

TEST_F(StateTest, ApplyKeepsIdsOfMatchedVipsAndBackends) {
  const TableConfig desired = parse_declarative(R"({"vips": [
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 251,
     "backends": [{"name": "web-3", "address": "198.51.100.3"},
                  {"name": "web-2", "address": "198.51.100.2", "weight": 5}]},
    {"address": "192.0.2.20", "port": 0, "protocol": "udp", "table_size": 251,
     "backends": [{"name": "web-1", "address": "198.51.100.1"}]}]})");
  ApplySummary sum;
  ASSERT_FALSE(apply_config(s, desired, limits, sum));
  EXPECT_TRUE(sum.changed);
  EXPECT_EQ(sum.vips_added, 1u);
  EXPECT_EQ(sum.vips_changed, 1u);
  EXPECT_EQ(sum.vips_removed, 0u);
  const VipConfig* v = find_vip(s, key("192.0.2.10:80/tcp"));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->id, 1u);
  EXPECT_EQ(find_backend(*v, "web-2")->id, 2u);      // kept
  EXPECT_EQ(find_backend(*v, "web-2")->weight, 5u);  // updated
  EXPECT_EQ(find_backend(*v, "web-3")->id, 3u);      // new
  EXPECT_EQ(find_backend(*v, "web-1"), nullptr);     // removed
  const VipConfig* w = find_vip(s, key("192.0.2.20:0/udp"));
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->id, 2u);
  // Same name in another VIP is another backend: a fresh id, not 1.
  EXPECT_EQ(find_backend(*w, "web-1")->id, 4u);
}

TEST_F(StateTest, ApplyRemovesWhatIsMissing) {
  ApplySummary sum;
  ASSERT_FALSE(apply_config(s, parse_declarative(R"({"vips": []})"), limits, sum));
  EXPECT_TRUE(sum.changed);
  EXPECT_EQ(sum.vips_removed, 1u);
  EXPECT_TRUE(s.config.vips.empty());
  EXPECT_EQ(s.next_backend_id, 3u);  // counters survive: ids are not reused
}

TEST_F(StateTest, ExportThenApplyIsANoOp) {
  ASSERT_FALSE(add_vip(s, vip("2001:db8::10", 0, "udp"), limits));
  const State before = s;
  const std::string exported = config_view(s.config).dump();
  ApplySummary sum;
  ASSERT_FALSE(apply_config(s, parse_declarative(exported), limits, sum));
  EXPECT_FALSE(sum.changed);
  EXPECT_EQ(sum.vips_added + sum.vips_removed + sum.vips_changed, 0u);
  EXPECT_TRUE(same_config(s.config, before.config));
  EXPECT_EQ(s.next_vip_id, before.next_vip_id);
  EXPECT_EQ(s.next_backend_id, before.next_backend_id);
}

TEST_F(StateTest, ApplyIsOrderIndependent) {
  const TableConfig a = parse_declarative(R"({"vips": [
    {"address": "192.0.2.30", "port": 1, "protocol": "tcp", "table_size": 251,
     "backends": [{"name": "b", "address": "198.51.100.2"}, {"name": "a", "address": "198.51.100.1"}]},
    {"address": "192.0.2.31", "port": 1, "protocol": "tcp", "table_size": 251}]})");
  const TableConfig b = parse_declarative(R"({"vips": [
    {"address": "192.0.2.31", "port": 1, "protocol": "tcp", "table_size": 251},
    {"address": "192.0.2.30", "port": 1, "protocol": "tcp", "table_size": 251,
     "backends": [{"name": "a", "address": "198.51.100.1"}, {"name": "b", "address": "198.51.100.2"}]}]})");
  State s1, s2;
  ApplySummary sum;
  ASSERT_FALSE(apply_config(s1, a, limits, sum));
  ASSERT_FALSE(apply_config(s2, b, limits, sum));
  EXPECT_TRUE(same_config(s1.config, s2.config));
}

TEST_F(StateTest, RefusedApplyLeavesTheStateAlone) {
  const State before = s;
  ApplySummary sum;
  auto e = apply_config(s, parse_declarative(R"({"vips": [
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 250}]})"),
                        limits, sum);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->field, "vips[0].table_size");
  EXPECT_TRUE(same_config(s.config, before.config));
  EXPECT_EQ(s.next_vip_id, before.next_vip_id);
}

TEST(VipKey, ParsesAndFormats) {
  std::string error;
  auto k = parse_vip_key("[2001:DB8::10]:53/udp", error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(format_vip_key(*k), "[2001:db8::10]:53/udp");
  k = parse_vip_key("192.0.2.10:0/tcp", error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(k->port, 0);
  for (const char* bad : {"192.0.2.10:80", "192.0.2.10/tcp", "192.0.2.10:80/icmp",
                          "192.0.2.10:65536/tcp", "2001:db8::10:53/udp", "[192.0.2.1]:1/tcp",
                          "x:1/tcp", ":80/tcp", "192.0.2.10:-1/tcp", "192.0.2.10:8a/tcp"}) {
    EXPECT_FALSE(parse_vip_key(bad, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace sluice::cp
