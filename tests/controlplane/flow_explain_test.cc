// flow.explain's computation: the flow key and hash as the dataplane builds
// them (pinned against docs/control-api.md's example), the slot reduction,
// the VIP match (exact port, then the all-ports VIP), and only active
// backends with a weight taking new flows.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <map>

#include "controlplane/flow_explain.h"
#include "controlplane/state.h"

namespace sluice::cp {
namespace {

VipConfig make_vip(uint32_t id, const char* address, uint16_t port, uint32_t table_size) {
  VipConfig v;
  v.id = id;
  v.address = *parse_ip_address(address);
  v.port = port;
  v.protocol = 6;
  v.table_size = table_size;
  return v;
}

BackendConfig make_backend(uint32_t id, const std::string& name, uint32_t weight = 1,
                           BackendState state = BackendState::kActive) {
  BackendConfig b;
  b.id = id;
  b.name = name;
  b.address = *parse_ip_address("198.51.100." + std::to_string(id));
  b.weight = weight;
  b.state = state;
  return b;
}

FlowQuery query(const char* client, uint16_t client_port, const char* vip, uint16_t vip_port) {
  FlowQuery q;
  q.client = *parse_ip_address(client);
  q.client_port = client_port;
  q.vip = *parse_ip_address(vip);
  q.vip_port = vip_port;
  q.protocol = 6;
  return q;
}

TEST(FlowExplain, KeyAndHashMatchTheDocumentedExample) {
  const FlowKey k = make_flow_key(query("203.0.113.7", 40000, "192.0.2.10", 80));
  EXPECT_EQ(k.src[0], 203);
  EXPECT_EQ(k.src[4], 0);
  EXPECT_EQ(k.src_port, htons(40000));  // network order, as parsed off the wire
  EXPECT_EQ(k.dst_port, htons(80));
  EXPECT_EQ(k.family, 4);
  EXPECT_EQ(k.zero, 0);
  EXPECT_EQ(flow_hash(k, 0).hash, 0x885b50519e1166adull);
}

TEST(FlowExplain, SlotIsTheMultiplyShiftReduction) {
  EXPECT_EQ(maglev_slot(0, 65537), 0u);
  EXPECT_EQ(maglev_slot(UINT64_MAX, 65537), 65536u);
  EXPECT_EQ(maglev_slot(0x8000000000000000ull, 7), 3u);
}

TEST(FlowExplain, ExactPortFirstThenAllPorts) {
  TableConfig c;
  c.vips.push_back(make_vip(1, "192.0.2.10", 0, 7));
  c.vips.push_back(make_vip(2, "192.0.2.10", 80, 7));
  FlowExplainer explainer;
  auto vip_for = [&](const char* address, uint16_t port, uint8_t protocol) -> const VipConfig* {
    FlowQuery q;
    q.client = *parse_ip_address("203.0.113.7");
    q.client_port = 40000;
    q.vip = *parse_ip_address(address);
    q.vip_port = port;
    q.protocol = protocol;
    FlowAnswer a;
    EXPECT_EQ(explainer.explain(c, q, 0, a), "");
    return a.vip;
  };
  EXPECT_EQ(vip_for("192.0.2.10", 80, 6)->id, 2u);
  EXPECT_EQ(vip_for("192.0.2.10", 443, 6)->id, 1u);
  EXPECT_EQ(vip_for("192.0.2.10", 80, 17), nullptr);
  EXPECT_EQ(vip_for("192.0.2.11", 80, 6), nullptr);
}

TEST(FlowExplain, OnlyActiveWeightedBackendsTakeNewFlows) {
  TableConfig c;
  VipConfig v = make_vip(1, "192.0.2.10", 80, 251);
  v.backends = {make_backend(1, "a"), make_backend(2, "b", 1, BackendState::kDraining),
                make_backend(3, "c", 1, BackendState::kDisabled), make_backend(4, "d", 0)};
  c.vips.push_back(v);
  FlowExplainer ex;
  std::map<uint32_t, int> hits;
  for (uint16_t port = 1000; port < 1400; ++port) {
    FlowAnswer a;
    ASSERT_EQ(ex.explain(c, query("203.0.113.1", port, "192.0.2.10", 80), 7, a), "");
    ASSERT_NE(a.vip, nullptr);
    ASSERT_NE(a.backend, nullptr);
    EXPECT_LT(a.slot, 251u);
    ++hits[a.backend->id];
  }
  EXPECT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[1], 400);
  // Nobody takes new flows: no backend, not an error.
  c.vips[0].backends[0].weight = 0;
  ex.invalidate();
  FlowAnswer a;
  ASSERT_EQ(ex.explain(c, query("203.0.113.1", 1, "192.0.2.10", 80), 7, a), "");
  EXPECT_NE(a.vip, nullptr);
  EXPECT_EQ(a.backend, nullptr);
}

TEST(FlowExplain, SeedChangesTheHash) {
  TableConfig c;
  VipConfig v = make_vip(1, "192.0.2.10", 80, 251);
  v.backends = {make_backend(1, "a"), make_backend(2, "b")};
  c.vips.push_back(v);
  FlowExplainer ex;
  FlowAnswer a0, a1;
  ASSERT_EQ(ex.explain(c, query("203.0.113.1", 5, "192.0.2.10", 80), 0, a0), "");
  ASSERT_EQ(ex.explain(c, query("203.0.113.1", 5, "192.0.2.10", 80), 1, a1), "");
  EXPECT_NE(a0.hash, a1.hash);
}

}  // namespace
}  // namespace sluice::cp
