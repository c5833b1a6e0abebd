// BIRD's side of the adapter without a BIRD: the include file's text and
// its reading back (bird_vips_file.h), and the control socket's replies
// (bird_client.h) as BIRD 2.0.12 writes them.
#include <gtest/gtest.h>

#include "controlplane/bird_client.h"
#include "controlplane/bird_vips_file.h"

namespace sluice::cp {
namespace {

TEST(BirdVipsFile, RendersStaticProtocolsViaTheLivenessDevice) {
  BirdVipsFile f;
  f.routes = {{"192.0.2.10/32", false, false},
              {"192.0.2.11/32", false, true},
              {"2001:db8::10/128", true, false}};
  const std::string text = render_bird_vips_file(f, "sluice-alive");
  EXPECT_NE(text.find("protocol static sluice4 {\n  ipv4;\n"
                      "  route 192.0.2.10/32 via \"sluice-alive\";\n"
                      "  route 192.0.2.11/32 via \"sluice-alive\" { bgp_community.add((65535,0)); };\n"
                      "}\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("protocol static sluice6 {\n  ipv6;\n"
                      "  route 2001:db8::10/128 via \"sluice-alive\";\n}\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("drained"), std::string::npos);
  std::string error;
  const auto back = parse_bird_vips_file(text, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, f);
}

TEST(BirdVipsFile, DrainedHostAndEmptyFileRoundTrip) {
  BirdVipsFile f;
  f.host_drained = true;
  std::string error;
  const auto back = parse_bird_vips_file(render_bird_vips_file(f, "x"), error);
  ASSERT_TRUE(back) << error;
  EXPECT_TRUE(back->host_drained);
  EXPECT_TRUE(back->routes.empty());
  const auto empty = parse_bird_vips_file("", error);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, BirdVipsFile{});
}

TEST(BirdVipsFile, RefusesWhatItDidNotWrite) {
  std::string error;
  EXPECT_FALSE(parse_bird_vips_file("protocol bgp uplink {\n}\n", error));
  EXPECT_NE(error.find("line 1"), std::string::npos) << error;
  EXPECT_FALSE(parse_bird_vips_file("protocol static sluice4 {\n  ipv4;\n", error));
  EXPECT_NE(error.find("not closed"), std::string::npos) << error;
  EXPECT_FALSE(parse_bird_vips_file(
      "protocol static sluice4 {\n  ipv4;\n  route 2001:db8::1/128 via \"x\";\n}\n", error));
  EXPECT_NE(error.find("other family"), std::string::npos) << error;
}

TEST(BirdReply, WaitsForTheFinalLine) {
  std::string error;
  EXPECT_FALSE(parse_bird_reply("0002-Reading configuration from c.conf\n", error));
  EXPECT_TRUE(error.empty());
  EXPECT_FALSE(parse_bird_reply("0002-Reading configuration from c.conf\n0003 Reconf", error));
  const auto r = parse_bird_reply("0002-Reading configuration from c.conf\n0003 Reconfigured\n", error);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->final_code, 3);
  EXPECT_EQ(r->final_text(), "Reconfigured");
  const auto bad = parse_bird_reply("8002 c.conf:3:1 syntax error, unexpected CF_SYM_UNDEFINED\n", error);
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->ok());
  EXPECT_FALSE(parse_bird_reply("hello\n", error));
  EXPECT_NE(error.find("not a BIRD reply line"), std::string::npos);
}

TEST(BirdReply, ShowProtocolsAsBird2WritesIt) {
  const std::string bytes =
      "2002-Name       Proto      Table      State  Since         Info\n"
      "1002-device1    Device     ---        up     17:54:56.094  \n"
      " sluice4    Static     master4    up     17:54:56.094  \n"
      " uplink     BGP        ---        up     17:55:01.200  Established   \n"
      " backup     BGP        ---        start  2026-12-06 09:00:01  Active        Socket: "
      "Connection refused\n"
      "0000 \n";
  std::string error;
  const auto r = parse_bird_reply(bytes, error);
  ASSERT_TRUE(r) << error;
  const auto p = parse_show_protocols(*r);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].name, "device1");
  EXPECT_EQ(p[0].info, "");
  EXPECT_EQ(p[2].name, "uplink");
  EXPECT_EQ(p[2].proto, "BGP");
  EXPECT_EQ(p[2].state, "up");
  EXPECT_EQ(p[2].info, "Established");
  EXPECT_EQ(p[3].since, "2026-12-06 09:00:01");
  EXPECT_EQ(p[3].state, "start");
  EXPECT_EQ(p[3].info, "Active        Socket: Connection refused");
}

}  // namespace
}  // namespace sluice::cp
