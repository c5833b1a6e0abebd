// Fuzz target: the dataplane's end of the control channel. The input is a
// stream of 256-byte command-ring records (the last one zero-padded), fed
// one by one to TransactionAssembler::feed as the dataplane's control
// channel does. Whatever it commits then goes where a commit goes:
// validate_table_config, and if that accepts it, dp::build_tables.
//
// Invariants:
//  - feed never crashes; kError comes with a message;
//  - kCommitted only on a commit record whose transaction id and counts
//    match the latest begin (with our ABI version), and the config taken is
//    exactly the VIP and backend records of that transaction, in order
//    (checked against the harness's own log of the records, not against
//    the assembler's logic);
//  - a committed config survives encode_transaction -> feed unchanged;
//  - validate_table_config accepting it means build_tables builds it: every
//    VIP is found under its own key, every Maglev slot holds 0 or an active,
//    weighted backend of that VIP, and no slot is 0 while one exists.
// Configs whose Maglev tables would exceed kMaxBuildSlots in all are
// validated but not built, to keep each input fast (table size goes to
// 16777213 per VIP; building that is a memory and time test, not a fuzz
// input).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "common/control_segment.h"
#include "common/table_config.h"
#include "dataplane/tables.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace sluice;

constexpr size_t kMaxRecords = 512;
constexpr uint64_t kMaxBuildSlots = 1u << 21;

// Outcomes over all inputs, printed at exit: how far the run got.
struct Totals {
  uint64_t records = 0, errors = 0, committed = 0, valid = 0, built = 0, too_big_to_build = 0;
} g_totals;

void print_totals() {
  std::fprintf(stderr,
               "fuzz_transaction: over all inputs: records=%llu errors=%llu committed=%llu "
               "valid=%llu built=%llu not_built_size=%llu\n",
               static_cast<unsigned long long>(g_totals.records),
               static_cast<unsigned long long>(g_totals.errors),
               static_cast<unsigned long long>(g_totals.committed),
               static_cast<unsigned long long>(g_totals.valid),
               static_cast<unsigned long long>(g_totals.built),
               static_cast<unsigned long long>(g_totals.too_big_to_build));
}

bool same_address(const IpAddress& a, uint8_t family, const uint8_t* bytes) {
  return a.family == family && std::memcmp(a.bytes, bytes, 16) == 0;
}

// The committed config against the records of its transaction, in order:
// each VIP record followed by its backend records.
void check_against_records(const TableConfig& c, const std::vector<Record>& records) {
  size_t next = 0;
  for (const VipConfig& vip : c.vips) {
    FUZZ_CHECK(next < records.size(), "more VIPs than VIP records");
    const auto v = from_record<VipMsg>(records[next++]);
    FUZZ_CHECK(v.h.type == MsgType::kVip, "a VIP where the records have a backend");
    FUZZ_CHECK(vip.id == v.id && vip.table_size == v.table_size && vip.protocol == v.protocol &&
                   static_cast<uint8_t>(vip.encap) == v.encap && vip.port == v.port &&
                   same_address(vip.address, v.family, v.address),
               "VIP " + std::to_string(v.id) + " differs from its record");
    for (const BackendConfig& be : vip.backends) {
      FUZZ_CHECK(next < records.size(), "more backends than backend records");
      const auto b = from_record<BackendMsg>(records[next++]);
      FUZZ_CHECK(b.h.type == MsgType::kBackend, "a backend where the records have a VIP");
      FUZZ_CHECK(b.vip_id == vip.id, "backend record of another VIP");
      FUZZ_CHECK(b.name_len <= kMaxBackendNameLen && be.name == std::string(b.name, b.name_len),
                 "backend name");
      FUZZ_CHECK(be.id == b.id && be.weight == b.weight &&
                     static_cast<uint8_t>(be.state) == b.state &&
                     same_address(be.address, b.family, b.address),
                 "backend " + std::to_string(b.id) + " differs from its record");
    }
  }
  FUZZ_CHECK(next == records.size(), "records left over after the last VIP");
}

bool same_config(const TableConfig& a, const TableConfig& b) {
  if (a.vips.size() != b.vips.size()) return false;
  for (size_t i = 0; i < a.vips.size(); ++i) {
    const VipConfig &x = a.vips[i], &y = b.vips[i];
    if (x.id != y.id || x.table_size != y.table_size || x.protocol != y.protocol ||
        x.encap != y.encap || x.port != y.port ||
        !same_address(x.address, y.address.family, y.address.bytes) ||
        x.backends.size() != y.backends.size()) {
      return false;
    }
    for (size_t j = 0; j < x.backends.size(); ++j) {
      const BackendConfig &p = x.backends[j], &q = y.backends[j];
      if (p.id != q.id || p.name != q.name || p.weight != q.weight || p.state != q.state ||
          !same_address(p.address, q.address.family, q.address.bytes)) {
        return false;
      }
    }
  }
  return true;
}

void check_round_trip(const TableConfig& c, uint64_t txn_id) {
  TransactionAssembler again;
  const std::vector<Record> records = encode_transaction(c, txn_id);
  for (size_t i = 0; i < records.size(); ++i) {
    const auto r = again.feed(records[i]);
    const bool last = i + 1 == records.size();
    FUZZ_CHECK(r == (last ? TransactionAssembler::Result::kCommitted
                          : TransactionAssembler::Result::kPending),
               "re-encoded transaction, record " + std::to_string(i) + ": " + again.error());
  }
  FUZZ_CHECK(same_config(again.take(), c), "the config changed on the way through the channel");
}

void check_build(const TableConfig& c) {
  TableLimits limits;
  limits.max_vips = 64;
  limits.max_backend_id = 1024;
  const std::string invalid = validate_table_config(c, limits);
  if (!invalid.empty()) return;
  ++g_totals.valid;
  uint64_t slots = 0;
  for (const VipConfig& v : c.vips) slots += v.table_size;
  if (slots > kMaxBuildSlots) {
    ++g_totals.too_big_to_build;
    return;
  }
  ++g_totals.built;

  std::string error;
  const auto t = dp::build_tables(c, limits, 1, error);
  FUZZ_CHECK(t != nullptr, "validate_table_config accepted what build_tables refused: " + error);
  FUZZ_CHECK(t->vips.size() == c.vips.size());
  for (const VipConfig& v : c.vips) {
    const uint16_t port_be = static_cast<uint16_t>(v.port >> 8 | v.port << 8);
    const dp::VipEntry* e = t->find_vip(v.address.family, v.address.bytes, port_be, v.protocol);
    FUZZ_CHECK(e != nullptr && e->id == v.id, "VIP " + std::to_string(v.id) + " not found");
    FUZZ_CHECK(t->is_vip_address(v.address.family, v.address.bytes));
    FUZZ_CHECK(e->maglev_size == v.table_size);
    bool takes_flows = false;
    for (const BackendConfig& be : v.backends) {
      takes_flows = takes_flows || (be.state == BackendState::kActive && be.weight > 0);
    }
    for (uint32_t s = 0; s < e->maglev_size; ++s) {
      const uint32_t id = e->maglev[s];
      if (id == kMaglevNoBackend) {
        FUZZ_CHECK(!takes_flows, "empty Maglev slot while a backend takes flows");
        continue;
      }
      bool ok = false;
      for (const BackendConfig& be : v.backends) {
        ok = ok || (be.id == id && be.state == BackendState::kActive && be.weight > 0);
      }
      FUZZ_CHECK(ok, "Maglev slot holds backend " + std::to_string(id) +
                         ", which is no active weighted backend of VIP " + std::to_string(v.id));
      FUZZ_CHECK(t->backends[id].vip_id == v.id);
    }
  }
}

}  // namespace

// Mutations that keep the input a stream of whole records most of the time:
// byte-level mutations shift every later record and rarely commit anything.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned seed) {
  std::vector<Record> rs((size + kRecordSize - 1) / kRecordSize);
  for (size_t i = 0; i < rs.size(); ++i) {
    std::memcpy(rs[i].data(), data + i * kRecordSize,
                std::min<size_t>(kRecordSize, size - i * kRecordSize));
  }
  sluice::fuzz::MutationRandom rnd(seed);
  const size_t pick = rnd(rs.size());
  switch (rnd(8)) {
    case 0:  // bytes of one record (mostly its header and fixed fields)
    case 1:
      if (!rs.empty()) {
        Record& r = rs[pick];
        const size_t span = rnd(4) == 0 ? kRecordSize : 64;
        const size_t n = LLVMFuzzerMutate(r.data(), span, span);
        if (n < span) std::memset(r.data() + n, 0, span - n);
      }
      break;
    case 2:  // duplicate a record
      if (!rs.empty()) rs.insert(rs.begin() + static_cast<std::ptrdiff_t>(pick), rs[pick]);
      break;
    case 3:  // drop a record
      if (!rs.empty()) rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(pick));
      break;
    case 4:  // swap two records
      if (!rs.empty()) std::swap(rs[pick], rs[rnd(rs.size())]);
      break;
    case 5: {  // a 32-bit field (counts, ids, sizes, weights) nudged or set to a boundary
      if (rs.empty()) break;
      static constexpr uint32_t kValues[] = {
          0, 1, 2, 7, 64, 65, 1024, 1025, 65535, 65536, 16777213, 16777216, 0x7fffffff, 0xffffffff};
      uint32_t v;
      const size_t at = 16 + 4 * rnd(10);
      std::memcpy(&v, rs[pick].data() + at, 4);
      v = rnd(2) == 0 ? v + static_cast<uint32_t>(rnd(3)) - 1 : kValues[rnd(std::size(kValues))];
      std::memcpy(rs[pick].data() + at, &v, 4);
      break;
    }
    case 6: {  // a record's transaction id from another record
      if (rs.size() < 2) break;
      std::memcpy(rs[pick].data() + 8, rs[rnd(rs.size())].data() + 8, 8);
      break;
    }
    case 7:  // the stream as bytes
      return LLVMFuzzerMutate(data, size, max_size);
  }
  size_t n = std::min(rs.size(), max_size / kRecordSize);
  for (size_t i = 0; i < n; ++i) std::memcpy(data + i * kRecordSize, rs[i].data(), kRecordSize);
  return n * kRecordSize;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  [[maybe_unused]] static const int registered = std::atexit(print_totals);
  TransactionAssembler assembler;
  // The harness's own log: the latest begin and the records of its
  // transaction since.
  bool begun = false;
  TxnBeginMsg begin{};
  std::vector<Record> records;

  for (size_t off = 0, n = 0; off < size && n < kMaxRecords; off += kRecordSize, ++n) {
    Record r{};
    std::memcpy(r.data(), data + off, std::min<size_t>(kRecordSize, size - off));
    const auto h = from_record<MsgHeader>(r);
    if (h.type == MsgType::kTxnBegin) {
      begin = from_record<TxnBeginMsg>(r);
      begun = true;
      records.clear();
    } else if (begun && h.txn_id == begin.h.txn_id && h.type != MsgType::kTxnCommit) {
      records.push_back(r);
    }

    const auto result = assembler.feed(r);
    ++g_totals.records;
    if (result == TransactionAssembler::Result::kError) {
      ++g_totals.errors;
      FUZZ_CHECK(!assembler.error().empty(), "kError without a message");
      continue;
    }
    if (result != TransactionAssembler::Result::kCommitted) continue;

    ++g_totals.committed;
    FUZZ_CHECK(h.type == MsgType::kTxnCommit, "committed on a record that is no commit");
    FUZZ_CHECK(begun && begin.abi_version == kAbiVersion && h.txn_id == begin.h.txn_id &&
                   assembler.txn_id() == h.txn_id,
               "committed a transaction that was never begun");
    const auto commit = from_record<TxnCommitMsg>(r);
    FUZZ_CHECK(commit.vip_count == begin.vip_count && commit.backend_count == begin.backend_count,
               "committed although the commit's counts differ from the begin's");
    const TableConfig config = assembler.take();
    size_t backends = 0;
    for (const VipConfig& v : config.vips) backends += v.backends.size();
    FUZZ_CHECK(config.vips.size() == commit.vip_count && backends == commit.backend_count,
               "committed " + std::to_string(config.vips.size()) + " VIPs and " +
                   std::to_string(backends) + " backends against counts " +
                   std::to_string(commit.vip_count) + " and " +
                   std::to_string(commit.backend_count));
    check_against_records(config, records);
    check_round_trip(config, h.txn_id);
    check_build(config);
    begun = false;
    records.clear();
  }
  return 0;
}
