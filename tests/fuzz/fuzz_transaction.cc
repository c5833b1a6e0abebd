// Fuzz target: the dataplane's end of the control channel. The input is a
// stream of 256-byte command-ring records (the last one zero-padded), fed
// one by one to TransactionAssembler::feed as the dataplane's control
// channel does. Whatever it commits then goes where a commit goes: the
// dataplane's TableBuilder, on top of everything committed before.
//
// Invariants:
//  - feed never crashes; kError comes with a message;
//  - kCommitted only on a commit record whose transaction id and record
//    count match the latest begin (with our ABI version), and the delta
//    taken is exactly the records of that transaction, in order (checked
//    against the harness's own log of the records, not against the
//    assembler's logic);
//  - a committed delta survives encode_transaction -> feed unchanged;
//  - the builder accepts a delta exactly when the reference model
//    (apply_delta on the configuration so far, then validate_table_config)
//    does; then its digest is the model's, every VIP is found under its own
//    key, every Maglev slot holds 0 or an active, weighted backend of that
//    VIP, and no slot is 0 while one exists; when it refuses, nothing
//    changes.
// The table memory budget keeps each input fast (table size goes to
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

#include "common/config_digest.h"
#include "common/control_segment.h"
#include "common/table_config.h"
#include "common/table_delta.h"
#include "dataplane/table_builder.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace sluice;

constexpr size_t kMaxRecords = 512;
constexpr uint64_t kBudgetBytes = uint64_t{8} << 20;  // about 2M Maglev slots

// Outcomes over all inputs, printed at exit: how far the run got.
struct Totals {
  uint64_t records = 0, errors = 0, committed = 0, valid = 0, built = 0, refused = 0;
} g_totals;

void print_totals() {
  std::fprintf(stderr,
               "fuzz_transaction: over all inputs: records=%llu errors=%llu committed=%llu "
               "valid=%llu built=%llu refused=%llu\n",
               static_cast<unsigned long long>(g_totals.records),
               static_cast<unsigned long long>(g_totals.errors),
               static_cast<unsigned long long>(g_totals.committed),
               static_cast<unsigned long long>(g_totals.valid),
               static_cast<unsigned long long>(g_totals.built),
               static_cast<unsigned long long>(g_totals.refused));
}

bool same_address(const IpAddress& a, uint8_t family, const uint8_t* bytes) {
  return a.family == family && std::memcmp(a.bytes, bytes, 16) == 0;
}

void check_vip(const VipConfig& vip, const VipMsg& v) {
  FUZZ_CHECK(vip.id == v.id && vip.table_size == v.table_size && vip.protocol == v.protocol &&
                 static_cast<uint8_t>(vip.encap) == v.encap && vip.port == v.port &&
                 same_address(vip.address, v.family, v.address),
             "VIP " + std::to_string(v.id) + " differs from its record");
}

void check_backend(const BackendConfig& be, const BackendMsg& b) {
  FUZZ_CHECK(b.name_len <= kMaxBackendNameLen && be.name == std::string(b.name, b.name_len),
             "backend name");
  FUZZ_CHECK(be.id == b.id && be.weight == b.weight && static_cast<uint8_t>(be.state) == b.state &&
                 same_address(be.address, b.family, b.address),
             "backend " + std::to_string(b.id) + " differs from its record");
}

// The committed delta against the records of its transaction, in order:
// VIP deletes, each VIP record followed by its backend records, backend
// deletes, backend upserts.
void check_against_records(const TableDelta& d, const std::vector<Record>& records) {
  size_t next = 0;
  auto take = [&](MsgType type) -> const Record& {
    FUZZ_CHECK(next < records.size(), "more delta items than records");
    FUZZ_CHECK(from_record<MsgHeader>(records[next]).type == type, "record of another kind");
    return records[next++];
  };
  for (uint32_t id : d.vip_deletes) {
    FUZZ_CHECK(from_record<DeleteMsg>(take(MsgType::kVipDelete)).vip_id == id, "VIP delete");
  }
  for (const VipConfig& vip : d.vip_upserts) {
    check_vip(vip, from_record<VipMsg>(take(MsgType::kVip)));
    for (const BackendConfig& be : vip.backends) {
      const auto b = from_record<BackendMsg>(take(MsgType::kBackend));
      FUZZ_CHECK(b.vip_id == vip.id, "backend record of another VIP");
      check_backend(be, b);
    }
  }
  for (const BackendDelete& bd : d.backend_deletes) {
    const auto m = from_record<DeleteMsg>(take(MsgType::kBackendDelete));
    FUZZ_CHECK(m.vip_id == bd.vip_id && m.backend_id == bd.backend_id, "backend delete");
  }
  for (const BackendUpsert& u : d.backend_upserts) {
    const auto b = from_record<BackendMsg>(take(MsgType::kBackendUpsert));
    FUZZ_CHECK(b.vip_id == u.vip_id, "backend upsert of another VIP");
    check_backend(u.backend, b);
  }
  FUZZ_CHECK(next == records.size(), "records left over after the delta");
}

void check_round_trip(const TableDelta& d, uint64_t txn_id) {
  TransactionAssembler again;
  const std::vector<Record> records = encode_transaction(d, txn_id);
  for (size_t i = 0; i < records.size(); ++i) {
    const auto r = again.feed(records[i]);
    const bool last = i + 1 == records.size();
    FUZZ_CHECK(r == (last ? TransactionAssembler::Result::kCommitted
                          : TransactionAssembler::Result::kPending),
               "re-encoded transaction, record " + std::to_string(i) + ": " + again.error());
  }
  FUZZ_CHECK(encode_transaction(again.take(), txn_id) == records,
             "the delta changed on the way through the channel");
}

TableLimits fuzz_limits() {
  TableLimits limits;
  limits.max_vips = 64;
  limits.max_backend_id = 1024;
  limits.table_memory_budget = kBudgetBytes;
  return limits;
}

// The builder against the reference model, then the snapshot's contents.
void check_build(dp::TableBuilder& builder, TableConfig& model, const TableDelta& d,
                 uint64_t generation) {
  const TableLimits limits = fuzz_limits();
  TableConfig next = model;
  bool valid = apply_delta(next, d).empty();
  valid = valid && validate_table_config(next, limits).empty();
  const uint64_t digest_before = builder.digest();
  const dp::TableBuilder::Result r = builder.build(d, generation);
  FUZZ_CHECK((r.snapshot != nullptr) == valid,
             valid ? "the builder refused what the model accepts: " + r.error
                   : std::string("the builder accepted what the model refuses"));
  if (!r.snapshot) {
    ++g_totals.refused;
    FUZZ_CHECK(builder.digest() == digest_before, "a refused build changed the digest");
    return;
  }
  ++g_totals.valid;
  ++g_totals.built;
  model = std::move(next);
  FUZZ_CHECK(builder.digest() == config_digest(model), "digest differs from the model's");
  const auto& t = r.snapshot;
  FUZZ_CHECK(t->vips.size() == model.vips.size());
  for (const VipConfig& v : model.vips) {
    const uint16_t port_be = static_cast<uint16_t>(v.port >> 8 | v.port << 8);
    const dp::VipEntry* e = t->find_vip(v.address.family, v.address.bytes, port_be, v.protocol);
    FUZZ_CHECK(e != nullptr && e->id == v.id, "VIP " + std::to_string(v.id) + " not found");
    FUZZ_CHECK(t->is_vip_address(v.address.family, v.address.bytes));
    FUZZ_CHECK(e->maglev_size == v.table_size);
    bool takes_flows = false;
    for (const BackendConfig& be : v.backends) {
      takes_flows = takes_flows || (be.state == BackendState::kActive && be.weight > 0);
      FUZZ_CHECK(t->backends[be.id].vip_id == v.id, "backend entry of another VIP");
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
  dp::TableBuilder builder(fuzz_limits());
  TableConfig model;  // what the committed deltas add up to
  uint64_t generation = 0;
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
    FUZZ_CHECK(commit.records == begin.records && records.size() == commit.records,
               "committed although the record counts differ");
    const TableDelta delta = assembler.take();
    FUZZ_CHECK(delta.full == ((begin.flags & kTxnFull) != 0), "full flag lost");
    check_against_records(delta, records);
    check_round_trip(delta, h.txn_id);
    check_build(builder, model, delta, ++generation);
    begun = false;
    records.clear();
  }
  return 0;
}
