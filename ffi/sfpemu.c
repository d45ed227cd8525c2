/* sfpemu FFI library: syscall wrappers only. See sfpemu.h for the contract of each call. */
#define _GNU_SOURCE
#include "sfpemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static int fill_address(struct sockaddr_un *addr, const char *path) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof(addr->sun_path)) return -ENAMETOOLONG;
  memcpy(addr->sun_path, path, len);
  return 0;
}

EXPORT int32_t sfp_listen(const char *path, int32_t backlog) {
  struct sockaddr_un addr;
  int rc = fill_address(&addr, path);
  if (rc < 0) return rc;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  /* A socket file left by a killed process would make bind fail with EADDRINUSE. */
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
      listen(fd, backlog) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

EXPORT int32_t sfp_accept(int32_t listen_fd) {
  int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return fd < 0 ? -errno : fd;
}

EXPORT int32_t sfp_connect(const char *path) {
  struct sockaddr_un addr;
  int rc = fill_address(&addr, path);
  if (rc < 0) return rc;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

EXPORT int32_t sfp_socketpair(int32_t *fds_out) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return -errno;
  fds_out[0] = fds[0];
  fds_out[1] = fds[1];
  return 0;
}

EXPORT int64_t sfp_send(int32_t fd, const uint8_t *buf, uint64_t len, const int32_t *fds,
                        int32_t nfds) {
  if (nfds < 0 || nfds > SFP_MAX_FDS) return -EINVAL;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * SFP_MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&control, 0, sizeof(control));
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

EXPORT int64_t sfp_recv(int32_t fd, uint8_t *buf, uint64_t len, int32_t *fds_out,
                        int32_t *nfds_out) {
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  /* Room for more than we accept, so an over-full message is seen (and its fds closed). */
  union {
    char buf[CMSG_SPACE(sizeof(int) * SFP_MAX_FDS * 4)];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
      .msg_controllen = sizeof(control.buf)};
  *nfds_out = 0;
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  int too_many = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int *fds = (int *)CMSG_DATA(c);
    for (int i = 0; i < count; i++) {
      int one;
      memcpy(&one, &fds[i], sizeof(int));
      if (*nfds_out < SFP_MAX_FDS) {
        fds_out[(*nfds_out)++] = one;
      } else {
        close(one);
        too_many = 1;
      }
    }
  }
  if (too_many) {
    for (int i = 0; i < *nfds_out; i++) close(fds_out[i]);
    *nfds_out = 0;
    return -EMSGSIZE;
  }
  return n;
}

EXPORT int32_t sfp_eventfd(uint32_t initval) {
  int fd = eventfd(initval, EFD_NONBLOCK | EFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

EXPORT int32_t sfp_eventfd_write(int32_t fd, uint64_t value) {
  ssize_t n;
  do {
    n = write(fd, &value, sizeof(value));
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : 0;
}

EXPORT int64_t sfp_eventfd_read(int32_t fd) {
  uint64_t value = 0;
  ssize_t n;
  do {
    n = read(fd, &value, sizeof(value));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n != sizeof(value)) return -EIO;
  return (int64_t)(value & INT64_MAX);
}

EXPORT int32_t sfp_memfd(const char *name, uint64_t size) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (ftruncate(fd, (off_t)size) < 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  return fd;
}

EXPORT int32_t sfp_mmap(int32_t fd, uint64_t size, uint64_t offset, uint64_t *addr_out) {
  if (size == 0) return -EINVAL;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
  if (p == MAP_FAILED) return -errno;
  *addr_out = (uint64_t)(uintptr_t)p;
  return 0;
}

EXPORT int32_t sfp_munmap(uint64_t addr, uint64_t size) {
  return munmap((void *)(uintptr_t)addr, size) < 0 ? -errno : 0;
}

EXPORT int64_t sfp_fd_size(int32_t fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  return (int64_t)st.st_size;
}

EXPORT int32_t sfp_close(int32_t fd) { return close(fd) < 0 ? -errno : 0; }

EXPORT int32_t sfp_set_nonblocking(int32_t fd, int32_t on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

EXPORT int32_t sfp_poller_new(void) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

/* The epoll data word carries token (high 32 bits), kind (bit 31) and fd (low 31 bits). */
EXPORT int32_t sfp_poller_add(int32_t epfd, int32_t fd, uint32_t token, int32_t kind) {
  if (fd < 0 || (kind != SFP_WATCH_EVENTFD && kind != SFP_WATCH_READABLE)) return -EINVAL;
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u64 = ((uint64_t)token << 32) | ((uint64_t)(kind == SFP_WATCH_READABLE) << 31) |
                (uint64_t)fd;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

EXPORT int32_t sfp_poller_remove(int32_t epfd, int32_t fd) {
  return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

EXPORT int32_t sfp_poller_wait(int32_t epfd, int32_t timeout_ms, uint64_t *out,
                               int32_t max_pairs) {
  enum { BATCH = 64 };
  struct epoll_event events[BATCH];
  int max = max_pairs < BATCH ? max_pairs : BATCH;
  if (max <= 0) return -EINVAL;
  int n = epoll_wait(epfd, events, max, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  int pairs = 0;
  for (int i = 0; i < n; i++) {
    uint64_t data = events[i].data.u64;
    int fd = (int)(data & 0x7fffffff);
    uint64_t value = events[i].events;
    if (((data >> 31) & 1) == 0) {
      uint64_t counter = 0;
      ssize_t r = read(fd, &counter, sizeof(counter));
      if (r == sizeof(counter) && counter != 0) {
        value = counter;
      } else if (r < 0 && (errno == EAGAIN || errno == EINTR) &&
                 !(events[i].events & (EPOLLHUP | EPOLLERR))) {
        continue; /* drained by someone else meanwhile */
      } else {
        /* Not a working eventfd (a pipe or socket that hung up, or EOF): level-triggered epoll
         * would report it forever, so it leaves the set and is reported once with value 0. */
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        value = 0;
      }
    }
    out[2 * pairs] = data >> 32;
    out[2 * pairs + 1] = value;
    pairs++;
  }
  return pairs;
}

EXPORT uint64_t sfp_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
