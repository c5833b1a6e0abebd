// A client of BIRD 2's control socket (the protocol birdc speaks): one
// command at a time, each answered by numbered lines, the last of which
// has a space after its code. Codes below 8000 end a successful reply;
// 8xxx (runtime) and 9xxx (parse) end an error. Blocking with timeouts: it
// runs on the BIRD adapter's own thread (bird_adapter.h), never on the
// control plane's loop.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::cp {

struct BirdLine {
  int code = 0;  // of the line, or of the line it continues
  std::string text;
};

struct BirdReply {
  std::vector<BirdLine> lines;
  int final_code = 0;
  bool ok() const { return final_code > 0 && final_code < 8000; }
  // The final line's text (an error's message).
  std::string final_text() const { return lines.empty() ? std::string() : lines.back().text; }
};

// Parses the bytes read so far; nullopt while the final line has not
// arrived (or a line is malformed: `error` then says why).
std::optional<BirdReply> parse_bird_reply(const std::string& bytes, std::string& error);

// One protocol of `show protocols`.
struct BirdProtocol {
  std::string name;
  std::string proto;  // "BGP", "Static", "BFD", "Device"...
  std::string table;
  std::string state;  // "up", "down", "start"...
  std::string since;
  std::string info;   // "Established", "Active    Socket: Connection refused"...
};
std::vector<BirdProtocol> parse_show_protocols(const BirdReply& reply);

class BirdClient {
 public:
  BirdClient() = default;
  ~BirdClient() { disconnect(); }
  BirdClient(const BirdClient&) = delete;
  BirdClient& operator=(const BirdClient&) = delete;

  // Connects and reads the greeting ("0001 BIRD 2.0.12 ready."). Empty on
  // success, else why.
  std::string connect(const std::string& socket_path, int timeout_ms);
  void disconnect();
  bool connected() const { return fd_ >= 0; }
  // "2.0.12", from the greeting.
  const std::string& version() const { return version_; }

  // Sends one command and reads its whole reply; nullopt on an I/O error or
  // a timeout (then disconnected), with `error` saying which.
  std::optional<BirdReply> command(const std::string& command, int timeout_ms, std::string& error);

 private:
  std::optional<BirdReply> read_reply(int timeout_ms, std::string& error);

  int fd_ = -1;
  std::string version_;
};

}  // namespace sluice::cp
