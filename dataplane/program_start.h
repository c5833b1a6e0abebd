// Start-up shared by the DPDK programs (lb-dataplane, lb-bench): flags that
// must work before the EAL starts (--help needs no hugepages), starting the
// EAL with a hint for hosts without hugepages, and reading the program's own
// options, which follow the EAL's after "--". Main thread, start-up only.
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <string_view>

namespace sluice::dp {

inline bool argv_has(int argc, char** argv, std::initializer_list<std::string_view> flags) {
  for (int i = 1; i < argc; ++i) {
    for (std::string_view f : flags) {
      if (f == argv[i]) return true;
    }
  }
  return false;
}

// Starts the EAL on the arguments before "--". Returns the offset of the
// program's own arguments (argv[offset] holds the program name, as the EAL
// leaves it), or -1 after saying why the EAL did not start; `hint` gives
// the EAL options for a host without hugepages.
inline int start_eal(const char* program, int argc, char** argv, const char* hint) {
  const int offset = rte_eal_init(argc, argv);
  if (offset < 0) {
    std::fprintf(stderr, "%s: EAL initialisation failed: %s (without hugepages: %s; see %s --help)\n",
                 program, rte_strerror(rte_errno), hint, program);
  }
  return offset;
}

// Reads the command line into `vm`. False after printing what was wrong.
inline bool read_command_line(const char* program,
                              const boost::program_options::options_description& desc, int argc,
                              char** argv, boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    // Whole option names only, as lbctl: an abbreviation (--xdp-prog) would
    // be read here but not by the scan that adds --xdp-steering's program
    // to the EAL's vdevs before the EAL starts (dataplane/xdp_steering.h).
    po::store(po::command_line_parser(argc, argv)
                  .options(desc)
                  .style(po::command_line_style::default_style &
                         ~po::command_line_style::allow_guessing)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << " (see " << program << " --help)\n";
    return false;
  }
  return true;
}

}  // namespace sluice::dp
