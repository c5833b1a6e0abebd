#include "health/http_probe.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::health {

namespace {

constexpr size_t kMaxBody = 64 * 1024;  // enough for a substring check

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (body->size() < kMaxBody) body->append(data, std::min(bytes, kMaxBody - body->size()));
  return bytes;
}

// Tunnel probes: the mark routes the probe's packets into the tc program
// that encapsulates them toward this backend.
int on_sockopt(void* user, curl_socket_t fd, curlsocktype) {
  const uint32_t mark = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(user));
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) return CURL_SOCKOPT_ERROR;
  return CURL_SOCKOPT_OK;
}

std::string url_of(const ProbeTarget& t) {
  std::string url = t.check.kind == HealthKind::kHttps ? "https://" : "http://";
  const std::string addr = format_ip_address(t.address);
  if (t.address.family == 6) {
    url += '[';
    url += addr;
    url += ']';
  } else {
    url += addr;
  }
  url += ':';
  url += std::to_string(t.port);
  url += t.check.path;
  return url;
}

}  // namespace

struct CurlDriver::Socket final : FdHandler {
  CurlDriver* driver;
  int fd;
  void on_event(uint32_t ev) override {
    int what = 0;
    if (ev & (EPOLLIN | EPOLLHUP)) what |= CURL_CSELECT_IN;
    if (ev & EPOLLOUT) what |= CURL_CSELECT_OUT;
    if (ev & EPOLLERR) what |= CURL_CSELECT_ERR;
    driver->socket_event(fd, what);
  }
};

struct CurlDriver::Transfer final : Probe {
  CurlDriver* driver = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  ProbeSink* sink = nullptr;
  uint64_t key = 0, token = 0, started_ns = 0;
  HealthCheck check;
  std::string body;
  bool done = false;

  ~Transfer() override { release(); }

  void release() {
    if (easy != nullptr) {
      curl_multi_remove_handle(static_cast<CURLM*>(driver->multi_), easy);
      curl_easy_cleanup(easy);
      easy = nullptr;
    }
    if (headers != nullptr) curl_slist_free_all(headers);
    headers = nullptr;
    driver->forget_transfer(this);
  }

  void report(bool ok, std::string detail) {
    if (done) return;
    done = true;
    release();
    ProbeOutcome o;
    o.ok = ok;
    o.detail = std::move(detail);
    o.latency_ns = monotonic_ns() - started_ns;
    sink->probe_done(key, token, std::move(o));
  }

  void expire() override {
    std::string d = "timeout after ";
    d += std::to_string(check.timeout_ms);
    d += " ms";
    report(false, std::move(d));
  }

  void completed(CURLcode code) {
    if (code != CURLE_OK) {
      std::string d = code == CURLE_OPERATION_TIMEDOUT ? "timeout: " : "";
      d += curl_easy_strerror(code);
      return report(false, std::move(d));
    }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    std::string d = "HTTP ";
    d += std::to_string(status);
    const bool status_ok = std::find(check.expect_status.begin(), check.expect_status.end(),
                                     static_cast<uint16_t>(status)) != check.expect_status.end();
    if (!status_ok) {
      d += " (expected ";
      for (size_t i = 0; i < check.expect_status.size(); ++i) {
        if (i != 0) d += ", ";
        d += std::to_string(check.expect_status[i]);
      }
      d += ')';
      return report(false, std::move(d));
    }
    if (!check.expect_body.empty() && body.find(check.expect_body) == std::string::npos) {
      d += ", body without the expected text";
      return report(false, std::move(d));
    }
    report(true, std::move(d));
  }
};

namespace {

int on_socket(CURL*, curl_socket_t fd, int what, void* user, void* socketp) {
  auto* driver = static_cast<CurlDriver*>(user);
  driver->watch_socket(fd, what, static_cast<CurlDriver::Socket*>(socketp));
  return 0;
}

int on_timer(CURLM*, long timeout_ms, void* user) {
  static_cast<CurlDriver*>(user)->set_timer(timeout_ms);
  return 0;
}

}  // namespace

CurlDriver::CurlDriver(EventLoop& loop) : loop_(loop) {
  static const bool global = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!global) throw std::runtime_error("curl_global_init failed");
  CURLM* m = curl_multi_init();
  if (m == nullptr) throw std::runtime_error("curl_multi_init failed");
  multi_ = m;
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
}

CurlDriver::~CurlDriver() {
  // Probes still running belong to the checker, which is gone by now or
  // going: detach them from the multi handle before it is freed.
  while (!transfers_.empty()) transfers_.begin()->first->release();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void CurlDriver::watch_socket(int fd, int what, Socket* s) {
  CURLM* m = static_cast<CURLM*>(multi_);
  if (what == CURL_POLL_REMOVE) {
    if (s != nullptr) {
      loop_.forget(fd);
      curl_multi_assign(m, fd, nullptr);
      dead_sockets_.emplace_back(s);
    }
    return;
  }
  uint32_t events = 0;
  if (what & CURL_POLL_IN) events |= EPOLLIN;
  if (what & CURL_POLL_OUT) events |= EPOLLOUT;
  if (s == nullptr) {
    s = new Socket();
    s->driver = this;
    s->fd = fd;
    curl_multi_assign(m, fd, s);
    loop_.watch(fd, events, s);
  } else {
    loop_.modify(fd, events, s);
  }
}

void CurlDriver::collect() { dead_sockets_.clear(); }

void CurlDriver::set_timer(long ms) {
  deadline_ns_ = ms < 0 ? 0 : monotonic_ns() + static_cast<uint64_t>(ms) * 1'000'000ull;
  // A timeout of 0 means "call me now": the checker's loop sees a deadline
  // already passed and calls on_timeout on its next pass.
  if (ms == 0) deadline_ns_ = 1;
}

void CurlDriver::socket_event(int fd, int curl_events) {
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, curl_events, &running);
  finish_done();
}

void CurlDriver::on_timeout() {
  deadline_ns_ = 0;
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), CURL_SOCKET_TIMEOUT, 0, &running);
  finish_done();
}

void CurlDriver::finish_done() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    const CURLcode code = msg->data.result;
    if (t != nullptr) t->completed(code);
  }
}

std::unique_ptr<Probe> CurlDriver::start(ProbeSink& sink, uint64_t key, uint64_t token,
                                         const ProbeTarget& target, uint64_t now_ns) {
  auto t = std::make_unique<Transfer>();
  t->driver = this;
  t->sink = &sink;
  t->key = key;
  t->token = token;
  t->started_ns = now_ns;
  t->check = target.check;
  t->easy = curl_easy_init();
  if (t->easy == nullptr) {
    t->report(false, "curl_easy_init failed");
    return t;
  }
  transfers_.emplace(t.get(), true);
  CURL* e = t->easy;
  const std::string url = url_of(target);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(target.check.timeout_ms));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  // One connection per probe: a reused connection would not prove the
  // backend still accepts new ones.
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // never an environment's proxy
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-health/1");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->body);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  const std::string& m = target.check.method;
  if (m == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (m == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
  } else if (m != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
  }
  if (!target.check.host.empty()) {
    std::string h = "Host: ";
    h += target.check.host;
    t->headers = curl_slist_append(nullptr, h.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  }
  if (target.mark != 0) {
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA,
                     reinterpret_cast<void*>(static_cast<uintptr_t>(target.mark)));
  }
  if (curl_multi_add_handle(static_cast<CURLM*>(multi_), e) != CURLM_OK) {
    t->report(false, "curl_multi_add_handle failed");
  }
  return t;
}

}  // namespace sluice::health
