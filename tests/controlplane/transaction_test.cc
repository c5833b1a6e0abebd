// Transactions on the command ring (common/control_segment.h): encode ->
// assemble round trip, nothing before commit, a torn transaction (begin
// without commit) discarded when the next begin arrives, records without a
// begin counted and ignored, and mismatched counts refused.
#include <gtest/gtest.h>

#include <cstring>

#include "common/control_segment.h"
#include "controlplane/state.h"

namespace sluice {
namespace {

TableConfig sample(uint32_t vips, uint32_t backends_per_vip) {
  TableConfig c;
  for (uint32_t v = 0; v < vips; ++v) {
    VipConfig vip;
    vip.id = v + 1;
    vip.address = *parse_ip_address("192.0.2." + std::to_string(v + 1));
    vip.port = static_cast<uint16_t>(80 + v);
    vip.protocol = 6;
    vip.table_size = 251;
    for (uint32_t b = 0; b < backends_per_vip; ++b) {
      BackendConfig be;
      be.id = v * backends_per_vip + b + 1;
      be.name = "be-" + std::to_string(v) + "-" + std::to_string(b);
      be.address = *parse_ip_address("198.51.100." + std::to_string(b + 1));
      be.weight = b + 1;
      be.state = b == 1 ? BackendState::kDraining : BackendState::kActive;
      vip.backends.push_back(be);
    }
    c.vips.push_back(vip);
  }
  return c;
}

using Result = TransactionAssembler::Result;

TEST(Transaction, RoundTrip) {
  const TableConfig c = sample(3, 4);
  const auto records = encode_transaction(c, 42);
  ASSERT_EQ(records.size(), 2u + 3u + 12u);
  TransactionAssembler a;
  for (size_t i = 0; i + 1 < records.size(); ++i) {
    ASSERT_EQ(a.feed(records[i]), Result::kPending) << "nothing before commit, record " << i;
  }
  ASSERT_EQ(a.feed(records.back()), Result::kCommitted) << a.error();
  EXPECT_EQ(a.txn_id(), 42u);
  TableConfig got = a.take();
  EXPECT_TRUE(cp::same_config(got, c));
}

TEST(Transaction, TornTransactionIsDiscardedByTheNextBegin) {
  const auto torn = encode_transaction(sample(2, 2), 1);
  const auto whole = encode_transaction(sample(1, 1), 2);
  TransactionAssembler a;
  // Begin and some records, no commit: a control plane that died mid-push.
  for (size_t i = 0; i < torn.size() - 2; ++i) ASSERT_EQ(a.feed(torn[i]), Result::kPending);
  for (size_t i = 0; i + 1 < whole.size(); ++i) ASSERT_EQ(a.feed(whole[i]), Result::kPending);
  ASSERT_EQ(a.feed(whole.back()), Result::kCommitted) << a.error();
  EXPECT_EQ(a.discarded_transactions(), 1u);
  EXPECT_EQ(a.txn_id(), 2u);
  EXPECT_TRUE(cp::same_config(a.take(), sample(1, 1)));
}

TEST(Transaction, RecordsWithoutBeginAreCountedAndIgnored) {
  const auto records = encode_transaction(sample(1, 2), 7);
  TransactionAssembler a;
  // Everything but the begin: the tail of a transaction we joined late.
  for (size_t i = 1; i < records.size(); ++i) ASSERT_EQ(a.feed(records[i]), Result::kPending);
  EXPECT_EQ(a.stray_records(), records.size() - 1);
  // Records of another transaction id while one is open are strays too.
  const auto other = encode_transaction(sample(1, 1), 8);
  ASSERT_EQ(a.feed(records[0]), Result::kPending);
  ASSERT_EQ(a.feed(other[1]), Result::kPending);
  EXPECT_EQ(a.stray_records(), records.size());
  for (size_t i = 1; i + 1 < records.size(); ++i) ASSERT_EQ(a.feed(records[i]), Result::kPending);
  EXPECT_EQ(a.feed(records.back()), Result::kCommitted) << a.error();
}

TEST(Transaction, MismatchedCountsAreRefused) {
  {
    auto records = encode_transaction(sample(2, 2), 3);
    // Drop one backend record: the commit's counts no longer match.
    records.erase(records.begin() + 2);
    TransactionAssembler a;
    Result last = Result::kPending;
    for (const auto& r : records) last = a.feed(r);
    EXPECT_EQ(last, Result::kError);
    EXPECT_NE(a.error().find("counts do not match"), std::string::npos) << a.error();
  }
  {
    auto records = encode_transaction(sample(1, 1), 4);
    TxnCommitMsg commit;
    std::memcpy(&commit, records.back().data(), sizeof commit);
    commit.backend_count = 5;
    std::memcpy(records.back().data(), &commit, sizeof commit);
    TransactionAssembler a;
    Result last = Result::kPending;
    for (const auto& r : records) last = a.feed(r);
    EXPECT_EQ(last, Result::kError);
  }
  {
    // More VIP records than the begin announced.
    auto records = encode_transaction(sample(2, 0), 5);
    TxnBeginMsg begin;
    std::memcpy(&begin, records.front().data(), sizeof begin);
    begin.vip_count = 1;
    std::memcpy(records.front().data(), &begin, sizeof begin);
    TransactionAssembler a;
    EXPECT_EQ(a.feed(records[0]), Result::kPending);
    EXPECT_EQ(a.feed(records[1]), Result::kPending);
    EXPECT_EQ(a.feed(records[2]), Result::kError);
    EXPECT_NE(a.error().find("more VIP records"), std::string::npos) << a.error();
  }
}

TEST(Transaction, RefusesAnotherAbiVersion) {
  auto records = encode_transaction(sample(1, 1), 9);
  auto begin = from_record<TxnBeginMsg>(records.front());
  EXPECT_EQ(begin.abi_version, kAbiVersion);
  begin.abi_version = kAbiVersion + 1;
  records.front() = to_record(begin);
  TransactionAssembler a;
  EXPECT_EQ(a.feed(records[0]), Result::kError);
  EXPECT_EQ(a.txn_id(), 9u);  // the refusal is acknowledged to that transaction
  EXPECT_NE(a.error().find("ABI version " + std::to_string(kAbiVersion + 1)), std::string::npos)
      << a.error();
  // The rest of it is ignored, never applied.
  for (size_t i = 1; i < records.size(); ++i) EXPECT_EQ(a.feed(records[i]), Result::kPending);
  EXPECT_EQ(a.stray_records(), records.size() - 1);
}

TEST(Transaction, ChannelRefusesNamesThatDoNotFitARecord) {
  TableConfig c = sample(1, 1);
  c.vips[0].backends[0].name.assign(kMaxBackendNameLen, 'a');
  EXPECT_EQ(validate_for_channel(c), "");
  c.vips[0].backends[0].name.push_back('a');
  EXPECT_NE(validate_for_channel(c).find("193 bytes"), std::string::npos);
}

}  // namespace
}  // namespace sluice
