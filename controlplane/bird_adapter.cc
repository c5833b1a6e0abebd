#include "controlplane/bird_adapter.h"

#include <chrono>
#include <cstdio>

#include "controlplane/file_io.h"

namespace sluice::cp {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace

BirdAdapter::BirdAdapter(BirdAdapterOptions options) : options_(std::move(options)) {}

BirdAdapter::~BirdAdapter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BirdAdapter::start() { thread_ = std::thread([this] { run(); }); }

void BirdAdapter::set_desired(const BirdVipsFile& file) {
  std::string text = render_bird_vips_file(file, options_.liveness_iface);
  {
    std::lock_guard lock(mutex_);
    if (text == desired_text_ && desired_generation_ != 0) return;
    desired_text_ = std::move(text);
    status_.desired_generation = ++desired_generation_;
  }
  wake_.notify_all();
}

BirdStatus BirdAdapter::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void BirdAdapter::run() {
  uint64_t written = 0;        // generation in the include file
  uint64_t write_failed = 0;   // generation whose write failed (retried at the next poll)
  bool need_configure = false;
  auto next_poll = std::chrono::steady_clock::now();
  for (;;) {
    std::string text;
    uint64_t generation = 0;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_poll, [&] {
        return stop_ || (desired_generation_ != written && desired_generation_ != write_failed);
      });
      if (stop_) return;
      text = desired_text_;
      generation = desired_generation_;
    }
    const bool poll_due = std::chrono::steady_clock::now() >= next_poll;
    if (!client_.connected() && (poll_due || !ever_connected_)) {
      const std::string e = client_.connect(options_.socket_path, options_.command_timeout_ms);
      std::lock_guard lock(mutex_);
      status_.connected = client_.connected();
      if (!e.empty()) {
        status_.error = e;
        status_.protocols.clear();
      } else {
        status_.error.clear();
        status_.version = client_.version();
        if (ever_connected_) ++status_.reconnects;
        ever_connected_ = true;
        // A new connection may be a restarted BIRD: configure again, so it
        // runs what we want whatever file it read at its start.
        need_configure = true;
      }
    }
    if (generation != 0 && generation != written && (generation != write_failed || poll_due)) {
      if (write_file(text)) {
        written = generation;
        need_configure = true;
      } else {
        write_failed = generation;
      }
    }
    if (need_configure && written != 0 && client_.connected()) {
      need_configure = !configure(written);  // a failure is retried at the next poll
    }
    if (poll_due) {
      refresh_protocols();
      next_poll = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(options_.poll_interval_ms);
    }
  }
}

bool BirdAdapter::write_file(const std::string& text) {
  const std::string e = replace_file_atomically(options_.include_path, text, 0644);
  std::lock_guard lock(mutex_);
  status_.file_error = e;
  if (!e.empty()) std::fprintf(stderr, "lb-controlplane: BGP: %s\n", e.c_str());
  return e.empty();
}

bool BirdAdapter::configure(uint64_t generation) {
  std::string error;
  const auto started = std::chrono::steady_clock::now();
  const auto reply = client_.command("configure", options_.command_timeout_ms, error);
  std::lock_guard lock(mutex_);
  status_.connected = client_.connected();
  status_.last_configure_ms = elapsed_ms(started);
  if (!reply) {
    status_.error = "configure: " + error;
  } else if (!reply->ok()) {
    status_.error = "BIRD refused the configuration: " + reply->final_text();
  } else {
    status_.error.clear();
    status_.applied_generation = generation;
    ++status_.configures;
    return true;
  }
  std::fprintf(stderr, "lb-controlplane: BGP: %s\n", status_.error.c_str());
  return false;
}

void BirdAdapter::refresh_protocols() {
  if (!client_.connected()) return;
  std::string error;
  const auto reply = client_.command("show protocols", options_.command_timeout_ms, error);
  std::lock_guard lock(mutex_);
  status_.connected = client_.connected();
  if (!reply) {
    status_.error = "show protocols: " + error;
    status_.protocols.clear();
    return;
  }
  status_.protocols = parse_show_protocols(*reply);
}

}  // namespace sluice::cp
