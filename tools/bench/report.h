// Output: the human table and the JSON document, plus the description of
// the machine the figures came from. Main thread, after the run.
#pragma once

#include <map>
#include <string>

#include "tools/bench/options.h"
#include "tools/bench/results.h"

namespace sluice::bench {

// CPU model, cores, kernel, DPDK version, compiler, TSC rate.
std::map<std::string, std::string> describe_machine();

// A printf-style format of one number, for tables.
std::string fmt(const char* f, double v);

std::string text_report(const Results& r);
std::string json_report(const Results& r);

}  // namespace sluice::bench
