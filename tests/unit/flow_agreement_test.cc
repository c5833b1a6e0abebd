// flow explain and the worker agree (DESIGN.md section 3; issue "one
// contract library"): for 100,000 random new flows over several
// configurations (IPv4 and IPv6, all-ports VIPs, weights, draining and
// disabled backends, a VIP with no usable backend, source-hash VIPs and
// backups), the backend that
// cp::FlowExplainer names is the backend process_burst sends the flow's
// first packet to, on real mbufs through the real burst function. Both use
// the rules in common/ (flow key, VIP matching, slot, turn rule); this test
// is what keeps it so. No root needed.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/config_digest.h"
#include "controlplane/flow_explain.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "tests/dpdk_test_env.h"
#include "tests/fixtures/packet_builder.h"

namespace sluice {
namespace {

using test::Bytes;
using test::PacketBuilder;

const test::Mac kPortMac = test::mac("02:00:5e:00:00:01");
const test::Mac kRouterMac = test::mac("02:00:5e:00:00:fe");
constexpr uint64_t kSeed = 0x5eed;

dp::ForwardingConfig forwarding() {
  dp::ForwardingConfig c;
  std::memcpy(c.port_mac, kPortMac.data(), 6);
  std::memcpy(c.next_hop_mac, kRouterMac.data(), 6);
  c.outer_src_v4 = test::ip("192.0.2.1");
  c.outer_src_v6 = test::ip("2001:db8::1");
  c.mtu = 9000;
  c.hash_seed = kSeed;
  c.tsc_hz = 2'000'000'000;
  c.flows_per_lcore = 1u << 16;
  c.max_vips = 64;
  c.max_backend_id = 1024;
  return c;
}

BackendConfig be(uint32_t id, const std::string& name, const std::string& address,
                 uint32_t weight = 1, BackendState state = BackendState::kActive) {
  BackendConfig b;
  b.id = id;
  b.name = name;
  b.address = test::ip(address);
  b.weight = weight;
  b.state = state;
  return b;
}

VipConfig vip(uint32_t id, const std::string& address, uint16_t port, uint8_t protocol,
              uint32_t table_size, Encap encap, std::vector<BackendConfig> backends) {
  VipConfig v;
  v.id = id;
  v.address = test::ip(address);
  v.port = port;
  v.protocol = protocol;
  v.table_size = table_size;
  v.encap = encap;
  v.backends = std::move(backends);
  return v;
}

std::vector<TableConfig> configurations() {
  std::vector<TableConfig> out;
  TableConfig a;  // IPv4, equal weights, one VIP exact and one all-ports on one address
  a.vips.push_back(vip(1, "192.0.2.10", 80, 6, 251, Encap::kIpip,
                       {be(1, "web-1", "198.51.100.1"), be(2, "web-2", "198.51.100.2"),
                        be(3, "web-3", "198.51.100.3")}));
  a.vips.push_back(vip(2, "192.0.2.10", 0, 6, 257, Encap::kGue,
                       {be(4, "any-1", "198.51.100.4"), be(5, "any-2", "198.51.100.5")}));
  out.push_back(a);
  TableConfig b;  // weights, draining and disabled backends, UDP
  b.vips.push_back(vip(3, "192.0.2.20", 53, 17, 65537, Encap::kIpip,
                       {be(6, "dns-1", "198.51.100.6", 1), be(7, "dns-2", "198.51.100.7", 4),
                        be(8, "dns-3", "198.51.100.8", 2, BackendState::kDraining),
                        be(9, "dns-4", "198.51.100.9", 3, BackendState::kDisabled),
                        be(10, "dns-5", "198.51.100.10", 0)}));
  out.push_back(b);
  TableConfig c;  // IPv6 VIPs, v6 and v4 backends (GUE), all-ports
  c.vips.push_back(vip(4, "2001:db8::10", 443, 6, 4099, Encap::kIpip,
                       {be(11, "v6-1", "2001:db8:2::1"), be(12, "v6-2", "2001:db8:2::2", 3)}));
  c.vips.push_back(vip(5, "2001:db8::11", 0, 17, 1021, Encap::kGue,
                       {be(13, "mix-1", "198.51.100.13"), be(14, "mix-2", "2001:db8:2::14", 2),
                        be(15, "mix-3", "198.51.100.15", 1, BackendState::kDraining)}));
  out.push_back(c);
  TableConfig d;  // everything at once, plus a VIP nobody may take
  for (const TableConfig* t : {&a, &b, &c}) d.vips.insert(d.vips.end(), t->vips.begin(), t->vips.end());
  d.vips.push_back(vip(6, "192.0.2.30", 8080, 6, 7, Encap::kIpip,
                       {be(16, "off-1", "198.51.100.16", 1, BackendState::kDisabled),
                        be(17, "off-2", "198.51.100.17", 1, BackendState::kDraining)}));
  out.push_back(d);
  TableConfig e;  // source-hash (Maglev over the client address), backups
  VipConfig sh4 = vip(7, "192.0.2.40", 80, 6, 251, Encap::kIpip,
                      {be(18, "sh-1", "198.51.100.18"), be(19, "sh-2", "198.51.100.19", 2),
                       be(20, "sh-spare", "198.51.100.20")});
  sh4.backends[2].backup = true;  // unused: the primaries serve
  sh4.scheduler = Scheduler::kSourceHash;
  VipConfig sh6 = vip(8, "2001:db8::40", 53, 17, 1021, Encap::kIpip,
                      {be(21, "sh6-1", "2001:db8:2::21", 1, BackendState::kDisabled),
                       be(22, "sh6-spare-1", "2001:db8:2::22"),
                       be(23, "sh6-spare-2", "2001:db8:2::23", 3)});
  sh6.backends[1].backup = sh6.backends[2].backup = true;  // they serve: no primary can
  sh6.scheduler = Scheduler::kSourceHash;
  e.vips = {sh4, sh6};
  out.push_back(e);
  return out;
}

// The outer destination address of an encapsulated frame (no VLAN tag).
IpAddress outer_destination(const Bytes& frame) {
  IpAddress a;
  const uint16_t type = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  if (type == 0x0800) {
    a.family = 4;
    std::memcpy(a.bytes, &frame[14 + 16], 4);
  } else {
    a.family = 6;
    std::memcpy(a.bytes, &frame[14 + 24], 16);
  }
  return a;
}

// Sends `in` through the worker at `now`; each packet must go where
// `expect` says (nullptr: dropped, no backend). Frees the mbufs.
void check_burst(dp::TablePublisher& publisher, dp::WorkerContext& ctx, uint64_t now,
                 const std::vector<rte_mbuf*>& in,
                 const std::vector<const BackendConfig*>& expect, uint64_t& flows,
                 uint64_t& to_backend, uint64_t& no_backend) {
  dp::BurstOutput out;
  dp::process_burst(ctx, in.data(), static_cast<uint16_t>(in.size()), now, out);
  publisher.report_quiescent(ctx.reader_id());
  ASSERT_EQ(out.n_to_client, 0);
  ASSERT_EQ(out.n_to_backend + out.n_dropped, in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    ++flows;
    const bool sent = std::find(out.to_backend, out.to_backend + out.n_to_backend, in[i]) !=
                      out.to_backend + out.n_to_backend;
    if (expect[i] == nullptr) {
      EXPECT_FALSE(sent) << "flow explain says no backend, the worker sent flow " << flows;
      ++no_backend;
    } else {
      EXPECT_TRUE(sent) << "the worker dropped flow " << flows << " that flow explain sends to "
                        << expect[i]->name;
      if (sent) {
        EXPECT_EQ(outer_destination(test::from_mbuf(in[i])), expect[i]->address)
            << "flow " << flows << ": flow explain says " << expect[i]->name;
      }
      ++to_backend;
    }
    rte_pktmbuf_free(in[i]);
  }
}

class FlowAgreement : public ::testing::Test {
 protected:
  void SetUp() override { test::dpdk_test_env(); }
};

TEST_F(FlowAgreement, FlowExplainNamesTheBackendTheWorkerPicks) {
  std::mt19937_64 rng(20261207);
  const dp::ForwardingConfig fc = forwarding();
  uint64_t flows = 0, to_backend = 0, no_backend = 0;
  for (const TableConfig& config : configurations()) {
    TableLimits limits;
    limits.max_vips = fc.max_vips;
    limits.max_backend_id = fc.max_backend_id;
    dp::TablePublisher publisher(limits, 1);
    publisher.register_reader(0);
    ASSERT_TRUE(publisher.apply(config).ok);
    // Two workers: one started long ago (a UDP packet without an entry is
    // a new flow), and one just restarted (it may be a flow the previous
    // dataplane carried), which also gets the TCP flows' later segments.
    dp::ForwardingConfig old_fc = fc;
    old_fc.start_tsc = 1;
    const uint64_t old_now = 1 + (uint64_t{fc.udp_idle_timeout_s} + 1) * fc.tsc_hz;
    dp::WorkerContext ctx(old_fc, publisher, 0);
    dp::ForwardingConfig restarted_fc = fc;
    restarted_fc.start_tsc = 1;
    const uint64_t restarted_now = 2;
    dp::WorkerContext restarted(restarted_fc, publisher, 0);
    cp::FlowExplainer explainer;

    for (int burst = 0; burst < 25000 / 25; ++burst) {
      std::vector<rte_mbuf*> in, in_under_way;
      std::vector<const BackendConfig*> expect, expect_under_way;
      for (int i = 0; i < 25; ++i) {
        const VipConfig& v = config.vips[rng() % config.vips.size()];
        cp::FlowQuery q;
        q.vip = v.address;
        q.protocol = v.protocol;
        q.vip_port = v.port != 0 ? v.port : static_cast<uint16_t>(1 + rng() % 65535);
        q.client_port = static_cast<uint16_t>(1024 + rng() % 64000);
        q.client.family = v.address.family;
        const uint64_t r = rng();
        if (q.client.family == 4) {
          const uint8_t c[4] = {203, 0, 113, static_cast<uint8_t>(r)};
          std::memcpy(q.client.bytes, c, 4);
          q.client_port = static_cast<uint16_t>(q.client_port ^ (r >> 8));
        } else {
          const IpAddress base = test::ip("2001:db8:ffff::");
          std::memcpy(q.client.bytes, base.bytes, 16);
          std::memcpy(q.client.bytes + 8, &r, 8);
        }
        cp::FlowAnswer answer;
        ASSERT_EQ(explainer.explain(config, q, kSeed, answer), "");
        ASSERT_NE(answer.vip, nullptr);
        // An exact-port VIP shares its address with an all-ports one in
        // some configurations: the answer must be the one the worker uses.
        PacketBuilder p;
        p.eth(kPortMac, kRouterMac);
        if (q.client.family == 4) {
          p.ipv4(q.client, q.vip);
        } else {
          p.ipv6(q.client, q.vip);
        }
        if (q.protocol == 6) {
          p.tcp(q.client_port, q.vip_port, 0x02);  // SYN: a new flow
        } else {
          p.udp(q.client_port, q.vip_port);
        }
        p.payload_size(16);
        in.push_back(test::to_mbuf(test::test_mbuf_pool(), p.build()));
        ASSERT_NE(in.back(), nullptr);
        expect.push_back(answer.backend);
        if (q.protocol == 6) p.tcp_flags(0x10);  // the client's ACK
        in_under_way.push_back(test::to_mbuf(test::test_mbuf_pool(), p.build()));
        ASSERT_NE(in_under_way.back(), nullptr);
        expect_under_way.push_back(answer.existing_backend);
      }
      check_burst(publisher, ctx, old_now, in, expect, flows, to_backend, no_backend);
      check_burst(publisher, restarted, restarted_now, in_under_way, expect_under_way, flows, to_backend,
                  no_backend);
    }
    publisher.unregister_reader(0);
  }
  EXPECT_EQ(flows, 250000u);
  EXPECT_GT(to_backend, 230000u);
  EXPECT_GT(no_backend, 2000u) << "the VIP without usable backends was exercised";
}

}  // namespace
}  // namespace sluice
