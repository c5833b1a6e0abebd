// Every class of bad input the control API refuses, through the real
// request handling (Controller::handle, no dataplane attached): the code,
// the field, a message naming the value, and that the refused change left
// the state (config.export and the state file) exactly as before.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <memory>

#include "controlplane/controller.h"
#include "controlplane/request_args.h"
#include "controlplane/state_file.h"
#include "tests/controlplane/test_util.h"

namespace sluice::cp {
namespace {

using nlohmann::json;
using test::TempDir;

class ApiValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    link_ = std::make_unique<DataplaneLink>(test::unique_name("absent"), LinkTiming{});
    ControllerConfig cc;
    cc.state_file = dir_.file("state.json");
    ctl_ = std::make_unique<Controller>(cc, State{}, false, *link_, audit_,
                                        [](ConnId, const std::string&) {});
    ASSERT_EQ(call(R"({"op": "config.apply", "config": {"vips": [
      {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 7,
       "backends": [{"name": "web-1", "address": "198.51.100.1"},
                    {"name": "web-2", "address": "198.51.100.2"}]},
      {"address": "2001:db8::10", "port": 53, "protocol": "udp", "encap": "ipip",
       "backends": [{"name": "dns-1", "address": "2001:db8:2::1"}]}]}})")["ok"],
              true);
    snapshot();
    ASSERT_FALSE(file_before_.empty());
  }

  // What a refused change must leave as it is.
  void snapshot() {
    export_before_ = call(R"({"op": "config.export"})");
    file_before_ = test::read_all(dir_.file("state.json"));
  }

  json call(const std::string& line) {
    auto answer = ctl_->handle(1, line);
    EXPECT_TRUE(answer.has_value()) << "no dataplane: every answer is immediate";
    return answer ? json::parse(*answer) : json();
  }

  // Sends `line`, expects a refusal with `code` and `field` whose message
  // contains `needle`, and checks that nothing changed.
  void refused(const std::string& line, const std::string& code, const std::string& field,
               const std::string& needle = "") {
    SCOPED_TRACE(line);
    const json a = call(line);
    ASSERT_EQ(a["ok"], false) << a.dump();
    EXPECT_EQ(a["error"]["code"], code) << a.dump();
    if (field.empty()) {
      EXPECT_FALSE(a["error"].contains("field")) << a.dump();
    } else {
      EXPECT_EQ(a["error"].value("field", ""), field) << a.dump();
    }
    EXPECT_NE(a["error"]["message"].get<std::string>().find(needle), std::string::npos) << a.dump();
    EXPECT_EQ(call(R"({"op": "config.export"})"), export_before_);
    EXPECT_EQ(test::read_all(dir_.file("state.json")), file_before_);
  }

  TempDir dir_;
  AuditLog audit_;
  std::unique_ptr<DataplaneLink> link_;
  std::unique_ptr<Controller> ctl_;
  json export_before_;
  std::string file_before_;
};

TEST_F(ApiValidation, MalformedRequests) {
  refused("not json", "usage", "", "not valid JSON");
  refused(R"({"op": "config.apply", "config": {"vips": [)", "usage", "", "not valid JSON");
  refused("[1, 2]", "usage", "", "JSON object");
  refused(R"("status")", "usage", "", "JSON object");
  refused(R"({"vip": "192.0.2.10:80/tcp"})", "usage", "op", "required");
  refused(R"({"op": 7})", "usage", "op", "string");
  refused(R"({"op": "vip.explode"})", "usage", "op", "vip.explode");
  refused(R"({"op": "vip.del"})", "usage", "vip", "required");
  refused(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1"})", "usage", "",
          "weight");
}

TEST_F(ApiValidation, DeepNestingIsRefusedBeforeParsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  refused(R"({"op": "config.apply", "config": {"vips": )" + deep + "}}", "usage", "",
          "deeper than 32 levels");
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{", "b": [{"c": "\"[["}]})"), 3u);
}

TEST_F(ApiValidation, UnknownFields) {
  refused(R"({"op": "status", "verbose": true})", "usage", "verbose", "unknown field");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "id": 9}})",
          "usage", "vip.id", "unknown field");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "x", "address": "198.51.100.9", "colour": "red"}})",
          "usage", "backend.colour", "unknown field");
  refused(R"({"op": "config.apply", "config": {"vips": [{"address": "192.0.2.11", "port": 80,
              "protocol": "tcp", "ids": 1}]}})",
          "invalid", "vips[0].ids", "unknown field");
  // One document: a configuration must say "vips", and emptying the state
  // takes "vips": [] and allow_empty.
  refused(R"({"op": "config.apply", "config": {}})", "invalid", "vips", "is required");
  refused(R"({"op": "config.apply", "config": {"vips": []}})", "invalid", "vips",
          "allow_empty");
  refused(R"({"op": "config.apply", "config": {"vips": []}, "allow_empty": 1})", "usage",
          "allow_empty", "true or false");
  refused(R"({"op": "config.apply", "config": {"vips": [], "extra": 1}})", "invalid", "extra",
          "unknown field");
}

TEST_F(ApiValidation, WrongTypes) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": "80", "protocol": "tcp"}})",
          "usage", "vip.port", "integer");
  refused(R"({"op": "vip.add", "vip": "192.0.2.11:80/tcp"})", "usage", "vip", "object");
  refused(R"({"op": "vip.del", "vip": 5})", "usage", "vip", "string");
  refused(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 1.5})",
          "usage", "weight", "integer");
  refused(R"({"op": "config.apply", "config": "{\"vips\": []}"})", "usage", "config", "object");
  refused(R"({"op": "config.apply", "config": {"vips": {}}})", "invalid", "vips", "array");
  refused(R"({"op": "config.apply", "config": {"vips": [{"address": "192.0.2.11", "port": 80,
              "protocol": "tcp", "backends": [{"name": 5, "address": "198.51.100.1"}]}]}})",
          "invalid", "vips[0].backends[0].name", "string");
}

TEST_F(ApiValidation, DuplicateVipsAndBackends) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.10", "port": 80, "protocol": "tcp"}})",
          "invalid", "vip", "already exists");
  refused(R"({"op": "config.apply", "config": {"vips": [
            {"address": "192.0.2.11", "port": 80, "protocol": "tcp"},
            {"address": "192.0.2.11", "port": 80, "protocol": "tcp"}]}})",
          "invalid", "vips[1]", "duplicate VIP 192.0.2.11:80/tcp");
  refused(R"({"op": "config.apply", "config": {"vips": [
            {"address": "192.0.2.11", "port": 80, "protocol": "tcp", "backends": [
              {"name": "a", "address": "198.51.100.1"}, {"name": "a", "address": "198.51.100.2"}]}]}})",
          "invalid", "vips[0].backends[1].name", "duplicate backend name 'a'");
  refused(R"({"op": "config.apply", "config": {"vips": [
            {"address": "192.0.2.11", "port": 80, "protocol": "tcp", "backends": [
              {"name": "a", "address": "198.51.100.1"}, {"name": "b", "address": "198.51.100.1"}]}]}})",
          "invalid", "vips[0].backends[1].address", "duplicate backend address 198.51.100.1");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "web-1", "address": "198.51.100.7"}})",
          "invalid", "backend.name", "already exists");
}

TEST_F(ApiValidation, InvalidAddresses) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.300", "port": 80, "protocol": "tcp"}})",
          "invalid", "vip.address", "'192.0.2.300' is not an IPv4 or IPv6 address");
  refused(R"({"op": "vip.add", "vip": {"address": "0.0.0.0", "port": 80, "protocol": "tcp"}})",
          "invalid", "vip.address", "0.0.0.0");
  refused(R"({"op": "vip.add", "vip": {"address": "224.0.0.5", "port": 80, "protocol": "tcp"}})",
          "invalid", "vip.address", "multicast");
  refused(R"({"op": "vip.add", "vip": {"address": "::", "port": 80, "protocol": "tcp"}})",
          "invalid", "vip.address", "unspecified");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "lo", "address": "127.0.0.1"}})",
          "invalid", "backend.address", "loopback");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "b", "address": "255.255.255.255"}})",
          "invalid", "backend.address", "broadcast");
  refused(R"({"op": "backend.add", "vip": "[2001:db8::10]:53/udp",
              "backend": {"name": "m", "address": "ff02::1"}})",
          "invalid", "backend.address", "multicast");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "self", "address": "192.0.2.10"}})",
          "invalid", "backend.address", "the VIP's own address");
  refused(R"({"op": "vip.del", "vip": "192.0.2.300:80/tcp"})", "usage", "vip", "192.0.2.300");
  refused(R"({"op": "vip.del", "vip": "2001:db8::10:53/udp"})", "usage", "vip", "bracketed");
}

TEST_F(ApiValidation, PortZeroIsTheAllPortsVip) {
  const json a =
      call(R"({"op": "vip.add", "vip": {"address": "192.0.2.10", "port": 0, "protocol": "tcp"}})");
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_EQ(a["result"]["vip"]["key"], "192.0.2.10:0/tcp");
  EXPECT_EQ(a["dataplane"], "not attached");
  // A port-80 flow still goes to the exact VIP, any other port to port 0.
  ASSERT_EQ(call(R"({"op": "backend.add", "vip": "192.0.2.10:0/tcp",
                     "backend": {"name": "any", "address": "198.51.100.50"}})")["ok"],
            true);
  json e = call(R"({"op": "flow.explain", "client": "203.0.113.1", "client_port": 1000,
                    "vip": "192.0.2.10", "vip_port": 80, "protocol": "tcp"})");
  EXPECT_EQ(e["result"]["vip"], "192.0.2.10:80/tcp") << e.dump();
  e = call(R"({"op": "flow.explain", "client": "203.0.113.1", "client_port": 1000,
               "vip": "192.0.2.10", "vip_port": 8080, "protocol": "tcp"})");
  EXPECT_EQ(e["result"]["vip"], "192.0.2.10:0/tcp") << e.dump();
  EXPECT_EQ(e["result"]["backend"]["name"], "any") << e.dump();
  snapshot();
  refused(
      R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 65536, "protocol": "tcp"}})",
      "invalid", "vip.port", "65536 exceeds 65535");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": -1, "protocol": "tcp"}})",
          "invalid", "vip.port", "negative");
}

TEST_F(ApiValidation, AddressFamiliesTheEncapCannotCarry) {
  refused(R"({"op": "backend.add", "vip": "[2001:db8::10]:53/udp",
              "backend": {"name": "v4", "address": "198.51.100.9"}})",
          "invalid", "backend.address", "encap ipip cannot carry IPv6");
  refused(R"({"op": "config.apply", "config": {"vips": [{"address": "2001:db8::20", "port": 0,
              "protocol": "tcp", "backends": [{"name": "v4", "address": "198.51.100.9"}]}]}})",
          "invalid", "vips[0].backends[0].address", "use encap gue");
  // GUE carries any mix; IPIP carries IPv4 in IPv6.
  EXPECT_EQ(call(R"({"op": "config.check", "config": {"vips": [
              {"address": "2001:db8::20", "port": 0, "protocol": "tcp", "encap": "gue",
               "backends": [{"name": "v4", "address": "198.51.100.9"}]},
              {"address": "192.0.2.20", "port": 0, "protocol": "tcp",
               "backends": [{"name": "v6", "address": "2001:db8:2::9"}]}]}})")["result"]["valid"],
            true);
}

TEST_F(ApiValidation, TableSizes) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "table_size": 65536}})",
          "invalid", "vip.table_size", "65536 is not a prime");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "table_size": 5}})",
          "invalid", "vip.table_size", "5");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "table_size": 16777259}})",
          "invalid", "vip.table_size", "16777259");
  refused(R"({"op": "config.apply", "config": {"vips": [{"address": "192.0.2.11", "port": 80,
              "protocol": "tcp", "table_size": 100}]}})",
          "invalid", "vips[0].table_size", "100 is not a prime");
}

TEST_F(ApiValidation, WeightsOutOfRange) {
  refused(
      R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 1000001})",
      "invalid", "weight", "1000001 is out of range [0, 1000000]");
  refused(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": -1})",
          "invalid", "weight", "negative");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "x", "address": "198.51.100.9", "weight": 5000000000}})",
          "invalid", "backend.weight", "5000000000");
  refused(R"({"op": "config.apply", "config": {"vips": [{"address": "192.0.2.11", "port": 80,
              "protocol": "tcp", "backends": [{"name": "a", "address": "198.51.100.1",
              "weight": 2000000}]}]}})",
          "invalid", "vips[0].backends[0].weight", "2000000");
  EXPECT_EQ(call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1",
                     "weight": 0})")["ok"],
            true);
}

TEST_F(ApiValidation, MoreBackendsThanTheTableHolds) {
  json backends = json::array();
  for (int i = 0; i < 8; ++i) {
    backends.push_back({{"name", std::string("b") + std::to_string(i)},
                        {"address", "198.51.100." + std::to_string(i + 1)}});
  }
  const json req = {{"op", "config.apply"},
                    {"config",
                     {{"vips",
                       {{{"address", "192.0.2.10"},
                         {"port", 80},
                         {"protocol", "tcp"},
                         {"table_size", 7},
                         {"backends", backends}}}}}}};
  refused(req.dump(), "invalid", "vips[0].backends", "8 backends do not fit in table_size 7");
  for (int i = 3; i <= 7; ++i) {
    const json add = {{"op", "backend.add"},
                      {"vip", "192.0.2.10:80/tcp"},
                      {"backend",
                       {{"name", std::string("x") + std::to_string(i)},
                        {"address", "198.51.100." + std::to_string(100 + i)}}}};
    ASSERT_EQ(call(add.dump())["ok"], i <= 7) << i;
  }
  snapshot();
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "x8", "address": "198.51.100.200"}})",
          "invalid", "backend", "cannot take 8 backends");
}

TEST_F(ApiValidation, BackendNames) {
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "", "address": "198.51.100.9"}})",
          "invalid", "backend.name", "0 bytes");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "web 9", "address": "198.51.100.9"}})",
          "invalid", "backend.name", "[A-Za-z0-9._:-]");
  refused(R"({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
              "backend": {"name": "w\u00e9b", "address": "198.51.100.9"}})",
          "invalid", "backend.name", "[A-Za-z0-9._:-]");
  const json long_name = {
      {"op", "backend.add"},
      {"vip", "192.0.2.10:80/tcp"},
      {"backend", {{"name", std::string(193, 'a')}, {"address", "198.51.100.9"}}}};
  refused(long_name.dump(), "invalid", "backend.name", "193 bytes");
  const json max_name = {
      {"op", "backend.add"},
      {"vip", "192.0.2.10:80/tcp"},
      {"backend", {{"name", std::string(192, 'a')}, {"address", "198.51.100.9"}}}};
  EXPECT_EQ(call(max_name.dump())["ok"], true);
}

TEST_F(ApiValidation, OtherBadValues) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "icmp"}})",
          "invalid", "vip.protocol", "'icmp' is not tcp or udp");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "encap": "vxlan"}})",
          "invalid", "vip.encap", "'vxlan'");
  refused(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "state": "up"})",
          "invalid", "state", "'up'");
  refused(R"({"op": "backend.del", "vip": "192.0.2.10:80/tcp", "name": "web-9"})", "not_found",
          "name", "web-9");
  refused(R"({"op": "vip.del", "vip": "192.0.2.10:81/tcp"})", "not_found", "vip",
          "192.0.2.10:81/tcp");
}

// The scheduling policy (issue 16): names, the reset rule, the range, and
// vip.set's own arguments; an accepted vip.set shows in the view.
TEST_F(ApiValidation, SchedulerPolicy) {
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
              "scheduler": "fastest"}})",
          "invalid", "vip.scheduler", "'fastest' is not maglev, source-hash");
  refused(R"({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 53, "protocol": "udp",
              "no_backend": "reset"}})",
          "invalid", "vip.no_backend", "not tcp (use unreachable)");
  refused(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp", "no_backend": "refuse"})", "invalid",
          "no_backend", "'refuse' is not drop, reset or unreachable");
  refused(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp", "slow_start": 86401})", "invalid",
          "slow_start", "86401 exceeds 86400");
  refused(R"({"op": "vip.set", "vip": "[2001:db8::10]:53/udp", "no_backend": "reset"})",
          "invalid", "no_backend", "not tcp");
  refused(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp"})", "usage", "",
          "vip.set needs \"scheduler\", \"no_backend\" and/or \"slow_start\"");
  refused(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp", "encap": "gue"})", "usage", "encap",
          "unknown field");
  refused(R"({"op": "vip.set", "vip": "192.0.2.99:80/tcp", "scheduler": "maglev"})", "not_found",
          "vip", "192.0.2.99:80/tcp");
  refused(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "backup": 1})",
          "usage", "backup", "true or false");
  const json a = call(R"({"op": "vip.set", "vip": "192.0.2.10:80/tcp",
                          "scheduler": "weighted-round-robin", "slow_start": 60})");
  ASSERT_EQ(a["ok"], true) << a.dump();
  EXPECT_EQ(a["result"]["vip"]["scheduler"], "weighted-round-robin");
  EXPECT_EQ(a["result"]["vip"]["host_local"], true);
  EXPECT_EQ(a["result"]["vip"]["slow_start"], 60);
  EXPECT_EQ(a["result"]["vip"]["no_backend"], "drop");
  const json b = call(R"({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-2",
                          "backup": true})");
  ASSERT_EQ(b["ok"], true) << b.dump();
  EXPECT_EQ(b["result"]["backend"]["backup"], true);
}

TEST_F(ApiValidation, ConfigCheckValidatesWithoutApplying) {
  json a = call(R"({"op": "config.check", "config": {"vips": []}, "allow_empty": true})");
  EXPECT_EQ(a["result"]["valid"], true) << a.dump();
  a = call(R"({"op": "config.check", "config": {"vips": []}})");
  EXPECT_EQ(a["error"]["field"], "vips") << a.dump();
  EXPECT_EQ(call(R"({"op": "config.export"})"), export_before_);
  a = call(R"({"op": "config.check", "config": {"vips": [{"address": "192.0.2.1", "port": 70000,
              "protocol": "tcp"}]}})");
  EXPECT_EQ(a["error"]["code"], "invalid");
  EXPECT_EQ(a["error"]["message"], "vips[0].port: 70000 exceeds 65535");
  EXPECT_EQ(a["error"]["field"], "vips[0].port");
}

TEST_F(ApiValidation, FlowExplainArguments) {
  refused(R"({"op": "flow.explain", "client": "2001:db8::1", "client_port": 1, "vip": "192.0.2.10",
              "vip_port": 80, "protocol": "tcp"})",
          "invalid", "client", "different address families");
  refused(R"({"op": "flow.explain", "client": "203.0.113.1", "client_port": 1, "vip": "192.0.2.99",
              "vip_port": 80, "protocol": "tcp"})",
          "not_found", "vip", "192.0.2.99:80/tcp");
  refused(R"({"op": "flow.explain", "client": "203.0.113.1", "vip": "192.0.2.10",
              "vip_port": 80, "protocol": "tcp"})",
          "usage", "client_port", "required");
}

}  // namespace
}  // namespace sluice::cp
