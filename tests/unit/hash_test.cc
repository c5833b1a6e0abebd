// Flow hash: pinned values (computed by an independent Python model of the
// algorithm described in common/hash.h), determinism, seeding, layout rules
// and spread over buckets.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <set>
#include <vector>

#include "common/hash.h"
#include "common/ip_address.h"

namespace sluice {
namespace {

FlowKey make_key(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                 uint8_t proto) {
  const IpAddress s = *parse_ip_address(src), d = *parse_ip_address(dst);
  FlowKey k{};
  std::memcpy(k.src, s.bytes, 16);
  std::memcpy(k.dst, d.bytes, 16);
  k.src_port = htons(sport);
  k.dst_port = htons(dport);
  k.protocol = proto;
  k.family = s.family;
  return k;
}

// A change to these values changes which backend every flow lands on, and
// breaks consistency with hosts still running the old code: do it only on
// purpose.
TEST(FlowHash, PinnedValues) {
  FlowHash h = flow_hash(make_key("203.0.113.7", "192.0.2.10", 40000, 80, 6), 0);
  EXPECT_EQ(h.hash, 0x885b50519e1166adull);
  EXPECT_EQ(h.fingerprint, 0x185cd7575d947d19ull);
  h = flow_hash(make_key("203.0.113.7", "192.0.2.10", 40000, 80, 6), 42);
  EXPECT_EQ(h.hash, 0xf5984126928fe836ull);
  EXPECT_EQ(h.fingerprint, 0x83bb17ed8506b303ull);
  h = flow_hash(make_key("2001:db8:1::7", "2001:db8::10", 5353, 53, 17), 0);
  EXPECT_EQ(h.hash, 0xcb8216a8f26542b5ull);
  EXPECT_EQ(h.fingerprint, 0xb246c11f4293e8ffull);
}

TEST(FlowHash, EveryFieldMatters) {
  const FlowKey base = make_key("203.0.113.7", "192.0.2.10", 40000, 80, 6);
  const FlowHash h0 = flow_hash(base, 0);
  std::vector<FlowKey> variants(6, base);
  variants[0].src[3] ^= 1;
  variants[1].dst[3] ^= 1;
  variants[2].src_port ^= 1;
  variants[3].dst_port ^= 1;
  variants[4].protocol = 17;
  variants[5].family = 6;
  for (const FlowKey& k : variants) {
    const FlowHash h = flow_hash(k, 0);
    EXPECT_NE(h.hash, h0.hash);
    EXPECT_NE(h.fingerprint, h0.fingerprint);
  }
  EXPECT_NE(flow_hash(base, 1).hash, h0.hash);
}

TEST(FlowHash, FingerprintNeverZeroAndLanesIndependent) {
  std::set<uint64_t> buckets_of_equal_fp;
  uint32_t same_low_bits = 0;
  for (uint32_t i = 0; i < 100000; ++i) {
    FlowKey k = make_key("203.0.113.1", "192.0.2.10", 1024, 80, 6);
    std::memcpy(k.src, &i, 4);
    const FlowHash h = flow_hash(k, 7);
    ASSERT_NE(h.fingerprint, 0u);
    same_low_bits += (h.hash & 0xFFFF) == (h.fingerprint & 0xFFFF);
  }
  // Independent lanes agree on 16 bits about once in 65536 keys.
  EXPECT_LT(same_low_bits, 10u);
}

TEST(FlowHash, SpreadsOverBuckets) {
  // 1M flows differing only in source port and address into 4096 buckets:
  // the chi-square statistic of a uniform hash is about 4095 +- 90.
  constexpr uint32_t kBuckets = 4096, kFlows = 1 << 20;
  std::vector<uint32_t> count(kBuckets);
  std::vector<uint32_t> maglev(65537);
  for (uint32_t i = 0; i < kFlows; ++i) {
    FlowKey k = make_key("203.0.113.1", "192.0.2.10", 0, 80, 6);
    k.src_port = static_cast<uint16_t>(i);
    k.src[3] = static_cast<uint8_t>(i >> 16);
    const uint64_t h = flow_hash(k, 0).hash;
    count[h & (kBuckets - 1)]++;
    maglev[((h >> 32) * 65537) >> 32]++;
  }
  const double mean = double(kFlows) / kBuckets;
  double chi2 = 0;
  for (uint32_t c : count) chi2 += (c - mean) * (c - mean) / mean;
  EXPECT_LT(chi2, 4095 + 5 * 90.5);
  EXPECT_GT(chi2, 4095 - 5 * 90.5);
  // The Maglev slot (high 32 bits) reaches every part of a 65537 table.
  uint32_t empty = 0;
  for (uint32_t c : maglev) empty += c == 0;
  EXPECT_LT(empty, 65537u / 1000);  // Poisson(16): P(0) ~ 1e-7
}

TEST(HashBytes, DependsOnEveryByteAndLength) {
  const std::string a = "backend-a";
  EXPECT_EQ(hash_bytes(a.data(), a.size(), 1), hash_bytes(a.data(), a.size(), 1));
  EXPECT_NE(hash_bytes(a.data(), a.size(), 1), hash_bytes(a.data(), a.size(), 2));
  EXPECT_NE(hash_bytes("backend-b", 9, 1), hash_bytes(a.data(), a.size(), 1));
  EXPECT_NE(hash_bytes("ab\0", 3, 1), hash_bytes("ab", 2, 1));
  const std::string long_name(100, 'x');
  std::string other = long_name;
  other[57] = 'y';
  EXPECT_NE(hash_bytes(long_name.data(), 100, 0), hash_bytes(other.data(), 100, 0));
}

}  // namespace
}  // namespace sluice
