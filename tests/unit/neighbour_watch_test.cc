// The pure part of the next-hop watch (dataplane/neighbour_watch.h): netlink
// neighbour messages as the kernel sends them, built byte by byte here, and
// what each means for a next hop's MAC. No sockets.
#include "dataplane/neighbour_watch.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/next_hop_mac.h"

namespace sluice::dp {
namespace {

const uint8_t kRouterMac[6] = {0x02, 0x00, 0x5e, 0x00, 0x01, 0xfe};

// One message: nlmsghdr, ndmsg, then NDA_DST and (optionally) NDA_LLADDR.
std::vector<uint8_t> neigh_msg(uint16_t type, uint8_t family, int ifindex, uint16_t state,
                               const std::vector<uint8_t>& dst,
                               const std::vector<uint8_t>& lladdr) {
  // Built in a fixed buffer (GCC 12's -Warray-bounds misreads a growing
  // vector here), returned as a vector of exactly the message.
  uint8_t buf[256] = {};
  size_t len = NLMSG_SPACE(sizeof(ndmsg));
  auto attr = [&](uint16_t t, const std::vector<uint8_t>& data) {
    rtattr rta{static_cast<unsigned short>(RTA_LENGTH(data.size())), t};
    std::memcpy(&buf[len], &rta, sizeof rta);
    if (!data.empty()) std::memcpy(&buf[len + RTA_LENGTH(0)], data.data(), data.size());
    len += RTA_SPACE(data.size());
  };
  if (!dst.empty()) attr(NDA_DST, dst);
  if (!lladdr.empty()) attr(NDA_LLADDR, lladdr);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(len);
  h.nlmsg_type = type;
  std::memcpy(buf, &h, sizeof h);
  ndmsg nd{};
  nd.ndm_family = family;
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = state;
  std::memcpy(buf + NLMSG_LENGTH(0), &nd, sizeof nd);
  return std::vector<uint8_t>(buf, buf + len);
}

const std::vector<uint8_t> kV4 = {198, 51, 100, 1};
const std::vector<uint8_t> kV6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const std::vector<uint8_t> kMac(kRouterMac, kRouterMac + 6);

IpAddress ip(const char* text) { return *parse_ip_address(text); }

TEST(NeighbourWatch, ParsesAReachableIpv4Entry) {
  const auto msg = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, NUD_REACHABLE, kV4, kMac);
  NeighbourMessage m;
  ASSERT_TRUE(parse_neighbour_message(msg.data(), msg.size(), m));
  EXPECT_FALSE(m.deleted);
  EXPECT_EQ(m.ifindex, 3);
  EXPECT_EQ(m.address, ip("198.51.100.1"));
  EXPECT_TRUE(m.has_lladdr);
  EXPECT_EQ(std::memcmp(m.lladdr, kRouterMac, 6), 0);
  EXPECT_EQ(neighbour_packed_mac(m), pack_mac(kRouterMac));
  EXPECT_TRUE(neighbour_matches(m, ip("198.51.100.1"), 3));
  EXPECT_TRUE(neighbour_matches(m, ip("198.51.100.1"), 0));   // interface not known yet
  EXPECT_FALSE(neighbour_matches(m, ip("198.51.100.1"), 4));  // another interface's entry
  EXPECT_FALSE(neighbour_matches(m, ip("198.51.100.3"), 3));
  EXPECT_FALSE(neighbour_matches(m, ip("2001:db8:a::1"), 3));
  // This host answering for the address (proxy ARP) says nothing of the router.
  m.flags = NTF_PROXY;
  EXPECT_FALSE(neighbour_matches(m, ip("198.51.100.1"), 3));
}

TEST(NeighbourWatch, ParsesIpv6) {
  const auto msg = neigh_msg(RTM_NEWNEIGH, AF_INET6, 3, NUD_STALE, kV6, kMac);
  NeighbourMessage m;
  ASSERT_TRUE(parse_neighbour_message(msg.data(), msg.size(), m));
  EXPECT_EQ(m.address, ip("2001:db8:a::1"));
  EXPECT_EQ(neighbour_packed_mac(m), pack_mac(kRouterMac));
}

TEST(NeighbourWatch, UsableStates) {
  for (uint16_t s : {NUD_REACHABLE, NUD_STALE, NUD_DELAY, NUD_PROBE, NUD_PERMANENT, NUD_NOARP}) {
    EXPECT_TRUE(neighbour_state_usable(s)) << neighbour_state_name(s);
    const auto msg = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, s, kV4, kMac);
    NeighbourMessage m;
    ASSERT_TRUE(parse_neighbour_message(msg.data(), msg.size(), m));
    EXPECT_EQ(neighbour_packed_mac(m), pack_mac(kRouterMac)) << neighbour_state_name(s);
  }
  for (uint16_t s : {uint16_t{NUD_NONE}, uint16_t{NUD_INCOMPLETE}, uint16_t{NUD_FAILED}}) {
    EXPECT_FALSE(neighbour_state_usable(s)) << neighbour_state_name(s);
    // A FAILED entry keeps reporting the last MAC: it must not be used.
    const auto msg = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, s, kV4, kMac);
    NeighbourMessage m;
    ASSERT_TRUE(parse_neighbour_message(msg.data(), msg.size(), m));
    EXPECT_EQ(neighbour_packed_mac(m), 0u) << neighbour_state_name(s);
  }
  EXPECT_EQ(neighbour_state_name(NUD_REACHABLE), "REACHABLE");
  EXPECT_EQ(neighbour_state_name(NUD_NONE), "NONE");
}

TEST(NeighbourWatch, DeletionAndMissingMacAreUnknown) {
  NeighbourMessage m;
  auto del = neigh_msg(RTM_DELNEIGH, AF_INET, 3, NUD_REACHABLE, kV4, kMac);
  ASSERT_TRUE(parse_neighbour_message(del.data(), del.size(), m));
  EXPECT_TRUE(m.deleted);
  EXPECT_EQ(neighbour_packed_mac(m), 0u);
  auto incomplete = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, NUD_INCOMPLETE, kV4, {});
  ASSERT_TRUE(parse_neighbour_message(incomplete.data(), incomplete.size(), m));
  EXPECT_FALSE(m.has_lladdr);
  EXPECT_EQ(neighbour_packed_mac(m), 0u);
  // A usable state without an Ethernet address (a tunnel's, all zeros).
  auto odd = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, NUD_NOARP, kV4, {1, 2, 3, 4});
  ASSERT_TRUE(parse_neighbour_message(odd.data(), odd.size(), m));
  EXPECT_EQ(neighbour_packed_mac(m), 0u);
  auto zero = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, NUD_NOARP, kV4, {0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(parse_neighbour_message(zero.data(), zero.size(), m));
  EXPECT_EQ(neighbour_packed_mac(m), 0u);
}

TEST(NeighbourWatch, RefusesWhatIsNoNeighbourMessage) {
  NeighbourMessage m;
  auto route = neigh_msg(RTM_NEWROUTE, AF_INET, 3, NUD_REACHABLE, kV4, kMac);
  EXPECT_FALSE(parse_neighbour_message(route.data(), route.size(), m));
  auto bridge = neigh_msg(RTM_NEWNEIGH, AF_BRIDGE, 3, NUD_REACHABLE, kV4, kMac);
  EXPECT_FALSE(parse_neighbour_message(bridge.data(), bridge.size(), m));
  // An IPv6 message with a 4-byte address.
  auto bad = neigh_msg(RTM_NEWNEIGH, AF_INET6, 3, NUD_REACHABLE, kV4, kMac);
  EXPECT_FALSE(parse_neighbour_message(bad.data(), bad.size(), m));
  // No NDA_DST at all.
  auto no_dst = neigh_msg(RTM_NEWNEIGH, AF_INET, 3, NUD_REACHABLE, {}, kMac);
  EXPECT_FALSE(parse_neighbour_message(no_dst.data(), no_dst.size(), m));
}

TEST(NeighbourWatch, NeverReadsPastTheBuffer) {
  const auto msg = neigh_msg(RTM_NEWNEIGH, AF_INET6, 3, NUD_REACHABLE, kV6, kMac);
  NeighbourMessage m;
  // Every truncation: a header that claims more than there is, or an
  // attribute cut short, is refused or parsed without what is missing.
  for (size_t len = 0; len < msg.size(); ++len) {
    std::vector<uint8_t> cut(msg.begin(), msg.begin() + static_cast<long>(len));
    EXPECT_FALSE(parse_neighbour_message(cut.data(), cut.size(), m)) << len;
    // The header shortened to match: attributes that no longer fit are
    // not read (the address goes first, so without it: refused).
    if (len >= NLMSG_LENGTH(sizeof(ndmsg))) {
      nlmsghdr h;
      std::memcpy(&h, cut.data(), sizeof h);
      h.nlmsg_len = static_cast<uint32_t>(len);
      std::memcpy(cut.data(), &h, sizeof h);
      const bool ok = parse_neighbour_message(cut.data(), cut.size(), m);
      const size_t dst_end = NLMSG_SPACE(sizeof(ndmsg)) + RTA_SPACE(16);
      EXPECT_EQ(ok, len >= dst_end) << len;
      if (ok) {
        EXPECT_EQ(m.has_lladdr, len >= dst_end + RTA_LENGTH(6)) << len;
      }
    }
  }
}

TEST(NeighbourWatch, PackedMacRoundTrip) {
  const uint64_t p = pack_mac(kRouterMac);
  EXPECT_TRUE(packed_mac_known(p));
  EXPECT_FALSE(packed_mac_known(0));
  uint8_t back[6];
  unpack_mac(p, back);
  EXPECT_EQ(std::memcmp(back, kRouterMac, 6), 0);
  const uint8_t zero[6] = {};
  EXPECT_TRUE(packed_mac_known(pack_mac(zero)));  // known, even if odd
}

}  // namespace
}  // namespace sluice::dp
