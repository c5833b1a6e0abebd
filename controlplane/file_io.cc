#include "controlplane/file_io.h"
#include "common/errno_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sluice::cp {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool read_whole_file(const std::string& path, std::string& out, std::string& error, int& err_no) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err_no = errno;
    error = errno_text();
    return false;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err_no = errno;
      error = errno_text();
      close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

std::string replace_file_atomically(const std::string& path, const std::string& text, int mode) {
  std::string tmp = path;
  tmp += ".tmp-";
  tmp += std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return "cannot create " + tmp + ": " + errno_text();
  if (!write_all(fd, text) || fsync(fd) != 0) {
    const std::string e = "cannot write " + tmp + ": " + errno_text();
    close(fd);
    unlink(tmp.c_str());
    return e;
  }
  if (close(fd) != 0) {
    const std::string e = "cannot write " + tmp + ": " + errno_text();
    unlink(tmp.c_str());
    return e;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = "cannot rename " + tmp + " to " + path + ": " + errno_text();
    unlink(tmp.c_str());
    return e;
  }
  const std::string dir = dir_of(path);
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || fsync(dfd) != 0) {
    std::fprintf(stderr, "lb-controlplane: warning: cannot sync directory %s: %s\n", dir.c_str(),
                 errno_text().c_str());
  }
  if (dfd >= 0) close(dfd);
  return {};
}

}  // namespace sluice::cp
