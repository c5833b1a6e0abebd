// A UDP sender for tests/bench/port_rate.py: as many datagrams as it can
// to HOST PORT for SECONDS (at most), from FLOWS sockets (one source port,
// one flow, each), in sendmmsg batches, so that the sender is not what
// limits the measured rate as early as a Python loop would. Prints
// {"sent": N, "seconds": S} as JSON. Bounded by time; documentation
// addresses only (the caller's).
//
// Usage: udp_flood HOST PORT SECONDS [FLOWS [PAYLOAD_BYTES]]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FLOWS 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: udp_flood HOST PORT SECONDS [FLOWS [PAYLOAD_BYTES]]\n");
    return 2;
  }
  const double seconds = atof(argv[3]);
  int flows = argc > 4 ? atoi(argv[4]) : 1;
  const int payload = argc > 5 ? atoi(argv[5]) : 18;  // a 64-byte frame over IPv4
  if (flows < 1 || flows > MAX_FLOWS || payload < 1 || payload > 1400 || seconds <= 0 ||
      seconds > 600) {
    fprintf(stderr, "udp_flood: FLOWS 1..%d, PAYLOAD_BYTES 1..1400, SECONDS (0, 600]\n",
            MAX_FLOWS);
    return 2;
  }
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0 || ai == NULL) {
    fprintf(stderr, "udp_flood: cannot resolve %s %s\n", argv[1], argv[2]);
    return 2;
  }
  int fds[MAX_FLOWS];
  for (int f = 0; f < flows; ++f) {
    fds[f] = socket(ai->ai_family, SOCK_DGRAM, 0);
    if (fds[f] < 0 || connect(fds[f], ai->ai_addr, ai->ai_addrlen) != 0) {
      fprintf(stderr, "udp_flood: socket/connect: %s\n", strerror(errno));
      return 1;
    }
  }
  static char buf[1400];
  memset(buf, 'x', sizeof buf);
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; ++i) {
    iov[i].iov_base = buf;
    iov[i].iov_len = (size_t)payload;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  const double start = now();
  double t = start;
  for (unsigned long long round = 0; t - start < seconds; ++round) {
    const int n = sendmmsg(fds[round % (unsigned)flows], msgs, BATCH, 0);
    if (n > 0) sent += (unsigned long long)n;
    // Check the clock every few batches: it is a system call of its own.
    if ((round & 15) == 0) t = now();
  }
  printf("{\"sent\": %llu, \"seconds\": %.3f}\n", sent, now() - start);
  for (int f = 0; f < flows; ++f) close(fds[f]);
  freeaddrinfo(ai);
  return 0;
}
