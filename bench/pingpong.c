/*
 * The floor of any vhost-user backend on this machine: an eventfd ping-pong between two
 * processes, in C, with no runtime in between. The parent writes a "kick" eventfd and waits for a
 * "call" eventfd; the child waits for the kick and writes the call. Each round trip is timed.
 *
 *   pingpong MODE ITERATIONS WARMUP [CPU]
 *     MODE read   both sides block in read(2) on the eventfd (the minimum)
 *     MODE epoll  both sides block in epoll_wait(2) and then read, as the backend's poller and
 *                 the benchmark frontend do (the same syscalls as ffi/sfpemu.c's poller)
 *     CPU         pin both processes to this CPU: every wake-up is a context switch on one core,
 *                 never an inter-processor interrupt (on a VM, waking an idle vCPU can cost tens
 *                 of µs, so the unpinned figure depends on how busy the other CPUs are)
 *
 * Prints one JSON line: {"mode", "iterations", "p50_us", "p99_us", "max_us", "mean_us"}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* Waits for fd to be signalled and drains it. With epfd >= 0 it first waits in epoll_wait. */
static void wait_for(int fd, int epfd) {
  if (epfd >= 0) {
    struct epoll_event event;
    for (;;) {
      int n = epoll_wait(epfd, &event, 1, -1);
      if (n == 1) break;
      if (n < 0 && errno != EINTR) die("epoll_wait");
    }
  }
  uint64_t value;
  while (read(fd, &value, sizeof value) != sizeof value) {
    if (errno != EINTR && errno != EAGAIN) die("read");
  }
}

static void signal_fd(int fd) {
  uint64_t one = 1;
  if (write(fd, &one, sizeof one) != sizeof one) die("write");
}

static int watch(int fd) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) < 0) die("epoll_ctl");
  return epfd;
}

static int compare(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples (the same rule as bench/support/stats.ts). */
static double percentile_us(const uint64_t *sorted, long n, double p) {
  long rank = (long)((p / 100.0) * (double)n + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (double)sorted[rank - 1] / 1000.0;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "epoll") != 0)) {
    fprintf(stderr, "usage: %s read|epoll ITERATIONS WARMUP [CPU]\n", argv[0]);
    return 2;
  }
  const int use_epoll = strcmp(argv[1], "epoll") == 0;
  const long iterations = atol(argv[2]);
  const long warmup = atol(argv[3]);
  if (iterations < 1 || warmup < 0) {
    fprintf(stderr, "ITERATIONS must be >= 1 and WARMUP >= 0\n");
    return 2;
  }
  if (argc == 5) {
    /* Before the fork, so the child inherits it. */
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(atoi(argv[4]), &cpus);
    if (sched_setaffinity(0, sizeof cpus, &cpus) < 0) die("sched_setaffinity");
  }
  int kick = eventfd(0, EFD_CLOEXEC);
  int call = eventfd(0, EFD_CLOEXEC);
  if (kick < 0 || call < 0) die("eventfd");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    /* The "backend": answer every kick with a call, for exactly as many round trips as asked. */
    int epfd = use_epoll ? watch(kick) : -1;
    for (long i = 0; i < warmup + iterations; i++) {
      wait_for(kick, epfd);
      signal_fd(call);
    }
    _exit(0);
  }

  int epfd = use_epoll ? watch(call) : -1;
  uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)iterations);
  if (!samples) die("malloc");
  for (long i = 0; i < warmup + iterations; i++) {
    uint64_t start = now_ns();
    signal_fd(kick);
    wait_for(call, epfd);
    uint64_t elapsed = now_ns() - start;
    if (i >= warmup) samples[i - warmup] = elapsed;
  }
  int status;
  if (waitpid(child, &status, 0) < 0) die("waitpid");

  double sum = 0;
  for (long i = 0; i < iterations; i++) sum += (double)samples[i];
  qsort(samples, (size_t)iterations, sizeof samples[0], compare);
  printf("{\"mode\":\"%s\",\"iterations\":%ld,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f}\n",
         argv[1], iterations, percentile_us(samples, iterations, 50), percentile_us(samples, iterations, 99),
         (double)samples[iterations - 1] / 1000.0, sum / (double)iterations / 1000.0);
  free(samples);
  return 0;
}
