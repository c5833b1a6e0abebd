// The BIRD adapter's I/O (DESIGN.md section 8): keeps BIRD announcing what
// the announcer decided. It owns the include file (bird_vips_file.h) and
// the connection to BIRD's control socket, on its own thread so that a
// slow or absent BIRD never holds up the control plane's loop.
//
// Every new desired file is written (atomically) at once, whether BIRD is
// up or not: a BIRD that starts later reads it. Then `configure` makes a
// running BIRD apply it. Whenever the connection is (re)established, which
// is also how a BIRD restart shows (it closes every control connection),
// the adapter runs `configure` again, so what BIRD announces never depends
// on which of the two started first. Once a second it reads `show
// protocols` for the sessions' state.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/bird_client.h"
#include "controlplane/bird_vips_file.h"

namespace sluice::cp {

struct BirdAdapterOptions {
  std::string socket_path;     // BIRD's control socket
  std::string include_path;    // the file the operator's bird.conf includes
  std::string liveness_iface;  // every route goes via it
  int command_timeout_ms = 5000;
  int poll_interval_ms = 1000;
};

// What the adapter last saw, for `bgp show` and status.
struct BirdStatus {
  bool connected = false;
  std::string version;
  std::string error;        // the last connection or command failure (empty: none)
  std::string file_error;   // the last include file write failure (empty: none)
  std::vector<BirdProtocol> protocols;
  uint64_t desired_generation = 0;
  uint64_t applied_generation = 0;  // BIRD configured with this desired file
  uint64_t configures = 0;          // successful `configure` commands
  uint64_t reconnects = 0;          // connections made after the first
  double last_configure_ms = 0;
};

class BirdAdapter {
 public:
  explicit BirdAdapter(BirdAdapterOptions options);
  ~BirdAdapter();
  BirdAdapter(const BirdAdapter&) = delete;
  BirdAdapter& operator=(const BirdAdapter&) = delete;

  // Starts the thread.
  void start();
  // Hands over a new desired file; the thread writes and applies it.
  void set_desired(const BirdVipsFile& file);
  BirdStatus status() const;

 private:
  void run();
  bool write_file(const std::string& text);
  // Runs `configure`; true when BIRD accepted it.
  bool configure(uint64_t generation);
  void refresh_protocols();

  BirdAdapterOptions options_;
  BirdClient client_;  // the thread's only
  bool ever_connected_ = false;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string desired_text_;
  uint64_t desired_generation_ = 0;
  BirdStatus status_;
  std::thread thread_;
};

}  // namespace sluice::cp
