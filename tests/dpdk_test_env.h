// A DPDK environment for tests and benchmarks that run the real dataplane on
// real mbufs without a NIC (CONVENTIONS.md item 15): the EAL is initialised
// once per process with --no-huge, no PCI bus, no shared config and a file
// prefix of its own (so test binaries never share an EAL), and one mbuf pool
// is created for everyone.
//
// No GoogleTest dependency, so a benchmark can use it too. Call
// dpdk_test_env() from a fixture's SetUp (or at the top of main()): the first
// call initialises, later calls return the same object. A failure to
// initialise is a start-up fault: it prints why and exits.
//
// Threads: the first call must come from the thread that will act as the
// main lcore; the pool may then be used from that thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rte_mempool.h>

namespace sluice::test {

struct DpdkTestEnvOptions {
  uint32_t n_mbufs = 8191;            // 2^n - 1 is the mempool's best size
  std::vector<std::string> extra_eal_args;  // appended to the defaults
};

class DpdkTestEnv {
 public:
  rte_mempool* mbuf_pool() const { return pool_; }
  // The EAL arguments used, for messages.
  const std::vector<std::string>& eal_args() const { return args_; }

 private:
  friend DpdkTestEnv& dpdk_test_env(const DpdkTestEnvOptions& options);
  explicit DpdkTestEnv(const DpdkTestEnvOptions& options);

  std::vector<std::string> args_;
  rte_mempool* pool_ = nullptr;
};

// Initialises the EAL and the pool on the first call (with `options`; later
// calls ignore theirs) and returns the environment.
DpdkTestEnv& dpdk_test_env(const DpdkTestEnvOptions& options = {});

// Shorthand for dpdk_test_env().mbuf_pool().
inline rte_mempool* test_mbuf_pool() { return dpdk_test_env().mbuf_pool(); }

}  // namespace sluice::test
