// Transactions on the command ring (common/control_segment.h) and the
// deltas they carry (common/table_delta.h): encode -> assemble round trip of
// whole states and of deltas, diff_configs + apply_delta reproducing the
// target, nothing before commit, a torn transaction (begin without commit)
// discarded when the next begin arrives, records without a begin counted
// and ignored, and mismatched counts refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "common/config_digest.h"
#include "common/control_segment.h"
#include "common/table_delta.h"
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

std::vector<Record> encode_whole(const TableConfig& c, uint64_t txn) {
  return encode_transaction(full_delta(c), txn);
}

// Feeds every record; the committed delta applied to `base`.
TableConfig assemble(const std::vector<Record>& records, const TableConfig& base) {
  TransactionAssembler a;
  for (size_t i = 0; i + 1 < records.size(); ++i) {
    EXPECT_EQ(a.feed(records[i]), Result::kPending) << "nothing before commit, record " << i;
  }
  EXPECT_EQ(a.feed(records.back()), Result::kCommitted) << a.error();
  TableConfig out = base;
  EXPECT_EQ(apply_delta(out, a.take()), "");
  return out;
}

TEST(Transaction, RoundTrip) {
  const TableConfig c = sample(3, 4);
  const auto records = encode_whole(c, 42);
  ASSERT_EQ(records.size(), 2u + 3u + 12u);
  // A whole state replaces whatever was there.
  EXPECT_TRUE(cp::same_config(assemble(records, sample(5, 1)), c));
}

// The scheduling policy and backup travel the ring, change the digest, and
// a policy change is a VIP upsert, a backup change a backend upsert.
TEST(Transaction, SchedulerFieldsTravelAndCount) {
  const TableConfig from = sample(2, 3);
  TableConfig to = from;
  to.vips[0].scheduler = Scheduler::kPowerOfTwo;
  to.vips[0].no_backend = NoBackend::kUnreachable;
  to.vips[0].slow_start_s = 45;
  to.vips[1].backends[2].backup = true;
  EXPECT_NE(vip_digest(to.vips[0]), vip_digest(from.vips[0]));
  EXPECT_NE(vip_digest(to.vips[1]), vip_digest(from.vips[1]));
  const TableDelta d = diff_configs(from, to);
  EXPECT_EQ(d.vip_upserts.size(), 1u);
  EXPECT_EQ(d.backend_upserts.size(), 1u);
  const TableConfig got = assemble(encode_transaction(d, 3), from);
  EXPECT_TRUE(cp::same_config(got, to));
  EXPECT_EQ(config_digest(got), config_digest(to));
  EXPECT_EQ(got.vips[0].scheduler, Scheduler::kPowerOfTwo);
  EXPECT_EQ(got.vips[0].no_backend, NoBackend::kUnreachable);
  EXPECT_EQ(got.vips[0].slow_start_s, 45u);
  EXPECT_TRUE(got.vips[1].backends[2].backup);
}

TEST(Transaction, DeltaRoundTripReproducesTheTarget) {
  const TableConfig from = sample(4, 3);
  TableConfig to = from;
  to.vips[0].backends[1].weight = 9;                      // a backend upsert
  to.vips[1].backends.pop_back();                         // a backend delete
  BackendConfig added = to.vips[2].backends[0];
  added.id = 100;
  added.name = "new";
  added.address = *parse_ip_address("198.51.100.99");
  to.vips[2].backends.push_back(added);                   // a backend added
  to.vips[3].encap = Encap::kGue;                         // a VIP upsert, whole
  to.vips.erase(to.vips.begin() + 1);                     // ... and VIP 2 deleted
  VipConfig fresh = sample(1, 2).vips[0];
  fresh.id = 9;
  fresh.address = *parse_ip_address("192.0.2.99");
  to.vips.push_back(fresh);                               // a VIP added

  const TableDelta d = diff_configs(from, to);
  EXPECT_FALSE(d.full);
  EXPECT_EQ(d.vip_deletes, std::vector<uint32_t>{2});
  EXPECT_EQ(d.vip_upserts.size(), 2u);  // VIP 4 (encap) and VIP 9 (new)
  EXPECT_EQ(d.backend_upserts.size(), 2u);
  EXPECT_TRUE(d.backend_deletes.empty());  // VIP 2's backends go with it
  const auto records = encode_transaction(d, 7);
  EXPECT_EQ(records.size(), delta_records(d));
  // Far fewer records than the whole state.
  EXPECT_LT(records.size(), encode_whole(to, 8).size());
  TableConfig got = assemble(records, from);
  EXPECT_EQ(config_digest(got), config_digest(to));
  cp::normalize(got);
  cp::normalize(to);
  EXPECT_TRUE(cp::same_config(got, to));
}

TEST(Transaction, OneBackendChangeIsOneRecordWhateverTheSize) {
  const TableConfig from = sample(200, 10);
  TableConfig to = from;
  to.vips[123].backends[4].state = BackendState::kDisabled;
  const TableDelta d = diff_configs(from, to);
  EXPECT_EQ(delta_records(d), 3u);  // begin, one backend upsert, commit
  EXPECT_TRUE(diff_configs(to, to).empty());
}

TEST(Transaction, ApplyDeltaRefusesWhatIsNotThere) {
  TableConfig c = sample(1, 1);
  const TableConfig before = c;
  TableDelta d;
  d.backend_deletes.push_back(BackendDelete{1, 77});
  EXPECT_NE(apply_delta(c, d).find("no backend with id 77"), std::string::npos);
  d = TableDelta{};
  d.vip_deletes.push_back(5);
  EXPECT_NE(apply_delta(c, d).find("no such VIP"), std::string::npos);
  EXPECT_TRUE(cp::same_config(c, before));
}

TEST(Transaction, DigestIgnoresOrderAndSeesEveryField) {
  TableConfig a = sample(3, 3);
  TableConfig b = a;
  std::reverse(b.vips.begin(), b.vips.end());
  std::reverse(b.vips[0].backends.begin(), b.vips[0].backends.end());
  EXPECT_EQ(config_digest(a), config_digest(b));
  b = a;
  b.vips[1].backends[2].weight += 1;
  EXPECT_NE(config_digest(a), config_digest(b));
  b = a;
  b.vips[2].backends[0].name += "x";
  EXPECT_NE(config_digest(a), config_digest(b));
  b = a;
  b.vips[0].table_size = 257;
  EXPECT_NE(config_digest(a), config_digest(b));
  EXPECT_EQ(config_digest(TableConfig{}), 0u);
}

TEST(Transaction, TornTransactionIsDiscardedByTheNextBegin) {
  const auto torn = encode_whole(sample(2, 2), 1);
  const auto whole = encode_whole(sample(1, 1), 2);
  TransactionAssembler a;
  // Begin and some records, no commit: a control plane that died mid-push.
  for (size_t i = 0; i < torn.size() - 2; ++i) ASSERT_EQ(a.feed(torn[i]), Result::kPending);
  for (size_t i = 0; i + 1 < whole.size(); ++i) ASSERT_EQ(a.feed(whole[i]), Result::kPending);
  ASSERT_EQ(a.feed(whole.back()), Result::kCommitted) << a.error();
  EXPECT_EQ(a.discarded_transactions(), 1u);
  EXPECT_EQ(a.txn_id(), 2u);
  TableConfig got;
  EXPECT_EQ(apply_delta(got, a.take()), "");
  EXPECT_TRUE(cp::same_config(got, sample(1, 1)));
}

TEST(Transaction, RecordsWithoutBeginAreCountedAndIgnored) {
  const auto records = encode_whole(sample(1, 2), 7);
  TransactionAssembler a;
  // Everything but the begin: the tail of a transaction we joined late.
  for (size_t i = 1; i < records.size(); ++i) ASSERT_EQ(a.feed(records[i]), Result::kPending);
  EXPECT_EQ(a.stray_records(), records.size() - 1);
  // Records of another transaction id while one is open are strays too.
  const auto other = encode_whole(sample(1, 1), 8);
  ASSERT_EQ(a.feed(records[0]), Result::kPending);
  ASSERT_EQ(a.feed(other[1]), Result::kPending);
  EXPECT_EQ(a.stray_records(), records.size());
  for (size_t i = 1; i + 1 < records.size(); ++i) ASSERT_EQ(a.feed(records[i]), Result::kPending);
  EXPECT_EQ(a.feed(records.back()), Result::kCommitted) << a.error();
}

TEST(Transaction, MismatchedCountsAreRefused) {
  {
    auto records = encode_whole(sample(2, 2), 3);
    // Drop one backend record: the commit's count no longer matches.
    records.erase(records.begin() + 2);
    TransactionAssembler a;
    Result last = Result::kPending;
    for (const auto& r : records) last = a.feed(r);
    EXPECT_EQ(last, Result::kError);
    EXPECT_NE(a.error().find("count does not match"), std::string::npos) << a.error();
  }
  {
    auto records = encode_whole(sample(1, 1), 4);
    TxnCommitMsg commit;
    std::memcpy(&commit, records.back().data(), sizeof commit);
    commit.records = 5;
    std::memcpy(records.back().data(), &commit, sizeof commit);
    TransactionAssembler a;
    Result last = Result::kPending;
    for (const auto& r : records) last = a.feed(r);
    EXPECT_EQ(last, Result::kError);
  }
  {
    // More records than the begin announced.
    auto records = encode_whole(sample(2, 0), 5);
    TxnBeginMsg begin;
    std::memcpy(&begin, records.front().data(), sizeof begin);
    begin.records = 1;
    std::memcpy(records.front().data(), &begin, sizeof begin);
    TransactionAssembler a;
    EXPECT_EQ(a.feed(records[0]), Result::kPending);
    EXPECT_EQ(a.feed(records[1]), Result::kPending);
    EXPECT_EQ(a.feed(records[2]), Result::kError);
    EXPECT_NE(a.error().find("more records"), std::string::npos) << a.error();
  }
}

TEST(Transaction, RefusesAnotherAbiVersion) {
  auto records = encode_whole(sample(1, 1), 9);
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
