// The forwarding configuration the dataplane installs: VIPs, their
// encapsulation and Maglev table size, and their backends. This is the
// payload of a table transaction (DESIGN.md section 4): the control plane
// builds it, the dataplane validates it as a whole and builds immutable
// tables from it. Also readable from JSON (the dataplane's --static-config).
// Plain data; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/health_config.h"
#include "common/ip_address.h"
#include "common/maglev.h"
#include "common/scheduler.h"

namespace sluice {

enum class Encap : uint8_t {
  kIpip = 1,  // RFC 2003 / RFC 2473: v4-in-v4, v6-in-v6, v4-in-v6
  kGue = 2,   // GUE variant 1 (IP directly in UDP): any inner/outer family
};

enum class BackendState : uint8_t {
  kActive = 0,    // takes new flows in proportion to its weight
  kDraining = 1,  // no new flows; flows already in a connection table stay
  kDisabled = 2,  // no traffic at all; its flows move to other backends
};

struct BackendConfig {
  uint32_t id = 0;   // global, stable, 1..max_backend_id; 0 means "none"
  std::string name;  // stable name: drives the Maglev permutation
  IpAddress address;
  uint32_t weight = 1;
  BackendState state = BackendState::kActive;
  // A backup takes new flows only while no primary of its VIP can
  // (vip_turn_weights).
  bool backup = false;
  // Overrides of the VIP's health check (control plane only; null: none).
  HealthSpecPtr health;
};

struct VipConfig {
  uint32_t id = 0;  // stable, 1..max_vips; indexes per-VIP counters
  IpAddress address;
  uint16_t port = 0;  // host order; 0 = all ports (TCP/UDP)
  uint8_t protocol = 0;  // 6 (TCP) or 17 (UDP)
  Encap encap = Encap::kIpip;
  uint32_t table_size = kMaglevDefaultTableSize;
  // How new flows pick a backend, and the answer when none is usable
  // (common/scheduler.h).
  Scheduler scheduler = Scheduler::kMaglev;
  NoBackend no_backend = NoBackend::kDrop;
  // Seconds over which a backend that joins or returns to service ramps
  // from 10% to 100% of its weight (the control plane pushes the ramp as
  // weights; the dataplane only carries the field, for the digest and the
  // applied mirror); 0: off.
  uint32_t slow_start_s = 0;
  // The VIP's health check (control plane only; null: not checked).
  HealthSpecPtr health;
  // BGP (control plane only): the VIP's address is announced while at least
  // this many backends are active and healthy or not yet probed.
  uint32_t min_healthy = 1;
  std::vector<BackendConfig> backends;
};

struct TableConfig {
  std::vector<VipConfig> vips;
};

// What a dataplane instance can hold; configs beyond it are refused.
struct TableLimits {
  uint32_t max_vips = 4096;
  uint32_t max_backend_id = 65535;
  uint32_t max_backends_per_vip = 65535;
  // Outer address families this dataplane has a source address for.
  bool outer_v4 = true;
  bool outer_v6 = true;
  // Bytes the dataplane may spend on tables (vip_table_memory_bytes summed
  // over the VIPs); 0 = no budget.
  uint64_t table_memory_budget = 0;
};

inline constexpr uint32_t kMaxBackendWeight = kMaglevMaxWeight;
inline constexpr uint32_t kMaxMinHealthy = 65535;

// Empty if `config` can be installed as a whole; otherwise one message that
// names the offending VIP, field and value. The rules of one VIP are
// validate_vip_config; across VIPs: the count, unique VIP ids and keys,
// backend ids unique over all VIPs, and the table memory budget.
std::string validate_table_config(const TableConfig& config, const TableLimits& limits);
// One VIP and its backends, alone (the dataplane's incremental builds check
// the cross-VIP rules with the *_conflict messages below).
std::string validate_vip_config(const VipConfig& vip, const TableLimits& limits);
std::string vip_key_conflict(const VipConfig& vip);
std::string vip_id_conflict(const VipConfig& vip);
std::string backend_id_conflict(const VipConfig& vip, const BackendConfig& be);
std::string memory_budget_error(uint64_t needed, uint64_t budget);

// The health checks of a VIP and its backends' overrides, resolved and
// checked across fields (common/health_config.h); `path` names the VIP
// ("config.vips[0]"). Empty when every backend's check is runnable.
std::string validate_vip_health(const VipConfig& vip, const std::string& path);

// What the dataplane's tables for `vip` cost in memory: the one estimate
// both the control plane's up-front refusal and the dataplane's own check
// use.
uint64_t vip_table_memory_bytes(const VipConfig& vip);

// Which flows a Maglev table is for (DESIGN.md section 3). A VIP has two:
// one for new flows, and GLB's "second chance" for packets of flows already
// under way that miss the connection table (non-SYN TCP, ICMP errors, UDP
// after a restart): in it draining backends still take the turns they had,
// so a drain or a dataplane restart does not move such flows. While no
// backend drains the two are the same table.
enum class MaglevTurns : uint8_t {
  kNewFlows = 0,
  kExistingFlows = 1,
};

// The Maglev turn rule, written once: an active backend takes turns in
// proportion to its weight in both tables; a draining one only in the
// existing-flows table (with its weight, so its turns there are exactly
// those it had before the drain); a disabled one in neither, so only its
// own slots move to others.
uint32_t maglev_turn_weight(const BackendConfig& be, MaglevTurns turns = MaglevTurns::kNewFlows);
// Each backend's turns in one of the VIP's tables, in backend order: the
// state rule above, then the backup rule, written once for the builder,
// the reference model and flow explain: backups take turns (by the state
// rule) only in a table where no primary has any; otherwise none.
std::vector<uint32_t> vip_turn_weights(const VipConfig& vip,
                                       MaglevTurns turns = MaglevTurns::kNewFlows);
// Whether the VIP needs a separate existing-flows table (a backend drains).
bool needs_existing_flows_table(const VipConfig& vip);
// The VIP's Maglev table of one kind under that rule (maglev_build's errors).
std::string build_vip_maglev(const VipConfig& vip, std::vector<uint32_t>& out,
                             MaglevTurns turns = MaglevTurns::kNewFlows);
// Both of the VIP's tables as the dataplane holds them: table_size slots for
// new flows, followed, only if needs_existing_flows_table(), by table_size
// slots for existing flows. No draining backend, no extra memory.
std::string build_vip_tables(const VipConfig& vip, std::vector<uint32_t>& out);
// Whether two versions of a VIP have the same Maglev tables (same table
// size, backends in the same order with the same ids, names and turns in
// both tables): then a build may reuse the old tables.
bool same_maglev_inputs(const VipConfig& a, const VipConfig& b);
// The host-local schedulers' candidates for new flows (common/scheduler.h
// Candidates): the backends with turns in the new-flows table, in backend
// order, with the running sum of those turns.
void vip_candidates(const VipConfig& vip, std::vector<uint32_t>& ids,
                    std::vector<uint64_t>& cumulative);

// Whether `encap` can carry an inner packet of `inner_family` to a backend of
// `outer_family` (IPIP has no v6-in-v4 here; GUE carries everything).
bool encap_supports(Encap encap, uint8_t inner_family, uint8_t outer_family);

const char* encap_name(Encap encap);
const char* backend_state_name(BackendState state);
const char* protocol_name(uint8_t protocol);

// The one configuration document (README, "The declarative configuration
// file"): {"vips": [...]} with "vips" required, every VIP and backend with
// an "id" or none of them, optionally wrapped as lb-controlplane's state
// file (kStateFormat, kStateVersion, next ids beside "vips"). lbctl config
// apply / check / export, the state file and lb-dataplane --static-config
// all read it with parse_config_document and write it with
// table_config_to_json (the state file adds its wrapper).
inline constexpr const char* kStateFormat = "sluice-controlplane-state";
inline constexpr uint32_t kStateVersion = 1;

struct ConfigDocument {
  TableConfig config;
  bool has_ids = false;       // every VIP and backend had an id (none: all 0)
  bool state_file = false;    // it carried the state file's wrapper
  uint32_t next_vip_id = 0;   // the wrapper's, 0 when absent
  uint32_t next_backend_id = 0;
};

// Strict reading: duplicate keys, unknown fields, wrong types and bad values
// are errors naming the JSON path (under "config"). On error returns a
// message and leaves `out` as is. The caller still runs
// validate_table_config on the result.
std::string parse_config_document(const std::string& text, ConfigDocument& out);
std::string table_config_to_json(const TableConfig& config, bool with_ids = true);

// The order of VIPs in a configuration: family, address bytes, port,
// protocol (IPv4 before IPv6, addresses numerically). Backends go by name.
bool vip_order_less(const IpAddress& a, uint16_t a_port, uint8_t a_protocol, const IpAddress& b,
                    uint16_t b_port, uint8_t b_protocol);

// Puts VIPs and backends in that order and numbers them 1, 2, ... in it:
// the ids a control plane without state gives a declarative document, so
// that --static-config of an exported document applies the configuration a
// control plane would (same digest).
void number_in_order(TableConfig& config);
// The same document as a JSON value (writers that wrap it: the state file).
nlohmann::json table_config_json(const TableConfig& config, bool with_ids = true);

}  // namespace sluice
