#include "common/control_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

namespace sluice {

namespace {

constexpr size_t kAlign = 64;

size_t align_up(size_t v) { return (v + kAlign - 1) & ~(kAlign - 1); }

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

std::string segment_name(const std::string& instance) { return "/sluice-" + instance; }

std::string validate_for_channel(const TableConfig& config) {
  for (const VipConfig& vip : config.vips) {
    for (const BackendConfig& be : vip.backends) {
      if (be.name.size() > kMaxBackendNameLen) {
        return "backend name '" + be.name.substr(0, 32) + "...' is " +
               std::to_string(be.name.size()) + " bytes; at most " +
               std::to_string(kMaxBackendNameLen) + " are allowed";
      }
    }
  }
  return {};
}

std::vector<Record> encode_transaction(const TableConfig& config, uint64_t txn_id) {
  std::vector<Record> out;
  uint32_t backends = 0;
  for (const VipConfig& vip : config.vips) backends += static_cast<uint32_t>(vip.backends.size());
  const auto vips = static_cast<uint32_t>(config.vips.size());
  out.reserve(2 + vips + backends);
  out.push_back(
      to_record(TxnBeginMsg{{MsgType::kTxnBegin, 0, txn_id}, vips, backends, kAbiVersion, 0}));
  for (const VipConfig& vip : config.vips) {
    VipMsg v{};
    v.h = {MsgType::kVip, 0, txn_id};
    v.id = vip.id;
    v.table_size = vip.table_size;
    v.family = vip.address.family;
    v.protocol = vip.protocol;
    v.encap = static_cast<uint8_t>(vip.encap);
    v.port = vip.port;
    std::memcpy(v.address, vip.address.bytes, 16);
    out.push_back(to_record(v));
    for (const BackendConfig& be : vip.backends) {
      BackendMsg b{};
      b.h = {MsgType::kBackend, 0, txn_id};
      b.id = be.id;
      b.vip_id = vip.id;
      b.weight = be.weight;
      b.state = static_cast<uint8_t>(be.state);
      b.family = be.address.family;
      b.name_len = static_cast<uint16_t>(std::min<size_t>(be.name.size(), kMaxBackendNameLen));
      std::memcpy(b.address, be.address.bytes, 16);
      std::memcpy(b.name, be.name.data(), b.name_len);
      out.push_back(to_record(b));
    }
  }
  out.push_back(to_record(TxnCommitMsg{{MsgType::kTxnCommit, 0, txn_id}, vips, backends}));
  return out;
}

TransactionAssembler::Result TransactionAssembler::feed(const Record& record) {
  const auto h = from_record<MsgHeader>(record);
  auto fail = [&](std::string msg) {
    error_ = std::move(msg);
    open_ = false;
    config_ = TableConfig{};
    return Result::kError;
  };
  if (h.type == MsgType::kTxnBegin) {
    if (open_) ++discarded_;
    const auto b = from_record<TxnBeginMsg>(record);
    txn_id_ = h.txn_id;
    if (b.abi_version != kAbiVersion) {
      return fail("the control plane speaks ABI version " + std::to_string(b.abi_version) +
                  ", this dataplane speaks " + std::to_string(kAbiVersion) +
                  ": run lb-dataplane and lb-controlplane from one build");
    }
    open_ = true;
    expected_vips_ = b.vip_count;
    expected_backends_ = b.backend_count;
    backends_ = 0;
    config_ = TableConfig{};
    error_.clear();
    return Result::kPending;
  }
  if (!open_ || h.txn_id != txn_id_) {
    // Records of a transaction whose begin we never saw: ignore, count.
    ++stray_;
    return Result::kPending;
  }
  switch (h.type) {
    case MsgType::kVip: {
      const auto v = from_record<VipMsg>(record);
      if (config_.vips.size() >= expected_vips_) return fail("more VIP records than announced");
      VipConfig vip;
      vip.id = v.id;
      vip.table_size = v.table_size;
      vip.address.family = v.family;
      std::memcpy(vip.address.bytes, v.address, 16);
      vip.protocol = v.protocol;
      vip.encap = static_cast<Encap>(v.encap);
      vip.port = v.port;
      config_.vips.push_back(std::move(vip));
      return Result::kPending;
    }
    case MsgType::kBackend: {
      const auto b = from_record<BackendMsg>(record);
      if (config_.vips.empty() || config_.vips.back().id != b.vip_id) {
        return fail("backend record " + std::to_string(b.id) + " does not follow its VIP " +
                    std::to_string(b.vip_id));
      }
      if (++backends_ > expected_backends_) return fail("more backend records than announced");
      if (b.name_len > kMaxBackendNameLen) return fail("backend name length out of range");
      BackendConfig be;
      be.id = b.id;
      be.name.assign(b.name, b.name_len);
      be.address.family = b.family;
      std::memcpy(be.address.bytes, b.address, 16);
      be.weight = b.weight;
      be.state = static_cast<BackendState>(b.state);
      config_.vips.back().backends.push_back(std::move(be));
      return Result::kPending;
    }
    case MsgType::kTxnCommit: {
      const auto c = from_record<TxnCommitMsg>(record);
      open_ = false;
      if (c.vip_count != expected_vips_ || c.backend_count != expected_backends_ ||
          config_.vips.size() != expected_vips_ || backends_ != expected_backends_) {
        return fail("commit counts do not match the records received (" +
                    std::to_string(config_.vips.size()) + " VIPs, " + std::to_string(backends_) +
                    " backends)");
      }
      return Result::kCommitted;
    }
    default:
      return fail("unknown record type " + std::to_string(static_cast<uint32_t>(h.type)));
  }
}

ControlSegment::~ControlSegment() {
  if (base_ != nullptr) munmap(base_, size_);
}

std::unique_ptr<ControlSegment> ControlSegment::create(const std::string& instance,
                                                       const SegmentParams& p,
                                                       std::string& error) {
  if (!is_power_of_two(p.cmd_slots) || !is_power_of_two(p.event_slots)) {
    error = "ring slot counts must be powers of two";
    return nullptr;
  }
  const size_t header = align_up(sizeof(SegmentHeader));
  const size_t cmd = align_up(SpscRing::memory_size(p.cmd_slots, kRecordSize));
  const size_t ev = align_up(SpscRing::memory_size(p.event_slots, kRecordSize));
  const size_t lc = align_up(sizeof(LcoreCounters) * p.worker_lcores);
  const size_t vc = align_up(sizeof(TrafficCounters) * (size_t{p.max_vips} + 1) * p.worker_lcores);
  const size_t bc =
      align_up(sizeof(TrafficCounters) * (size_t{p.max_backend_id} + 1) * p.worker_lcores);
  const size_t total = header + cmd + ev + lc + vc + bc;

  auto seg = std::unique_ptr<ControlSegment>(new ControlSegment());
  seg->name_ = segment_name(instance);
  // A segment left by a dataplane that died belongs to nobody now.
  shm_unlink(seg->name_.c_str());
  const int fd = shm_open(seg->name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) {
    error = "cannot create shared memory " + seg->name_ + ": " + std::strerror(errno);
    return nullptr;
  }
  fchmod(fd, 0600);  // whatever the umask
  struct stat st {};
  if (ftruncate(fd, static_cast<off_t>(total)) != 0 || fstat(fd, &st) != 0) {
    error = "cannot size shared memory " + seg->name_ + ": " + std::strerror(errno);
    close(fd);
    shm_unlink(seg->name_.c_str());
    return nullptr;
  }
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    error = "cannot map shared memory " + seg->name_ + ": " + std::strerror(errno);
    shm_unlink(seg->name_.c_str());
    return nullptr;
  }
  seg->base_ = base;
  seg->size_ = total;
  seg->inode_ = st.st_ino;
  auto* h = new (base) SegmentHeader{};
  h->magic = kSegmentMagic;
  h->abi_version = kAbiVersion;
  h->header_size = sizeof(SegmentHeader);
  h->segment_size = total;
  std::random_device rd;
  h->boot_id = (uint64_t{rd()} << 32) ^ rd() ^ monotonic_ns();
  h->start_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  h->hash_seed = p.hash_seed;
  h->pid = static_cast<uint32_t>(getpid());
  h->worker_lcores = p.worker_lcores;
  h->max_vips = p.max_vips;
  h->max_backend_id = p.max_backend_id;
  h->counter_count = kCounterCount;
  h->record_size = kRecordSize;
  h->cmd_slots = p.cmd_slots;
  h->event_slots = p.event_slots;
  h->cmd_ring_offset = header;
  h->event_ring_offset = header + cmd;
  h->lcore_counters_offset = header + cmd + ev;
  h->vip_counters_offset = header + cmd + ev + lc;
  h->backend_counters_offset = header + cmd + ev + lc + vc;
  auto* bytes = static_cast<uint8_t*>(base);
  seg->commands_ = SpscRing::create(bytes + h->cmd_ring_offset, p.cmd_slots, kRecordSize);
  seg->events_ = SpscRing::create(bytes + h->event_ring_offset, p.event_slots, kRecordSize);
  h->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  seg->header_ = h;
  // Release: every field above is visible to a control plane that sees ready.
  h->ready.store(1, std::memory_order_release);
  return seg;
}

std::unique_ptr<ControlSegment> ControlSegment::attach(const std::string& instance,
                                                       std::string& error) {
  auto seg = std::unique_ptr<ControlSegment>(new ControlSegment());
  seg->name_ = segment_name(instance);
  const int fd = shm_open(seg->name_.c_str(), O_RDWR, 0);
  if (fd < 0) {
    error = "no dataplane segment " + seg->name_ + " (" + std::strerror(errno) +
            "): is lb-dataplane running with --instance " + instance + "?";
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(SegmentHeader)) {
    error = "dataplane segment " + seg->name_ + " is too small to be one";
    close(fd);
    return nullptr;
  }
  void* base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED,
                    fd, 0);
  close(fd);
  if (base == MAP_FAILED) {
    error = "cannot map " + seg->name_ + ": " + std::strerror(errno);
    return nullptr;
  }
  seg->base_ = base;
  seg->size_ = static_cast<size_t>(st.st_size);
  seg->inode_ = st.st_ino;
  auto* h = static_cast<SegmentHeader*>(base);
  if (h->ready.load(std::memory_order_acquire) != 1) {
    error = "dataplane segment " + seg->name_ + " is still being set up";
    return nullptr;
  }
  if (h->magic != kSegmentMagic) {
    error = seg->name_ + " is not a Sluice dataplane segment (bad magic)";
    return nullptr;
  }
  if (h->abi_version != kAbiVersion || h->header_size != sizeof(SegmentHeader) ||
      h->record_size != kRecordSize || h->counter_count != kCounterCount) {
    error = "dataplane segment " + seg->name_ + " speaks ABI version " +
            std::to_string(h->abi_version) + ", this program speaks " +
            std::to_string(kAbiVersion) + ": run lb-dataplane and lb-controlplane from one build";
    return nullptr;
  }
  if (h->segment_size != seg->size_) {
    error = "dataplane segment " + seg->name_ + " has an inconsistent size";
    return nullptr;
  }
  auto* bytes = static_cast<uint8_t*>(base);
  seg->commands_ = SpscRing::attach(bytes + h->cmd_ring_offset);
  seg->events_ = SpscRing::attach(bytes + h->event_ring_offset);
  seg->header_ = h;
  return seg;
}

bool ControlSegment::still_current() const {
  const int fd = shm_open(name_.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  struct stat st {};
  const bool same = fstat(fd, &st) == 0 && st.st_ino == inode_;
  close(fd);
  return same;
}

void ControlSegment::unlink() {
  if (still_current()) shm_unlink(name_.c_str());
}

LcoreCounters* ControlSegment::lcore_counters(uint32_t lcore) {
  return reinterpret_cast<LcoreCounters*>(static_cast<uint8_t*>(base_) +
                                          header_->lcore_counters_offset) +
         lcore;
}

TrafficCounters* ControlSegment::vip_counters(uint32_t lcore) {
  return reinterpret_cast<TrafficCounters*>(static_cast<uint8_t*>(base_) +
                                            header_->vip_counters_offset) +
         size_t{lcore} * (header_->max_vips + 1);
}

TrafficCounters* ControlSegment::backend_counters(uint32_t lcore) {
  return reinterpret_cast<TrafficCounters*>(static_cast<uint8_t*>(base_) +
                                            header_->backend_counters_offset) +
         size_t{lcore} * (header_->max_backend_id + 1);
}

}  // namespace sluice
