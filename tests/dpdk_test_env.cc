#include "tests/dpdk_test_env.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

namespace sluice::test {

namespace {

// The first CPU this process may run on: "-l 0" fails in a container or a
// CI runner whose cpuset does not include CPU 0.
int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) return cpu;
  }
  return 0;
}

[[noreturn]] void fail(const std::string& what, const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) line += " " + a;
  std::fprintf(stderr, "dpdk_test_env: %s (EAL arguments:%s)\n", what.c_str(), line.c_str());
  std::exit(1);
}

DpdkTestEnv* g_env = nullptr;

void cleanup_at_exit() {
  if (g_env == nullptr) return;
  rte_mempool_free(g_env->mbuf_pool());
  rte_eal_cleanup();
}

}  // namespace

DpdkTestEnv::DpdkTestEnv(const DpdkTestEnvOptions& options) {
  // No --in-memory: with --no-huge it fails on DPDK 22.11. --no-shconf and a
  // per-process prefix keep concurrent test binaries apart instead.
  args_ = {"sluice-test",
           "--no-huge",
           "-m",
           "512",
           "--no-pci",
           "--no-shconf",
           "--no-telemetry",
           "--file-prefix",
           "sluice-test-" + std::to_string(getpid()),
           "-l",
           std::to_string(first_allowed_cpu()),
           "--log-level",
           "lib.eal:error"};
  args_.insert(args_.end(), options.extra_eal_args.begin(), options.extra_eal_args.end());

  // rte_eal_init may keep pointers into argv: give it storage that lives as
  // long as the process.
  static std::vector<std::string> storage;
  static std::vector<char*> argv;
  storage = args_;
  argv.clear();
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
    fail(std::string("rte_eal_init failed: ") + rte_strerror(rte_errno), args_);
  }
  pool_ = rte_pktmbuf_pool_create("sluice_test_mbufs", options.n_mbufs, 256, 0,
                                  RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    fail(std::string("rte_pktmbuf_pool_create failed: ") + rte_strerror(rte_errno), args_);
  }
}

DpdkTestEnv& dpdk_test_env(const DpdkTestEnvOptions& options) {
  // A function-local static: initialised once, thread-safely, on first use.
  static DpdkTestEnv* env = [&options] {
    g_env = new DpdkTestEnv(options);
    std::atexit(cleanup_at_exit);
    return g_env;
  }();
  return *env;
}

}  // namespace sluice::test
