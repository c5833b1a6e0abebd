// The change pipeline against a fake dataplane (tests/controlplane/
// fake_dataplane.h): a change is answered only once acknowledged, then
// persisted and audited; a refusal leaves the state (memory and file) as it
// was; a missing acknowledgement is answered "pending" (the outcome is not
// known), the change is the desired state and the dataplane is converged to
// it; a restarted dataplane (new boot id) gets the whole state again, a
// running one only deltas; changes made while no dataplane is alive are
// pushed when it comes back; a fresh empty control plane pushes nothing; a
// full command ring is waited on, never dropped; changes queued behind a
// push are coalesced into one transaction; a dataplane whose digest
// diverges gets the whole state.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <memory>

#include "controlplane/controller.h"
#include "controlplane/state_file.h"
#include "controlplane/views.h"
#include "tests/controlplane/fake_dataplane.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

using nlohmann::json;
using test::FakeDataplane;

constexpr const char* kConfig = R"({"op": "config.apply", "config": {"vips": [
  {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 251,
   "backends": [{"name": "web-1", "address": "198.51.100.1"},
                {"name": "web-2", "address": "198.51.100.2"}]}]}})";

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override { make_controller(State{}, false); }
  // Whatever a failed test left behind.
  void TearDown() override { shm_unlink(segment_name(instance_).c_str()); }

  void make_controller(State initial, bool has_state) {
    ctl_.reset();
    link_.reset();
    LinkTiming t;
    t.ack_timeout_ns = 400'000'000;
    t.stale_after_ns = 500'000'000;
    t.retry_ns = 10'000'000;
    link_ = std::make_unique<DataplaneLink>(instance_, t);
    ControllerConfig cc;
    cc.state_file = dir_.file("state.json");
    cc.resync_backoff_ns = 50'000'000;
    audit_ = std::make_unique<AuditLog>();
    ASSERT_EQ(audit_->open(dir_.file("audit.log")), "");
    ctl_ = std::make_unique<Controller>(
        cc, std::move(initial), has_state, *link_, *audit_,
        [this](ConnId c, const std::string& line) { delivered_[c].push_back(json::parse(line)); });
  }

  void tick() { ctl_->tick(monotonic_ns()); }

  bool wait_until(const std::function<bool()>& pred, int timeout_ms = 5000) {
    const uint64_t deadline = monotonic_ns() + uint64_t(timeout_ms) * 1000000;
    while (monotonic_ns() < deadline) {
      tick();
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return pred();
  }

  json call(const std::string& line, ConnId conn = 1) {
    auto now = ctl_->handle(conn, line);
    if (now) return json::parse(*now);
    EXPECT_TRUE(wait_until([&] { return !delivered_[conn].empty(); })) << "no answer";
    if (delivered_[conn].empty()) return json();
    json a = delivered_[conn].front();
    delivered_[conn].erase(delivered_[conn].begin());
    return a;
  }

  json status() { return call(R"({"op": "status"})")["result"]; }
  bool attached() { return status()["dataplane"]["attached"] == true; }
  bool in_sync() { return status()["controlplane"]["in_sync"] == true; }

  std::string instance_ = test::unique_name("cp-pipeline");
  test::TempDir dir_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<DataplaneLink> link_;
  std::unique_ptr<Controller> ctl_;
  std::map<ConnId, std::vector<json>> delivered_;
};

TEST_F(Pipeline, AcknowledgedChangeIsPersistedAndAudited) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  const json a = call(kConfig);
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_FALSE(a.contains("dataplane")) << "acknowledged, so no 'not attached'";
  EXPECT_EQ(a["result"]["vips_added"], 1);
  ASSERT_EQ(dp.applied().size(), 1u);
  EXPECT_TRUE(same_config(dp.applied().back(), ctl_->state().config));
  EXPECT_TRUE(in_sync());
  EXPECT_EQ(status()["dataplane"]["generation"], 1);
  const LoadResult saved = load_state_file(dir_.file("state.json"));
  ASSERT_EQ(saved.kind, LoadResult::Kind::kLoaded);
  EXPECT_TRUE(same_config(saved.state.config, ctl_->state().config));
  const json audit = json::parse(test::read_all(dir_.file("audit.log")));
  EXPECT_EQ(audit["op"], "config.apply");
  EXPECT_EQ(audit["generation"], 1);
  EXPECT_EQ(audit["request"]["config"]["backends"], 2);
  EXPECT_EQ(audit["result"]["vips_added"], 1);
  EXPECT_TRUE(audit["time"].is_string());
}

TEST_F(Pipeline, RefusedChangeLeavesEverythingAsBefore) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const json before = call(R"({"op": "config.export"})");
  const std::string file_before = test::read_all(dir_.file("state.json"));
  const std::string audit_before = test::read_all(dir_.file("audit.log"));
  dp.set_mode(FakeDataplane::Mode::kRefuse);
  const json a =
      call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 9})");
  ASSERT_EQ(a["ok"], false) << a.dump();
  EXPECT_EQ(a["error"]["code"], "dataplane");
  EXPECT_NE(a["error"]["message"].get<std::string>().find("refused by the fake dataplane"),
            std::string::npos);
  EXPECT_EQ(call(R"({"op": "config.export"})"), before);
  EXPECT_EQ(test::read_all(dir_.file("state.json")), file_before);
  EXPECT_EQ(test::read_all(dir_.file("audit.log")), audit_before);
  EXPECT_TRUE(in_sync()) << "the dataplane kept the state it had";
}

TEST_F(Pipeline, MissingAcknowledgementIsPendingAndConverges) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const std::string file_before = test::read_all(dir_.file("state.json"));
  dp.set_mode(FakeDataplane::Mode::kSilent);
  const json a = call(R"({"op": "backend.del", "vip": "192.0.2.10:80/tcp", "name": "web-1"})");
  ASSERT_EQ(a["ok"], false) << a.dump();
  // Never "nothing changed": the dataplane may have applied it.
  EXPECT_EQ(a["error"]["code"], "pending");
  const std::string message = a["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("no acknowledgement within 400 ms"), std::string::npos) << message;
  EXPECT_NE(message.find("not known yet"), std::string::npos) << message;
  EXPECT_EQ(message.find("nothing changed"), std::string::npos) << message;
  // The change is the desired state now, persisted.
  EXPECT_EQ(ctl_->state().config.vips[0].backends.size(), 1u);
  EXPECT_NE(test::read_all(dir_.file("state.json")), file_before);
  EXPECT_FALSE(in_sync());
  // Once the dataplane answers again it is converged to it.
  dp.set_mode(FakeDataplane::Mode::kAck);
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  EXPECT_TRUE(same_config(dp.applied().back(), ctl_->state().config));
}

TEST_F(Pipeline, FullCommandRingIsWaitedOnNotDropped) {
  SegmentParams p = FakeDataplane::small_params();
  p.cmd_slots = 4;  // a 2-VIP, 20-backend transaction is 24 records
  FakeDataplane dp(instance_, p);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  auto vip = [](int v) {
    json backends = json::array();
    for (int b = 0; b < 10; ++b) {
      backends.push_back({{"name", std::string("b") + std::to_string(b)},
                          {"address", "198.51.100." + std::to_string(b + 1)}});
    }
    return json{{"address", "192.0.2." + std::to_string(v + 1)},
                {"port", 80},
                {"protocol", "tcp"},
                {"table_size", 251},
                {"backends", backends}};
  };
  json cfg = {{"op", "config.apply"}, {"config", {{"vips", json::array({vip(0), vip(1)})}}}};
  const json a = call(cfg.dump());
  ASSERT_EQ(a["ok"], true) << a.dump();
  ASSERT_EQ(dp.applied().size(), 1u);
  EXPECT_EQ(backend_count(dp.applied().back()), 20u);
  // A dataplane that stops reading: the push gives up at the deadline and
  // says so; the outcome is not known (a part went), so it is pending.
  dp.set_mode(FakeDataplane::Mode::kStuck);
  cfg["config"]["vips"].push_back(vip(2));
  const json b = call(cfg.dump());
  ASSERT_EQ(b["ok"], false) << b.dump();
  EXPECT_EQ(b["error"]["code"], "pending");
  EXPECT_NE(b["error"]["message"].get<std::string>().find("command ring stayed full"),
            std::string::npos)
      << b.dump();
  EXPECT_EQ(ctl_->state().config.vips.size(), 3u);
  dp.set_mode(FakeDataplane::Mode::kAck);
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  EXPECT_EQ(dp.applied().back().vips.size(), 3u);
}

TEST_F(Pipeline, ARunningDataplaneGetsDeltasAndADivergedOneTheWholeState) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  ASSERT_EQ(call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-2",
                     "state": "draining"})")["ok"],
            true);
  EXPECT_EQ(dp.commits(), 2u);
  EXPECT_EQ(dp.applied().back().vips[0].backends.size(), 2u) << "a delta kept the rest";
  EXPECT_TRUE(in_sync());
  // Something else changed the dataplane's tables: its digest no longer
  // matches, and the control plane pushes the whole state to repair it.
  dp.segment().header().applied_digest.store(12345, std::memory_order_release);
  EXPECT_FALSE(in_sync());
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  EXPECT_EQ(dp.commits(), 3u);
  EXPECT_TRUE(same_config(dp.applied().back(), ctl_->state().config));
}

TEST_F(Pipeline, RestartedDataplaneGetsTheWholeStateAgain) {
  uint64_t first_boot = 0;
  {
    FakeDataplane dp(instance_);
    first_boot = dp.boot_id();
    ASSERT_TRUE(wait_until([&] { return attached(); }));
    ASSERT_EQ(call(kConfig)["ok"], true);
  }
  FakeDataplane dp2(instance_);
  ASSERT_NE(dp2.boot_id(), first_boot);
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(dp2.boot_id()));
  EXPECT_EQ(status()["dataplane"]["boot_id"], hex);
  ASSERT_EQ(dp2.applied().size(), 1u);
  EXPECT_TRUE(same_config(dp2.applied().back(), ctl_->state().config));
}

TEST_F(Pipeline, ChangesWithoutADataplaneArePushedWhenOneComes) {
  tick();  // one attach attempt, as the daemon's loop makes before serving
  const json a = call(kConfig);
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_EQ(a["dataplane"], "not attached");
  const json st = status();
  EXPECT_EQ(st["dataplane"]["attached"], false);
  EXPECT_NE(st["dataplane"]["reason"].get<std::string>().find(instance_), std::string::npos);
  const json audit = json::parse(test::read_all(dir_.file("audit.log")));
  EXPECT_TRUE(audit["generation"].is_null());
  EXPECT_EQ(audit["dataplane"], "not attached");
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  ASSERT_EQ(dp.applied().size(), 1u);
  EXPECT_TRUE(same_config(dp.applied().back(), ctl_->state().config));
}

TEST_F(Pipeline, StaleHeartbeatMeansNotAttached) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  dp.set_mode(FakeDataplane::Mode::kDead);
  ASSERT_TRUE(wait_until([&] { return !attached(); }));
  EXPECT_NE(status()["dataplane"]["reason"].get<std::string>().find("no heartbeat"),
            std::string::npos);
  const json a = call(
      R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-2", "state": "draining"})");
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_EQ(a["dataplane"], "not attached");
  dp.set_mode(FakeDataplane::Mode::kAck);  // it was only paused
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  ASSERT_EQ(dp.applied().size(), 2u);
  EXPECT_EQ(dp.applied().back().vips[0].backends[1].state, BackendState::kDraining);
}

TEST_F(Pipeline, FreshEmptyControlPlanePushesNothing) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  const uint64_t until = monotonic_ns() + 200'000'000;
  wait_until([&] { return monotonic_ns() > until; });
  EXPECT_EQ(dp.commits(), 0u) << "an empty state that was never loaded nor changed";
  EXPECT_FALSE(in_sync());
  // Loaded from a state file, even an empty state is the truth: pushed.
  make_controller(State{}, true);
  ASSERT_TRUE(wait_until([&] { return in_sync(); }));
  EXPECT_EQ(dp.commits(), 1u);
  EXPECT_TRUE(dp.applied().back().vips.empty());
}

TEST_F(Pipeline, UnchangedConfigIsNotPushed) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const json exported = call(R"({"op": "config.export"})")["result"]["config"];
  const json a = call(json{{"op", "config.apply"}, {"config", exported}}.dump());
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_EQ(a["result"]["changed"], false);
  EXPECT_EQ(dp.commits(), 1u);
}

// Slow start through the whole pipeline: a backend enabled again reaches
// the dataplane at 10% of its weight (the others scaled by ten), ramps in at
// most ten pushes to its full weight, and the desired state keeps the
// operator's weight throughout.
TEST_F(Pipeline, SlowStartRampsAReturningBackendInAtMostTenPushes) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  ASSERT_EQ(call(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp", "slow_start": 1})")["ok"], true);
  ASSERT_EQ(call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-2",
                     "state": "disabled"})")["ok"], true);
  const size_t before = dp.applied().size();
  const json a = call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-2",
                          "state": "active"})");
  ASSERT_EQ(a["ok"], true) << a.dump();
  ASSERT_GT(dp.applied().size(), before);
  const auto weights = [](const TableConfig& c) {
    return std::vector<uint32_t>{c.vips[0].backends[0].weight, c.vips[0].backends[1].weight};
  };
  EXPECT_EQ(weights(dp.applied()[before]), (std::vector<uint32_t>{10, 1}));
  const json list = call(R"({"op": "backend.list", "vip": "192.0.2.10:80/tcp"})");
  EXPECT_LT(list["result"]["backends"][1]["effective_weight"].get<double>(), 0.5) << list.dump();
  ASSERT_TRUE(wait_until([&] { return weights(dp.applied().back()) == std::vector<uint32_t>{1, 1}; },
                         5000));
  const size_t pushes = dp.applied().size() - before;
  EXPECT_LE(pushes, 10u);
  EXPECT_GE(pushes, 5u) << "the ramp went in steps";
  uint32_t last = 0;
  for (size_t i = before; i + 1 < dp.applied().size(); ++i) {
    const uint32_t w = dp.applied()[i].vips[0].backends[1].weight;
    EXPECT_GT(w, last) << "push " << i - before << " of the ramp";
    last = w;
  }
  EXPECT_EQ(ctl_->state().config.vips[0].backends[1].weight, 1u);
  EXPECT_TRUE(in_sync());
}

TEST_F(Pipeline, QueuedChangesAreAnsweredInOrder) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  // Three changes from three clients while the first push is in flight.
  auto a = ctl_->handle(
      11, R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 2})");
  auto b = ctl_->handle(
      12, R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 3})");
  auto c = ctl_->handle(13, R"({"op": "backend.del", "vip": "192.0.2.10:80/tcp", "name": "nope"})");
  EXPECT_FALSE(a || b || c) << "all wait their turn";
  // A query is answered at once meanwhile.
  EXPECT_TRUE(ctl_->handle(14, R"({"op": "vip.list"})"));
  ASSERT_TRUE(wait_until([&] {
    return delivered_[11].size() == 1 && delivered_[12].size() == 1 && delivered_[13].size() == 1;
  }));
  EXPECT_EQ(delivered_[11].at(0)["result"]["backend"]["weight"], 2);
  EXPECT_EQ(delivered_[12].at(0)["result"]["backend"]["weight"], 3);
  EXPECT_EQ(delivered_[13].at(0)["error"]["code"], "not_found");
  EXPECT_EQ(dp.applied().back().vips[0].backends[0].weight, 3u);
}

TEST_F(Pipeline, ChangesQueuedBehindAPushAreCoalesced) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const size_t commits_before = dp.commits();
  // The first change starts a push; 200 more arrive while it is in flight.
  ASSERT_FALSE(ctl_->handle(
      100, R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 2})"));
  for (ConnId c = 101; c <= 300; ++c) {
    const std::string weight = std::to_string(c);
    ASSERT_FALSE(ctl_->handle(c, R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp",
                                     "name": "web-2", "weight": )" +
                                     weight + "}"));
  }
  ASSERT_TRUE(wait_until([&] {
    for (ConnId c = 100; c <= 300; ++c) {
      if (delivered_[c].size() != 1) return false;
    }
    return true;
  }));
  for (ConnId c = 100; c <= 300; ++c) {
    EXPECT_EQ(delivered_[c].at(0)["ok"], true) << c << ": " << delivered_[c].at(0).dump();
  }
  // One transaction for the first, one for the 200 behind it.
  EXPECT_EQ(dp.commits() - commits_before, 2u);
  EXPECT_EQ(dp.applied().back().vips[0].backends[1].weight, 300u);
  // Three transactions in all (kConfig, the first change, the 200) carried
  // 202 changes.
  EXPECT_EQ(status()["controlplane"]["transactions_pushed"], 3u);
  EXPECT_EQ(status()["controlplane"]["changes_pushed"], 202u);
}

TEST_F(Pipeline, ADuplicatedKeyIsRefusedAndChangesNothing) {
  FakeDataplane dp(instance_);
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const size_t commits = dp.commits();
  // A later "op" must not override the first one inside a request.
  const json a = call(R"({"op": "status", "op": "vip.del", "vip": "192.0.2.10:80/tcp"})");
  ASSERT_EQ(a["ok"], false) << a.dump();
  EXPECT_EQ(a["error"]["code"], "usage");
  EXPECT_EQ(a["error"]["field"], "op");
  EXPECT_NE(a["error"]["message"].get<std::string>().find("duplicate key 'op'"),
            std::string::npos)
      << a.dump();
  EXPECT_EQ(ctl_->state().config.vips.size(), 1u);
  EXPECT_EQ(dp.commits(), commits);
}

TEST_F(Pipeline, AFirstChangeIsNeverTakenForAConfigurationToAdopt) {
  FakeDataplane dp(instance_);
  // The first request comes before the control plane has looked at the
  // dataplane (it attaches while committing the change). The fake applies
  // the change and mirrors it before the acknowledgement is read: a control
  // plane without state must not adopt its own change meanwhile.
  ASSERT_EQ(call(kConfig)["ok"], true);
  EXPECT_TRUE(status()["controlplane"]["adopted"].is_null()) << status().dump();
  std::ifstream audit(dir_.file("audit.log"));
  std::string line;
  while (std::getline(audit, line)) EXPECT_EQ(line.find("\"adopt\""), std::string::npos) << line;
}

TEST_F(Pipeline, LimitsAndSeedComeFromTheDataplane) {
  FakeDataplane dp(instance_);  // max_vips 64, hash seed 0x1234
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  ASSERT_EQ(call(kConfig)["ok"], true);
  const json e = call(R"({"op": "flow.explain", "client": "203.0.113.7", "client_port": 40000,
                          "vip": "192.0.2.10", "vip_port": 80, "protocol": "tcp"})");
  ASSERT_EQ(e["ok"], true) << e.dump();
  FlowQuery q;
  q.client = *parse_ip_address("203.0.113.7");
  q.client_port = 40000;
  q.vip = *parse_ip_address("192.0.2.10");
  q.vip_port = 80;
  q.protocol = 6;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(flow_hash(make_flow_key(q), 0x1234).hash));
  EXPECT_EQ(e["result"]["hash"], hex);
  json cfg = {{"op", "config.apply"}, {"config", {{"vips", json::array()}}}};
  for (int v = 0; v < 65; ++v) {
    cfg["config"]["vips"].push_back({{"address", "192.0.2." + std::to_string(v + 1)},
                                     {"port", 80},
                                     {"protocol", "tcp"},
                                     {"table_size", 7}});
  }
  const json a = call(cfg.dump());
  EXPECT_EQ(a["error"]["code"], "invalid") << a.dump();
  EXPECT_NE(a["error"]["message"].get<std::string>().find("limit of 64"), std::string::npos);
}

TEST_F(Pipeline, StatsAnswersEveryCounterOfTheListSummedOverLcores) {
  const json none = call(R"({"op": "stats"})");
  ASSERT_EQ(none["ok"], true) << none.dump();
  EXPECT_EQ(none["result"], (json{{"attached", false}})) << "no counters without a dataplane";

  SegmentParams p = FakeDataplane::small_params();
  p.worker_lcores = 3;
  FakeDataplane dp(instance_, p);
  // A value per counter and lcore that tells every counter apart.
  for (uint32_t lcore = 0; lcore < 3; ++lcore) {
    for (size_t i = 0; i < kCounterCount; ++i) {
      dp.segment().lcore_counters(lcore)->value[i] = (i + 1) * 1000 + lcore;
    }
  }
  ASSERT_TRUE(wait_until([&] { return attached(); }));
  const json a = call(R"({"op": "stats"})");
  ASSERT_EQ(a["ok"], true) << a.dump();
  const json& r = a["result"];
  EXPECT_EQ(r["attached"], true);
  EXPECT_EQ(r["lcores"], 3);
  const json& counters = r["counters"];
  ASSERT_TRUE(counters.is_object());
  EXPECT_EQ(counters.size(), kCounterCount) << "the list's counters and nothing else";
  for (size_t i = 0; i < kCounterCount; ++i) {
    const char* name = kCounterInfo[i].name;
    ASSERT_TRUE(counters.contains(name)) << name;
    EXPECT_EQ(counters[name], (i + 1) * 3000 + 0 + 1 + 2) << name;
  }
  EXPECT_EQ(call(R"({"op": "stats", "all": true})")["error"]["code"], "usage");
}

TEST_F(Pipeline, SegmentOfAnotherAbiIsRefusedAndExplained) {
  std::string error;
  auto seg = ControlSegment::create(instance_, FakeDataplane::small_params(), error);
  ASSERT_TRUE(seg) << error;
  seg->header().abi_version = kAbiVersion + 1;
  seg->header().heartbeat_ns.store(monotonic_ns());
  tick();
  const json st = status();
  EXPECT_EQ(st["dataplane"]["attached"], false);
  EXPECT_NE(st["dataplane"]["reason"].get<std::string>().find("ABI version"), std::string::npos)
      << st.dump();
  const json a = call(kConfig);
  EXPECT_EQ(a["dataplane"], "not attached") << a.dump();
  seg->unlink();
}

}  // namespace
}  // namespace sluice::cp
