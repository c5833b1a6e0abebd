// A stand-in for libFuzzer's main() so that the fuzz targets run as ordinary
// tests in the g++ build (tests/fuzz/README.md). It links with exactly one
// target's LLVMFuzzerTestOneInput and:
//   1. runs every file of the corpus directories (or the single files) named
//      on the command line, in name order;
//   2. then, unless only files were named, runs pseudo-random and mutated
//      inputs from a fixed seed until -runs are done or -max_total_time
//      seconds have passed, whichever comes first.
// There is no coverage feedback: mutants are kept in a small rolling pool so
// that mutations stack, but nothing is learnt. A target's
// LLVMFuzzerCustomMutator, if it has one, is used as libFuzzer uses it, with
// LLVMFuzzerMutate provided here. Real fuzzing is the clang build with
// -Dfuzz=true.
//
// Flags (libFuzzer's spelling, so a command line works with both):
//   -runs=N (20000)  -max_total_time=S (20)  -seed=N (1)  -max_len=N (from the corpus)
//
// A crash or a failed FUZZ_CHECK (SIGABRT) writes the input that caused it
// to ./fuzz-crash-<program>-<pid> and prints its size, origin and a
// backtrace; run the program on that file to reproduce.
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional in a target, as with libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" __attribute__((weak)) size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size,
                                                                size_t max_size, unsigned seed);
// What libFuzzer offers a custom mutator: the generic byte-level mutations.
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using Bytes = std::vector<uint8_t>;

// What is running now, for the crash handler (which may only use
// async-signal-safe calls, so everything it prints is prepared here).
const uint8_t* g_data = nullptr;
size_t g_size = 0;
char g_origin[512] = "";
char g_crash_path[512] = "";

void write_str(int fd, const char* s) {
  const size_t n = std::strlen(s);
  ssize_t done = 0;
  while (static_cast<size_t>(done) < n) {
    const ssize_t w = write(fd, s + done, n - static_cast<size_t>(done));
    if (w <= 0) return;
    done += w;
  }
}

void write_u64(int fd, uint64_t v) {
  char buf[24];
  int i = sizeof buf - 1;
  buf[i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  write_str(fd, buf + i);
}

void on_crash(int sig) {
  write_str(STDERR_FILENO, "\nfuzz_driver: signal ");
  write_u64(STDERR_FILENO, static_cast<uint64_t>(sig));
  write_str(STDERR_FILENO, " on an input of ");
  write_u64(STDERR_FILENO, g_size);
  write_str(STDERR_FILENO, " bytes (");
  write_str(STDERR_FILENO, g_origin);
  write_str(STDERR_FILENO, ")\n");
  if (g_data != nullptr) {
    const int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      size_t done = 0;
      while (done < g_size) {
        const ssize_t w = write(fd, g_data + done, g_size - done);
        if (w <= 0) break;
        done += static_cast<size_t>(w);
      }
      close(fd);
      write_str(STDERR_FILENO, "fuzz_driver: input written to ");
      write_str(STDERR_FILENO, g_crash_path);
      write_str(STDERR_FILENO, "\n");
    }
  }
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_crash_handler(const char* argv0) {
  // backtrace() loads libgcc on first use, which allocates: not in a handler.
  void* warm[1];
  backtrace(warm, 1);
  const std::string name = std::filesystem::path(argv0).filename().string();
  std::snprintf(g_crash_path, sizeof g_crash_path, "fuzz-crash-%s-%d", name.c_str(),
                static_cast<int>(getpid()));
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, on_crash);
}

void run_one(const Bytes& input, const std::string& origin) {
  // A copy of exactly the input's size, so a read past its end is a read
  // past a heap block (visible to ASan/valgrind), as under libFuzzer.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() == 0 ? 1 : input.size()]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  std::snprintf(g_origin, sizeof g_origin, "%s", origin.c_str());
  g_data = copy.get();
  g_size = input.size();
  LLVMFuzzerTestOneInput(input.empty() ? nullptr : copy.get(), input.size());
  g_data = nullptr;
}

// splitmix64: small, fast, and the same sequence on every platform.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  bool chance(unsigned percent) { return below(100) < percent; }
};

// Values that tend to sit on boundaries: lengths, counts, flags.
constexpr uint8_t kBytes[] = {0x00, 0x01, 0x02, 0x04, 0x06, 0x11, 0x3a, 0x40, 0x45, 0x60,
                              0x7f, 0x80, 0x81, 0xfe, 0xff, '"',  '{',  '}',  '[',  ']',
                              ':',  ',',  '\\', '-',  '0',  '9',  'e',  '.',  ' ',  '\n'};
constexpr uint32_t kWords[] = {0,      1,       2,          7,          0x7f,       0x80,
                               0xff,   0x100,   0x5db,      0x5dc,      0x7fff,     0x8000,
                               0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

void mutate_once(Bytes& b, const std::vector<Bytes>& pool, size_t max_len, Rng& rng) {
  const size_t pos = rng.below(b.size() + 1);  // b.size() means "at the end"
  switch (rng.below(12)) {
    case 0:  // flip a bit
      if (!b.empty()) b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
      break;
    case 1:  // random byte
      if (!b.empty()) b[rng.below(b.size())] = static_cast<uint8_t>(rng.next());
      break;
    case 2:  // boundary byte
      if (!b.empty()) b[rng.below(b.size())] = kBytes[rng.below(std::size(kBytes))];
      break;
    case 3:  // small arithmetic on a byte
      if (!b.empty()) {
        b[rng.below(b.size())] += static_cast<uint8_t>(static_cast<int>(rng.below(33)) - 16);
      }
      break;
    case 4:  // boundary 16- or 32-bit word, either byte order
    case 5: {
      const size_t width = rng.chance(50) ? 2 : 4;
      if (b.size() < width) break;
      const size_t at = rng.below(b.size() - width + 1);
      const uint32_t v = kWords[rng.below(std::size(kWords))];
      const bool big = rng.chance(50);
      for (size_t i = 0; i < width; ++i) {
        const size_t shift = 8 * (big ? width - 1 - i : i);
        b[at + i] = static_cast<uint8_t>(v >> shift);
      }
      break;
    }
    case 6: {  // insert random bytes
      const size_t n = 1 + rng.below(16);
      Bytes ins(n);
      for (uint8_t& x : ins) x = static_cast<uint8_t>(rng.next());
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), ins.begin(), ins.end());
      break;
    }
    case 7: {  // erase a range
      if (b.empty()) break;
      const size_t at = rng.below(b.size());
      const size_t n = 1 + rng.below(std::min<size_t>(b.size() - at, 64));
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
              b.begin() + static_cast<std::ptrdiff_t>(at + n));
      break;
    }
    case 8: {  // copy a chunk of itself elsewhere (overwrite or insert)
      if (b.empty()) break;
      const size_t from = rng.below(b.size());
      const size_t n = 1 + rng.below(std::min<size_t>(b.size() - from, 256));
      const Bytes chunk(b.begin() + static_cast<std::ptrdiff_t>(from),
                        b.begin() + static_cast<std::ptrdiff_t>(from + n));
      if (rng.chance(50)) {
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), chunk.begin(), chunk.end());
      } else {
        const size_t to = rng.below(b.size());
        for (size_t i = 0; i < n && to + i < b.size(); ++i) b[to + i] = chunk[i];
      }
      break;
    }
    case 9: {  // splice in a chunk of another input
      if (pool.empty()) break;
      const Bytes& other = pool[rng.below(pool.size())];
      if (other.empty()) break;
      const size_t from = rng.below(other.size());
      const size_t n = 1 + rng.below(other.size() - from);
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos),
               other.begin() + static_cast<std::ptrdiff_t>(from),
               other.begin() + static_cast<std::ptrdiff_t>(from + n));
      break;
    }
    case 10:  // truncate
      b.resize(rng.below(b.size() + 1));
      break;
    case 11: {  // cross over: our head, another input's tail
      if (pool.empty()) break;
      const Bytes& other = pool[rng.below(pool.size())];
      const size_t cut = rng.below(other.size() + 1);
      b.resize(std::min(pos, b.size()));
      b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(cut), other.end());
      break;
    }
  }
  if (b.size() > max_len) b.resize(max_len);
}

// For LLVMFuzzerMutate, which has no room for them in its signature.
Rng g_rng{1};
const std::vector<Bytes>* g_pool = nullptr;

Bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool parse_flag(std::string_view arg, std::string_view name, uint64_t& out) {
  if (arg.size() <= name.size() + 2 || arg.substr(0, 1) != "-" ||
      arg.substr(1, name.size()) != name || arg[name.size() + 1] != '=') {
    return false;
  }
  out = std::strtoull(std::string(arg.substr(name.size() + 2)).c_str(), nullptr, 0);
  return true;
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size) {
  static const std::vector<Bytes> kNoPool;
  Bytes b(data, data + size);
  mutate_once(b, g_pool != nullptr ? *g_pool : kNoPool, max_size, g_rng);
  if (b.size() > max_size) b.resize(max_size);
  if (!b.empty()) std::memcpy(data, b.data(), b.size());
  return b.size();
}

int main(int argc, char** argv) {
  uint64_t runs = 20000, max_seconds = 20, seed = 1, max_len = 0;
  std::vector<std::filesystem::path> dirs, files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (parse_flag(a, "runs", runs) || parse_flag(a, "max_total_time", max_seconds) ||
        parse_flag(a, "seed", seed) || parse_flag(a, "max_len", max_len)) {
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "fuzz_driver: unknown flag %s (ignored)\n", argv[i]);
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(argv[i], ec)) {
      dirs.emplace_back(argv[i]);
    } else if (std::filesystem::is_regular_file(argv[i], ec)) {
      files.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "fuzz_driver: %s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  install_crash_handler(argv[0]);
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  for (const auto& d : dirs) {
    std::vector<std::filesystem::path> in_dir;
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      if (e.is_regular_file()) in_dir.push_back(e.path());
    }
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  const bool replay_only = dirs.empty() && !files.empty();

  const auto start = std::chrono::steady_clock::now();
  auto elapsed_s = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  std::vector<Bytes> pool;
  size_t largest = 0;
  for (const auto& f : files) {
    pool.push_back(read_file(f));
    largest = std::max(largest, pool.back().size());
    run_one(pool.back(), f.string());
  }
  std::printf("fuzz_driver: %zu corpus inputs ran in %.2f s\n", files.size(), elapsed_s());
  if (replay_only) return 0;

  if (max_len == 0) max_len = std::max<size_t>(4096, 2 * largest);
  // Mutants join a rolling pool after the seeds, so mutations can stack.
  const size_t seeds = pool.size();
  constexpr size_t kRolling = 256;
  Rng& rng = g_rng;
  rng = Rng{seed};
  g_pool = &pool;
  uint64_t done = 0;
  for (; done < runs && elapsed_s() < static_cast<double>(max_seconds); ++done) {
    Bytes input;
    if (pool.empty() || rng.chance(10)) {
      input.resize(rng.below(std::min<size_t>(max_len, 1024) + 1));
      for (uint8_t& x : input) x = static_cast<uint8_t>(rng.next());
      if (pool.empty()) pool.push_back(input);
    } else {
      // Half from the seeds: without feedback most mutants are worse than
      // their parent, and a pool of only mutants drifts away from anything
      // valid.
      const bool seed_pick = seeds != 0 && (pool.size() == seeds || rng.chance(50));
      input = seed_pick ? pool[rng.below(seeds)] : pool[seeds + rng.below(pool.size() - seeds)];
      const size_t n = 1 + rng.below(rng.chance(20) ? 8 : 3);
      if (LLVMFuzzerCustomMutator != nullptr) {
        // The target knows its input's structure (libFuzzer then uses only it).
        size_t size = std::min<size_t>(input.size(), max_len);
        input.resize(max_len);
        for (size_t k = 0; k < n; ++k) {
          size = LLVMFuzzerCustomMutator(input.data(), size, max_len,
                                         static_cast<unsigned>(rng.next()));
        }
        input.resize(size);
      } else {
        for (size_t k = 0; k < n; ++k) mutate_once(input, pool, max_len, rng);
      }
    }
    char origin[96];
    std::snprintf(origin, sizeof origin, "mutated input #%" PRIu64 ", -seed=%" PRIu64, done, seed);
    run_one(input, origin);
    if (rng.chance(20)) {
      if (pool.size() < seeds + kRolling) {
        pool.push_back(std::move(input));
      } else {
        pool[seeds + rng.below(kRolling)] = std::move(input);
      }
    }
  }
  std::printf("fuzz_driver: %" PRIu64 " generated inputs (-seed=%" PRIu64 ", -max_len=%" PRIu64
              ") in %.2f s total; no crash\n",
              done, seed, max_len, elapsed_s());
  return 0;
}
