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

bool valid_instance_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

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

namespace {

// A VIP's and a backend's fields in their fixed-size form, written and read
// once for both places that hold them: ring records and the
// applied-configuration mirror (the same records).
void put_vip(VipMsg& v, const VipConfig& vip) {
  v.id = vip.id;
  v.table_size = vip.table_size;
  v.family = vip.address.family;
  v.protocol = vip.protocol;
  v.encap = static_cast<uint8_t>(vip.encap);
  v.scheduler = static_cast<uint8_t>(vip.scheduler);
  v.no_backend = static_cast<uint8_t>(vip.no_backend);
  v.slow_start_s = vip.slow_start_s;
  v.port = vip.port;
  std::memcpy(v.address, vip.address.bytes, 16);
}

VipConfig vip_of(const VipMsg& v) {
  VipConfig vip;
  vip.id = v.id;
  vip.table_size = v.table_size;
  vip.address.family = v.family;
  std::memcpy(vip.address.bytes, v.address, 16);
  vip.protocol = v.protocol;
  vip.encap = static_cast<Encap>(v.encap);
  vip.scheduler = static_cast<Scheduler>(v.scheduler);
  vip.no_backend = static_cast<NoBackend>(v.no_backend);
  vip.slow_start_s = v.slow_start_s;
  vip.port = v.port;
  return vip;
}

void put_backend(BackendMsg& b, uint32_t vip_id, const BackendConfig& be) {
  b.id = be.id;
  b.vip_id = vip_id;
  b.weight = be.weight;
  b.state = static_cast<uint8_t>(be.state);
  b.backup = be.backup ? 1 : 0;
  b.family = be.address.family;
  b.name_len = static_cast<uint16_t>(std::min<size_t>(be.name.size(), kMaxBackendNameLen));
  std::memcpy(b.address, be.address.bytes, 16);
  std::memcpy(b.name, be.name.data(), b.name_len);
}

BackendConfig backend_of(const BackendMsg& b) {
  BackendConfig be;
  be.id = b.id;
  be.name.assign(b.name, std::min<size_t>(b.name_len, kMaxBackendNameLen));
  be.address.family = b.family;
  std::memcpy(be.address.bytes, b.address, 16);
  be.weight = b.weight;
  be.state = static_cast<BackendState>(b.state);
  be.backup = b.backup != 0;
  return be;
}

BackendMsg backend_msg(MsgType type, uint64_t txn_id, uint32_t vip_id, const BackendConfig& be) {
  BackendMsg b{};
  b.h = {type, 0, txn_id};
  put_backend(b, vip_id, be);
  return b;
}

}  // namespace

std::vector<Record> encode_transaction(const TableDelta& delta, uint64_t txn_id) {
  std::vector<Record> out;
  const size_t total = delta_records(delta);
  out.reserve(total);
  const auto records = static_cast<uint32_t>(total - 2);
  out.push_back(to_record(TxnBeginMsg{{MsgType::kTxnBegin, 0, txn_id},
                                      records,
                                      delta.full ? kTxnFull : 0,
                                      kAbiVersion,
                                      0}));
  for (uint32_t id : delta.vip_deletes) {
    out.push_back(to_record(DeleteMsg{{MsgType::kVipDelete, 0, txn_id}, id, 0}));
  }
  for (const VipConfig& vip : delta.vip_upserts) {
    VipMsg v{};
    v.h = {MsgType::kVip, 0, txn_id};
    put_vip(v, vip);
    out.push_back(to_record(v));
    for (const BackendConfig& be : vip.backends) {
      out.push_back(to_record(backend_msg(MsgType::kBackend, txn_id, vip.id, be)));
    }
  }
  for (const BackendDelete& d : delta.backend_deletes) {
    out.push_back(
        to_record(DeleteMsg{{MsgType::kBackendDelete, 0, txn_id}, d.vip_id, d.backend_id}));
  }
  for (const BackendUpsert& u : delta.backend_upserts) {
    out.push_back(to_record(backend_msg(MsgType::kBackendUpsert, txn_id, u.vip_id, u.backend)));
  }
  out.push_back(to_record(TxnCommitMsg{{MsgType::kTxnCommit, 0, txn_id}, records, 0}));
  return out;
}

TransactionAssembler::Result TransactionAssembler::feed(const Record& record) {
  const auto h = from_record<MsgHeader>(record);
  auto fail = [&](std::string msg) {
    error_ = std::move(msg);
    open_ = false;
    delta_ = TableDelta{};
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
    if ((b.flags & ~kTxnFull) != 0) return fail("unknown transaction flags");
    open_ = true;
    expected_records_ = b.records;
    records_ = 0;
    delta_ = TableDelta{};
    delta_.full = (b.flags & kTxnFull) != 0;
    error_.clear();
    return Result::kPending;
  }
  if (!open_ || h.txn_id != txn_id_) {
    // Records of a transaction whose begin we never saw: ignore, count.
    ++stray_;
    return Result::kPending;
  }
  if (h.type != MsgType::kTxnCommit && ++records_ > expected_records_) {
    return fail("more records than announced");
  }
  // Upserted VIPs come as one block, before any backend record of their own;
  // backend deletes and upserts come after every VIP record.
  const bool after_vips = !delta_.backend_deletes.empty() || !delta_.backend_upserts.empty();
  switch (h.type) {
    case MsgType::kVipDelete: {
      if (!delta_.vip_upserts.empty() || after_vips) return fail("VIP delete out of order");
      delta_.vip_deletes.push_back(from_record<DeleteMsg>(record).vip_id);
      return Result::kPending;
    }
    case MsgType::kVip: {
      if (after_vips) return fail("VIP record after backend changes");
      delta_.vip_upserts.push_back(vip_of(from_record<VipMsg>(record)));
      return Result::kPending;
    }
    case MsgType::kBackend: {
      const auto b = from_record<BackendMsg>(record);
      if (after_vips || delta_.vip_upserts.empty() || delta_.vip_upserts.back().id != b.vip_id) {
        return fail("backend record " + std::to_string(b.id) + " does not follow its VIP " +
                    std::to_string(b.vip_id));
      }
      if (b.name_len > kMaxBackendNameLen) return fail("backend name length out of range");
      delta_.vip_upserts.back().backends.push_back(backend_of(b));
      return Result::kPending;
    }
    case MsgType::kBackendDelete: {
      const auto d = from_record<DeleteMsg>(record);
      if (!delta_.backend_upserts.empty()) return fail("backend delete after backend upserts");
      delta_.backend_deletes.push_back(BackendDelete{d.vip_id, d.backend_id});
      return Result::kPending;
    }
    case MsgType::kBackendUpsert: {
      const auto b = from_record<BackendMsg>(record);
      if (b.name_len > kMaxBackendNameLen) return fail("backend name length out of range");
      delta_.backend_upserts.push_back(BackendUpsert{b.vip_id, backend_of(b)});
      return Result::kPending;
    }
    case MsgType::kTxnCommit: {
      const auto c = from_record<TxnCommitMsg>(record);
      open_ = false;
      if (c.records != expected_records_ || records_ != expected_records_) {
        return fail("commit count does not match the records received (" +
                    std::to_string(records_) + " of " + std::to_string(expected_records_) + ")");
      }
      if (delta_.full && (!delta_.vip_deletes.empty() || !delta_.backend_deletes.empty() ||
                          !delta_.backend_upserts.empty())) {
        return fail("a full transaction carries only whole VIPs");
      }
      return Result::kCommitted;
    }
    default:
      return fail("unknown record type " + std::to_string(static_cast<uint32_t>(h.type)));
  }
}

namespace {

AppliedVip* applied_vips(void* base, const SegmentHeader& h) {
  return reinterpret_cast<AppliedVip*>(static_cast<uint8_t*>(base) + h.applied_vips_offset);
}

AppliedBackend* applied_backends(void* base, const SegmentHeader& h) {
  return reinterpret_cast<AppliedBackend*>(static_cast<uint8_t*>(base) +
                                           h.applied_backends_offset);
}

}  // namespace

void ControlSegment::write_applied(
    const std::vector<std::pair<const VipConfig*, const VipConfig*>>& changed) {
  SegmentHeader& h = *header_;
  AppliedVip* vips = applied_vips(base_, h);
  AppliedBackend* backends = applied_backends(base_, h);
  const uint64_t seq = h.applied_seq.load(std::memory_order_relaxed);
  // Odd: a reader that sees it, or sees it change, retries. The release
  // fence keeps the slot writes below from moving above the odd store.
  h.applied_seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (const auto& [before, after] : changed) {
    if (before != nullptr) {
      if (before->id <= h.max_vips) vips[before->id] = AppliedVip{};
      for (const BackendConfig& be : before->backends) {
        if (be.id <= h.max_backend_id && backends[be.id].vip_id == before->id) {
          backends[be.id] = AppliedBackend{};
        }
      }
    }
  }
  for (const auto& [before, after] : changed) {
    if (after == nullptr || after->id > h.max_vips) continue;
    AppliedVip& v = vips[after->id];
    v = AppliedVip{};
    put_vip(v, *after);
    for (const BackendConfig& be : after->backends) {
      if (be.id > h.max_backend_id) continue;
      AppliedBackend& b = backends[be.id];
      b = AppliedBackend{};
      put_backend(b, after->id, be);
    }
  }
  // Release: the slots written above happen-before a reader's acquire load
  // that sees the even value.
  h.applied_seq.store(seq + 2, std::memory_order_release);
}

bool ControlSegment::read_applied(TableConfig& out) const {
  const SegmentHeader& h = *header_;
  if (h.applied_vips_offset == 0) return false;
  const AppliedVip* vips = applied_vips(base_, h);
  const AppliedBackend* backends = applied_backends(base_, h);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint64_t before = h.applied_seq.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;
    TableConfig c;
    std::vector<size_t> index(size_t{h.max_vips} + 1, SIZE_MAX);
    for (uint32_t id = 1; id <= h.max_vips; ++id) {
      if (vips[id].id != id) continue;
      index[id] = c.vips.size();
      c.vips.push_back(vip_of(vips[id]));
    }
    for (uint32_t id = 1; id <= h.max_backend_id; ++id) {
      const AppliedBackend& b = backends[id];
      if (b.vip_id == 0 || b.id != id || b.vip_id > h.max_vips || index[b.vip_id] == SIZE_MAX) {
        continue;
      }
      c.vips[index[b.vip_id]].backends.push_back(backend_of(b));
    }
    // Acquire fence: the slot reads above happen-before the second load,
    // so an unchanged even value means no write overlapped them.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h.applied_seq.load(std::memory_order_relaxed) == before) {
      out = std::move(c);
      return true;
    }
  }
  return false;
}

ControlSegment::~ControlSegment() {
  if (base_ != nullptr) munmap(base_, size_);
  if (owner_fd_ >= 0) close(owner_fd_);  // releases the name
}

namespace {

// A write lock on the whole file, held by this open file description. OFD
// locks, unlike POSIX record locks, are not dropped when some other
// descriptor of the same file is closed, and they do not interact with the
// flock() the control plane takes on the segment (dataplane_link.cc).
bool lock_owner(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// The pid in a segment's header, if it has one that is set up; 0 otherwise.
uint32_t owner_pid(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(SegmentHeader)) return 0;
  void* p = mmap(nullptr, sizeof(SegmentHeader), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return 0;
  const auto* h = static_cast<const SegmentHeader*>(p);
  const uint32_t pid =
      h->ready.load(std::memory_order_acquire) == 1 && h->magic == kSegmentMagic ? h->pid : 0;
  munmap(p, sizeof(SegmentHeader));
  return pid;
}

}  // namespace

std::unique_ptr<ControlSegment> ControlSegment::claim(const std::string& instance,
                                                      std::string& error, std::string* reclaimed) {
  auto seg = std::unique_ptr<ControlSegment>(new ControlSegment());
  seg->name_ = segment_name(instance);
  const std::string path = "/dev/shm" + seg->name_;
  if (reclaimed != nullptr) reclaimed->clear();
  // Each round opens whatever is under the name (or creates it), locks it
  // and checks that the name still leads to what it locked. A locked
  // segment is a live owner's; an unlocked one with contents is a dead
  // owner's, removed so that the next round creates a fresh one (a new
  // inode: attached control planes see the restart). A few rounds only
  // when other starters race for the same name; one of them wins.
  for (int round = 0; round < 8; ++round) {
    const int fd = shm_open(seg->name_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = "cannot create shared memory " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    if (!lock_owner(fd)) {
      const int lock_errno = errno;
      if (lock_errno != EAGAIN && lock_errno != EACCES) {
        error = "cannot lock shared memory " + path + ": " + std::strerror(lock_errno);
        close(fd);
        return nullptr;
      }
      const uint32_t pid = owner_pid(fd);
      close(fd);
      error = "instance '" + instance + "' is in use: " +
              (pid != 0 ? "lb-dataplane pid " + std::to_string(pid) + " owns"
                        : "another lb-dataplane is starting with") +
              " its segment " + path + "; stop it first, or give this one another --instance";
      return nullptr;
    }
    struct stat locked {}, named{};
    if (fstat(fd, &locked) != 0) {
      error = "cannot stat shared memory " + path + ": " + std::strerror(errno);
      close(fd);
      return nullptr;
    }
    if (stat(path.c_str(), &named) != 0 || named.st_ino != locked.st_ino) {
      close(fd);  // replaced or removed between our open and our lock
      continue;
    }
    if (locked.st_size != 0) {
      const uint32_t pid = owner_pid(fd);
      if (reclaimed != nullptr) {
        *reclaimed = "reclaimed " + path + " from a dataplane that is gone" +
                     (pid != 0 ? " (pid " + std::to_string(pid) + ")" : std::string());
      }
      shm_unlink(seg->name_.c_str());  // the name leads to it and nobody owns it
      close(fd);
      continue;
    }
    fchmod(fd, 0600);  // whatever the umask
    seg->owner_fd_ = fd;
    seg->inode_ = locked.st_ino;
    return seg;
  }
  error = "cannot claim shared memory " + path + ": other processes keep replacing it";
  return nullptr;
}

std::unique_ptr<ControlSegment> ControlSegment::create(const std::string& instance,
                                                       const SegmentParams& p,
                                                       std::string& error) {
  auto seg = claim(instance, error);
  if (!seg) return nullptr;
  if (!seg->init(p, error)) {
    seg->unlink();
    return nullptr;
  }
  return seg;
}

bool ControlSegment::init(const SegmentParams& p, std::string& error) {
  if (owner_fd_ < 0 || base_ != nullptr) {
    error = "shared memory " + name_ + " is not claimed, or is set up already";
    return false;
  }
  if (!is_power_of_two(p.cmd_slots) || !is_power_of_two(p.event_slots)) {
    error = "ring slot counts must be powers of two";
    return false;
  }
  const size_t header = align_up(sizeof(SegmentHeader));
  const size_t cmd = align_up(SpscRing::memory_size(p.cmd_slots, kRecordSize));
  const size_t ev = align_up(SpscRing::memory_size(p.event_slots, kRecordSize));
  const size_t lc = align_up(sizeof(LcoreCounters) * p.worker_lcores);
  const size_t vc = align_up(sizeof(TrafficCounters) * (size_t{p.max_vips} + 1) * p.worker_lcores);
  const size_t bc =
      align_up(sizeof(TrafficCounters) * (size_t{p.max_backend_id} + 1) * p.worker_lcores);
  const size_t av = align_up(sizeof(AppliedVip) * (size_t{p.max_vips} + 1));
  const size_t ab = align_up(sizeof(AppliedBackend) * (size_t{p.max_backend_id} + 1));
  const size_t vd =
      align_up(sizeof(VipDropCounters) * (size_t{p.max_vips} + 1) * p.worker_lcores);
  const size_t total = header + cmd + ev + lc + vc + bc + av + ab + vd;

  if (ftruncate(owner_fd_, static_cast<off_t>(total)) != 0) {
    error = "cannot size shared memory " + name_ + ": " + std::strerror(errno);
    return false;
  }
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, owner_fd_, 0);
  if (base == MAP_FAILED) {
    error = "cannot map shared memory " + name_ + ": " + std::strerror(errno);
    return false;
  }
  base_ = base;
  size_ = total;
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
  h->tsc_hz = p.tsc_hz;
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
  h->applied_vips_offset = header + cmd + ev + lc + vc + bc;
  h->applied_backends_offset = header + cmd + ev + lc + vc + bc + av;
  h->vip_drop_counters_offset = header + cmd + ev + lc + vc + bc + av + ab;
  auto* bytes = static_cast<uint8_t*>(base);
  commands_ = SpscRing::create(bytes + h->cmd_ring_offset, p.cmd_slots, kRecordSize);
  events_ = SpscRing::create(bytes + h->event_ring_offset, p.event_slots, kRecordSize);
  h->heartbeat_ns.store(monotonic_ns(), std::memory_order_relaxed);
  header_ = h;
  // Release: every field above is visible to a control plane that sees ready.
  h->ready.store(1, std::memory_order_release);
  return true;
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

VipDropCounters* ControlSegment::vip_drop_counters(uint32_t lcore) {
  return reinterpret_cast<VipDropCounters*>(static_cast<uint8_t*>(base_) +
                                            header_->vip_drop_counters_offset) +
         size_t{lcore} * (header_->max_vips + 1);
}

namespace {

uint64_t relaxed(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
uint32_t relaxed(const uint32_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

void add_traffic(TrafficCounters& sum, const TrafficCounters& c) {
  sum.packets += relaxed(c.packets);
  sum.bytes += relaxed(c.bytes);
  sum.new_flows += relaxed(c.new_flows);
  sum.syn_retries += relaxed(c.syn_retries);
  sum.non_syn_misses += relaxed(c.non_syn_misses);
  // out before in: an entry enters before it leaves, so the sum never
  // shows more leaving than entering.
  sum.active_out += relaxed(c.active_out);
  sum.inactive_out += relaxed(c.inactive_out);
  sum.active_in += relaxed(c.active_in);
  sum.inactive_in += relaxed(c.inactive_in);
}

}  // namespace

TrafficCounters ControlSegment::vip_traffic(uint32_t vip_id) const {
  TrafficCounters sum{};
  if (vip_id > header_->max_vips) return sum;
  for (uint32_t l = 0; l < header_->worker_lcores; ++l) add_traffic(sum, vip_counters(l)[vip_id]);
  return sum;
}

TrafficCounters ControlSegment::backend_traffic(uint32_t backend_id) const {
  TrafficCounters sum{};
  if (backend_id > header_->max_backend_id) return sum;
  for (uint32_t l = 0; l < header_->worker_lcores; ++l) {
    add_traffic(sum, backend_counters(l)[backend_id]);
  }
  return sum;
}

VipDropCounters ControlSegment::vip_drops(uint32_t vip_id) const {
  VipDropCounters sum{};
  if (vip_id > header_->max_vips) return sum;
  for (uint32_t l = 0; l < header_->worker_lcores; ++l) {
    const VipDropCounters& c = vip_drop_counters(l)[vip_id];
    for (size_t r = 0; r < kVipDropReasonCount; ++r) sum.value[r] += relaxed(c.value[r]);
  }
  return sum;
}

TrafficCounters* ControlSegment::backend_counters(uint32_t lcore) {
  return reinterpret_cast<TrafficCounters*>(static_cast<uint8_t*>(base_) +
                                            header_->backend_counters_offset) +
         size_t{lcore} * (header_->max_backend_id + 1);
}

}  // namespace sluice
