// The shared-memory segment between lb-dataplane and lb-controlplane
// (DESIGN.md section 4): a versioned header (magic, ABI version, sizes, boot
// id, heartbeat), a command ring (control -> data), an event ring (data ->
// control) and the per-lcore counter blocks.
//
// The dataplane creates the segment (mode 0600, named after its instance)
// and is the only writer of the header and counters; the control plane
// attaches read-write for the rings. Either side refuses a segment whose
// magic or ABI version it does not know.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/counters.h"
#include "common/next_hop_mac.h"
#include "common/spsc_ring.h"
#include "common/table_config.h"
#include "common/table_delta.h"

namespace sluice {

inline constexpr uint64_t kSegmentMagic = 0x31304543'49554c53ull;  // "SLUICE01"
// Bump on any change to this file's structs, the message records or the
// counter list.
inline constexpr uint32_t kAbiVersion = 8;
inline constexpr uint32_t kRecordSize = 256;
inline constexpr uint32_t kMaxBackendNameLen = 192;
inline constexpr uint32_t kMaxErrorLen = 200;
inline constexpr uint32_t kMaxSegmentPorts = 3;  // ingress, a separate egress port, the exception port

// DPDK's statistics of a port (rte_eth_stats), as the metrics show them:
// X(rte_eth_stats field, metric name after "sluice_port_", help). The
// dataplane's main loop copies them into PortStatus::stats about once a
// second; nothing on the packet path reads them.
#define SLUICE_PORT_STATS(X)                                                                   \
  X(ipackets, "received_packets_total", "Packets the port received")                          \
  X(opackets, "transmitted_packets_total", "Packets the port transmitted")                    \
  X(ibytes, "received_bytes_total", "Bytes the port received")                                \
  X(obytes, "transmitted_bytes_total", "Bytes the port transmitted")                          \
  X(imissed, "missed_packets_total", "Packets the port dropped because no RX descriptor was free") \
  X(ierrors, "receive_errors_total", "Erroneous packets the port received")                   \
  X(oerrors, "transmit_errors_total", "Packets the port failed to transmit")                  \
  X(rx_nombuf, "mbuf_alloc_failures_total", "RX mbuf allocation failures")

enum class PortStat : uint32_t {
#define SLUICE_PORT_STAT_ENUM(field, metric, help) field,
  SLUICE_PORT_STATS(SLUICE_PORT_STAT_ENUM)
#undef SLUICE_PORT_STAT_ENUM
      kCount
};
inline constexpr size_t kPortStatCount = static_cast<size_t>(PortStat::kCount);

struct PortStatInfo {
  const char* field;
  const char* metric;
  const char* help;
};
inline constexpr PortStatInfo kPortStatInfo[kPortStatCount] = {
#define SLUICE_PORT_STAT_INFO(field, metric, help) {#field, metric, help},
    SLUICE_PORT_STATS(SLUICE_PORT_STAT_INFO)
#undef SLUICE_PORT_STAT_INFO
};

// The AF_XDP steering program's counters (dataplane/xdp/steer.bpf.c), per
// port: X(field, metric name after "sluice_port_", help). The order is the
// program's per-CPU array's (dataplane/xdp/steer_shared.h); the dataplane's
// main loop sums the CPUs' values about once a second.
#define SLUICE_XDP_STATS(X)                                                                     \
  X(redirected, "xdp_redirected_packets_total",                                                 \
    "Packets the steering program handed to the dataplane's AF_XDP sockets")                    \
  X(passed, "xdp_passed_packets_total",                                                         \
    "Packets the steering program passed to the kernel (not VIP traffic)")                     \
  X(no_socket, "xdp_no_socket_packets_total",                                                   \
    "VIP packets passed to the kernel because their RX queue had no AF_XDP socket")

enum class XdpStat : uint32_t {
#define SLUICE_XDP_STAT_ENUM(field, metric, help) field,
  SLUICE_XDP_STATS(SLUICE_XDP_STAT_ENUM)
#undef SLUICE_XDP_STAT_ENUM
      kCount
};
inline constexpr size_t kXdpStatCount = static_cast<size_t>(XdpStat::kCount);
inline constexpr PortStatInfo kXdpStatInfo[kXdpStatCount] = {
#define SLUICE_XDP_STAT_INFO(field, metric, help) {#field, metric, help},
    SLUICE_XDP_STATS(SLUICE_XDP_STAT_INFO)
#undef SLUICE_XDP_STAT_INFO
};

// What runs on an AF_XDP port's interface (PortStatus::xdp_mode).
enum class XdpMode : uint32_t {
  kNone = 0,      // not a net_af_xdp port
  kOther = 1,     // another XDP program (the PMD's default: every packet to DPDK)
  kSteering = 2,  // Sluice's steering program: VIP traffic to DPDK, the rest to the kernel
};

// How lbctl and the metrics name an XdpMode.
inline const char* xdp_mode_name(uint32_t mode) {
  switch (static_cast<XdpMode>(mode)) {
    case XdpMode::kNone: return "none";
    case XdpMode::kOther: return "other-program";
    case XdpMode::kSteering: return "steering";
  }
  return "unknown";
}

// One port lb-dataplane drives, as `lbctl status` shows it. name, driver,
// mac and port_id are written once before SegmentHeader::port_count is
// released; the atomics are refreshed by the main loop about once a second
// (never per packet), each on its own.
// What a port is for (lb-dataplane --port, --egress-port, --exception-port).
enum class PortRole : uint32_t { kIngress = 0, kEgress = 1, kException = 2 };
inline const char* port_role_name(uint32_t role) {
  switch (static_cast<PortRole>(role)) {
    case PortRole::kIngress: return "ingress";
    case PortRole::kEgress: return "egress";
    case PortRole::kException: return "exception";
  }
  return "unknown";
}

struct PortStatus {
  char name[64];    // DPDK device name ("net_af_packet0", "0000:01:00.0"), NUL-terminated
  char driver[32];  // driver name ("net_af_packet", "net_ice"), NUL-terminated
  uint8_t mac[6];
  uint16_t port_id;
  // link_speed_mbps << 32 | full_duplex << 1 | up; speed 0 when unknown.
  std::atomic<uint64_t> link;
  std::atomic<uint32_t> mtu;
  uint32_t role;  // PortRole; written once, like name
  // Link, MTU or statistics queries that failed at run time (the last good
  // values stay).
  std::atomic<uint64_t> query_errors;
  // rte_eth_stats, indexed by PortStat, copied about once a second (each
  // value relaxed on its own: a reader may see one refresh's ipackets with
  // the previous one's ibytes).
  std::atomic<uint64_t> stats[kPortStatCount];
  // AF_XDP steering (XdpMode), set before port_count is released; the
  // rest refreshed about once a second like the statistics. xdp_keys:
  // entries of the program's VIP map; xdp_sync_errors: map updates that
  // failed (the map then differs from the tables until a later one works).
  std::atomic<uint32_t> xdp_mode;
  std::atomic<uint32_t> xdp_keys;
  std::atomic<uint64_t> xdp_sync_errors;
  std::atomic<uint64_t> xdp_stats[kXdpStatCount];
};

// Where encapsulated packets of one family go (lbctl status), index 0 IPv4,
// 1 IPv6. family and address are written once at start, then source
// (release; the control plane acquires it before reading them); the main
// loop then stores mac (packed, common/next_hop_mac.h; 0: unresolved)
// and then changed_unix_ns when the kernel's neighbour entry changes, each
// on its own (relaxed): a reader may pair a new MAC with the previous time.
enum class NextHopSource : uint8_t {
  kNone = 0,    // no next hop for this family: its backends' packets are dropped
  kStatic = 1,  // --next-hop-mac
  kKernel = 2,  // --next-hop-ip, resolved from the kernel's neighbour table
};
inline const char* next_hop_source_name(uint32_t source) {
  switch (static_cast<NextHopSource>(source)) {
    case NextHopSource::kStatic: return "static";
    case NextHopSource::kKernel: return "kernel";
    case NextHopSource::kNone: break;
  }
  return "none";
}

struct NextHopStatus {
  std::atomic<uint32_t> source;  // NextHopSource
  uint8_t family;                // 4 or 6
  uint8_t pad[3];
  uint8_t address[16];  // --next-hop-ip (kKernel), network order
  std::atomic<uint64_t> mac;
  std::atomic<uint64_t> changed_unix_ns;  // last change of mac (0: never)
  std::atomic<uint64_t> changes;          // how often mac changed, unresolved included
};

// flow.explain's question to the workers: does your connection table hold
// this flow? Only a worker reads its own table, so the control plane posts
// the flow (its hash and fingerprint, then `request`, release) and each
// worker answers in its own slot once per loop pass (a load and a compare
// while nothing is asked). The control plane asks one question at a time.
inline constexpr uint32_t kMaxFlowLookupWorkers = 128;

struct FlowLookupAnswer {
  std::atomic<uint64_t> request;  // the request answered (release, after the fields)
  uint32_t found;                 // 1: the table holds the flow
  uint32_t state;                 // ConnState (common/conn_state.h)
  uint32_t backend_id;
  uint32_t idle_ms;               // since the flow's last packet on this worker
  uint32_t expires_in_ms;         // unless another packet comes
  uint32_t pad;
};

struct FlowLookup {
  // 0 while the control plane rewrites hash and fingerprint; then the
  // request's number (increasing).
  std::atomic<uint64_t> request;
  std::atomic<uint64_t> hash;
  std::atomic<uint64_t> fingerprint;
  FlowLookupAnswer answers[kMaxFlowLookupWorkers];
};

struct SegmentHeader {
  uint64_t magic;
  uint32_t abi_version;
  uint32_t header_size;
  uint64_t segment_size;
  uint64_t boot_id;          // random per dataplane start
  uint64_t start_unix_ns;
  uint64_t hash_seed;        // the flow hash seed the workers use
  uint64_t tsc_hz;           // TSC ticks per second (worker_busy_cycles' unit)
  uint32_t pid;
  uint32_t worker_lcores;
  uint32_t max_vips;
  uint32_t max_backend_id;
  uint32_t counter_count;
  uint32_t record_size;
  uint32_t cmd_slots;
  uint32_t event_slots;
  uint64_t cmd_ring_offset;
  uint64_t event_ring_offset;
  uint64_t lcore_counters_offset;    // worker_lcores LcoreCounters
  uint64_t vip_counters_offset;      // worker_lcores x (max_vips + 1) TrafficCounters
  uint64_t backend_counters_offset;  // worker_lcores x (max_backend_id + 1) TrafficCounters
  uint64_t vip_drop_counters_offset;  // worker_lcores x (max_vips + 1) VipDropCounters
  uint64_t applied_vips_offset;      // max_vips + 1 AppliedVip, indexed by VIP id
  uint64_t applied_backends_offset;  // max_backend_id + 1 AppliedBackend, by backend id
  // CLOCK_MONOTONIC ns of the dataplane main loop's last pass; the control
  // plane treats a heartbeat older than a second or two as "not attached".
  std::atomic<uint64_t> heartbeat_ns;
  std::atomic<uint64_t> applied_generation;
  // config_digest() of what the dataplane applied (common/config_digest.h).
  std::atomic<uint64_t> applied_digest;
  // Bytes the tables may use (0 = no budget) and use now, by
  // vip_table_memory_bytes().
  std::atomic<uint64_t> table_memory_budget;
  std::atomic<uint64_t> table_memory_used;
  // The build in progress (build_total_vips 0: none): transaction, the
  // generation it will publish, and how far it got. Progress is its own
  // signal: a busy dataplane keeps beating and its build keeps moving.
  std::atomic<uint64_t> build_txn_id;
  std::atomic<uint64_t> build_generation;
  std::atomic<uint64_t> build_started_ns;  // CLOCK_MONOTONIC
  std::atomic<uint32_t> build_done_vips;
  std::atomic<uint32_t> build_total_vips;
  // Transactions refused (invalid, over budget, out of memory, malformed).
  std::atomic<uint64_t> refused_transactions;
  // Entries of each worker's connection table (0 until the workers exist).
  std::atomic<uint64_t> conn_capacity_per_lcore;
  // Sequence lock of the applied-configuration mirror: odd while the
  // dataplane rewrites slots, even (and advanced) once they are whole.
  std::atomic<uint64_t> applied_seq;
  // The ports (PortStatus): ingress first; 0 until they are described
  // (release by the dataplane, acquire by the control plane).
  std::atomic<uint32_t> port_count;
  PortStatus ports[kMaxSegmentPorts];
  NextHopStatus next_hops[2];
  FlowLookup flow_lookup;
  // 1 once everything above is initialised (release by the dataplane,
  // acquire by the control plane).
  std::atomic<uint32_t> ready;
};

// --- Ring records (kRecordSize bytes each) --------------------------------

enum class MsgType : uint32_t {
  kTxnBegin = 1,        // control -> data: a new transaction; drops any torn one
  kVip = 2,             // a VIP upserted whole; its kBackend records follow
  kBackend = 3,         // a backend of the kVip record before it
  kTxnCommit = 4,       // validate everything, build, publish, acknowledge
  kVipDelete = 5,       // a VIP and its backends go
  kBackendUpsert = 6,   // one backend of an existing VIP, added or replaced
  kBackendDelete = 7,   // one backend of an existing VIP goes
  kAck = 16,            // data -> control: outcome of a commit
};

inline constexpr uint32_t kTxnFull = 1;  // TxnBeginMsg::flags: replaces everything

struct MsgHeader {
  MsgType type;
  uint32_t reserved;
  uint64_t txn_id;
};

struct TxnBeginMsg {
  MsgHeader h;
  uint32_t records;  // between begin and commit
  uint32_t flags;    // kTxnFull
  // The sender's kAbiVersion: the segment header lets the control plane
  // refuse a dataplane of another version, this lets the dataplane refuse
  // a control plane of another version.
  uint32_t abi_version;
  uint32_t reserved;  // 0; makes the record's bytes fully defined
};

struct VipMsg {
  MsgHeader h;
  uint32_t id;
  uint32_t table_size;
  uint8_t family;
  uint8_t protocol;
  uint8_t encap;
  uint8_t scheduler;   // Scheduler
  uint16_t port;
  uint8_t no_backend;  // NoBackend
  uint8_t pad;
  uint8_t address[16];
  uint32_t slow_start_s;
  uint32_t pad2;
};

struct BackendMsg {
  MsgHeader h;
  uint32_t id;
  uint32_t vip_id;
  uint32_t weight;
  uint8_t state;
  uint8_t family;
  uint16_t name_len;
  uint8_t address[16];
  char name[kMaxBackendNameLen];
  uint8_t backup;  // 1: a backup backend
  uint8_t pad[3];
};

// kVipDelete and kBackendDelete.
struct DeleteMsg {
  MsgHeader h;
  uint32_t vip_id;
  uint32_t backend_id;  // 0 for kVipDelete
};

struct TxnCommitMsg {
  MsgHeader h;
  uint32_t records;  // as in the begin record
  uint32_t reserved;
};

struct AckMsg {
  MsgHeader h;
  uint64_t generation;  // now published (the previous one if !ok)
  uint32_t ok;
  uint32_t error_len;
  uint64_t apply_ns;    // validation + build + publish inside the dataplane
  char error[kMaxErrorLen];
};

static_assert(sizeof(BackendMsg) <= kRecordSize && sizeof(AckMsg) <= kRecordSize &&
              sizeof(VipMsg) <= kRecordSize);

// --- The applied configuration, mirrored -----------------------------------
// What the dataplane applied, not only the tables built from it, so that a
// control plane that lost its own state adopts it instead of wiping a
// forwarding dataplane (ControlSegment::read_applied). The slots hold the
// ring's own VIP and backend records (their message header unused: one
// layout for a VIP's and a backend's fields), indexed by id; a VIP slot
// with id 0 and a backend slot with vip_id 0 are empty. The dataplane
// rewrites only the slots of VIPs a build changed. Fields of one slot are
// plain bytes, consistent only under the sequence lock (applied_seq).
using AppliedVip = VipMsg;
using AppliedBackend = BackendMsg;


using Record = std::array<uint8_t, kRecordSize>;

// Copies a message into a zero-filled record, and back out. memcpy keeps it
// free of alignment and aliasing assumptions about the ring's bytes.
template <typename T>
Record to_record(const T& msg) {
  static_assert(sizeof(T) <= kRecordSize);
  Record r{};
  std::memcpy(r.data(), &msg, sizeof msg);
  return r;
}

template <typename T>
T from_record(const Record& r) {
  static_assert(sizeof(T) <= kRecordSize);
  T msg;
  std::memcpy(&msg, r.data(), sizeof msg);
  return msg;
}

// The records of one transaction carrying `delta`: begin, VIP deletes, each
// upserted VIP followed by its backends, backend deletes, backend upserts,
// commit. Backend names longer than kMaxBackendNameLen must have been
// refused before (validate_for_channel).
std::vector<Record> encode_transaction(const TableDelta& delta, uint64_t txn_id);

// Empty if `config` can travel over the channel (names fit a record).
std::string validate_for_channel(const TableConfig& config);

// Rebuilds a TableDelta from records as they arrive. Nothing is returned
// before a commit whose count matches; a begin discards any transaction in
// progress (a torn one from a control plane that died mid-way).
class TransactionAssembler {
 public:
  enum class Result { kPending, kCommitted, kError };
  Result feed(const Record& record);
  TableDelta take() { return std::move(delta_); }
  uint64_t txn_id() const { return txn_id_; }
  const std::string& error() const { return error_; }
  uint64_t discarded_transactions() const { return discarded_; }
  uint64_t stray_records() const { return stray_; }

 private:
  bool open_ = false;
  uint64_t txn_id_ = 0;
  uint32_t expected_records_ = 0, records_ = 0;
  TableDelta delta_;
  std::string error_;
  uint64_t discarded_ = 0;
  uint64_t stray_ = 0;
};

// --- The segment ------------------------------------------------------------

struct SegmentParams {
  uint64_t hash_seed = 0;
  uint64_t tsc_hz = 0;
  uint32_t worker_lcores = 1;
  uint32_t max_vips = 4096;
  uint32_t max_backend_id = 65535;
  uint32_t cmd_slots = 4096;   // power of two
  uint32_t event_slots = 256;  // power of two
};

std::string segment_name(const std::string& instance);
// 1 to 64 characters of [A-Za-z0-9._-], not "." or "..": what both programs
// accept as --instance (it becomes a file name).
bool valid_instance_name(const std::string& instance);

class ControlSegment {
 public:
  ~ControlSegment();
  ControlSegment(const ControlSegment&) = delete;
  ControlSegment& operator=(const ControlSegment&) = delete;

  // Dataplane, first thing at start: takes the instance's name. The owner
  // of a segment holds a write lock (an open-file-description lock, which
  // the control plane's flock on the segment does not touch) on it for its
  // whole life, so a segment nobody holds is a dead dataplane's: it is
  // removed, and a fresh one (empty until init) is created and locked.
  // While a live dataplane holds the name: nullptr and an error naming its
  // pid. `reclaimed` (if given) says what was reclaimed, empty if nothing.
  static std::unique_ptr<ControlSegment> claim(const std::string& instance, std::string& error,
                                               std::string* reclaimed = nullptr);
  // Dataplane: sizes and lays out the claimed segment with a new boot id
  // and marks it ready. False + error on failure.
  bool init(const SegmentParams& params, std::string& error);
  // claim() and init() in one step.
  static std::unique_ptr<ControlSegment> create(const std::string& instance,
                                                const SegmentParams& params, std::string& error);
  // Control plane: attaches to the instance's segment. nullptr + error when
  // it does not exist, is not ready, or has another ABI version.
  static std::unique_ptr<ControlSegment> attach(const std::string& instance, std::string& error);

  // Whether the named segment is still the one mapped here (a restarted
  // dataplane creates a new one under the same name).
  bool still_current() const;
  // Dataplane, on clean exit: removes the segment (if it is still the one
  // under the name); the name stays claimed until this object goes.
  void unlink();

  SegmentHeader& header() { return *header_; }
  const SegmentHeader& header() const { return *header_; }
  SpscRing& commands() { return commands_; }
  SpscRing& events() { return events_; }
  // The dataplane's mirror of what it applied: `changed` VIPs (their
  // versions before and after, nullptr for none) rewritten under the
  // sequence lock. Dataplane, one writer thread.
  void write_applied(const std::vector<std::pair<const VipConfig*, const VipConfig*>>& changed);
  // The control plane's read of it: false if the dataplane kept rewriting it
  // (retry later). The configuration has the dataplane's ids.
  bool read_applied(TableConfig& out) const;

  LcoreCounters* lcore_counters(uint32_t lcore);
  TrafficCounters* vip_counters(uint32_t lcore);
  TrafficCounters* backend_counters(uint32_t lcore);
  VipDropCounters* vip_drop_counters(uint32_t lcore);
  // Totals over the worker lcores, read relaxed (each lcore writes its own
  // block with plain stores; an aligned 64-bit load is never torn). An id
  // beyond the segment's limits sums to zero. Any thread.
  TrafficCounters vip_traffic(uint32_t vip_id) const;
  TrafficCounters backend_traffic(uint32_t backend_id) const;
  VipDropCounters vip_drops(uint32_t vip_id) const;
  // Readers' views (the metrics exporter's thread reads, never writes).
  const SpscRing& commands() const { return commands_; }
  const SpscRing& events() const { return events_; }
  const LcoreCounters* lcore_counters(uint32_t lcore) const {
    return const_cast<ControlSegment*>(this)->lcore_counters(lcore);
  }
  const TrafficCounters* vip_counters(uint32_t lcore) const {
    return const_cast<ControlSegment*>(this)->vip_counters(lcore);
  }
  const VipDropCounters* vip_drop_counters(uint32_t lcore) const {
    return const_cast<ControlSegment*>(this)->vip_drop_counters(lcore);
  }
  const TrafficCounters* backend_counters(uint32_t lcore) const {
    return const_cast<ControlSegment*>(this)->backend_counters(lcore);
  }
  const std::string& name() const { return name_; }

 private:
  ControlSegment() = default;
  std::string name_;
  void* base_ = nullptr;
  size_t size_ = 0;
  uint64_t inode_ = 0;
  int owner_fd_ = -1;  // dataplane: the claimed segment, locked while this lives
  SegmentHeader* header_ = nullptr;
  SpscRing commands_;
  SpscRing events_;
};

uint64_t monotonic_ns();

}  // namespace sluice
