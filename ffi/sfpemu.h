/*
 * sfpemu FFI library: the syscalls Deno cannot make by itself.
 *
 * Nothing here knows about vhost-user, virtqueues or SFPs (see DESIGN.md "Layers"). Every
 * function returns a negative errno on failure, so the caller never needs errno.
 */
#ifndef SFPEMU_H
#define SFPEMU_H

#include <stdint.h>

/* Most file descriptors one vhost-user message may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
#define SFP_MAX_FDS 8

/* What the poller does when a watched fd becomes ready. */
#define SFP_WATCH_EVENTFD 0 /* read (drain) the eventfd counter and report it */
#define SFP_WATCH_READABLE 1 /* report readiness; the caller reads */

/* Unix stream sockets. sfp_listen removes a stale socket file, binds, chmods 0600. */
int32_t sfp_listen(const char *path, int32_t backlog);
/* Non-blocking accept: the connection fd, or -EAGAIN when nobody is waiting. */
int32_t sfp_accept(int32_t listen_fd);
int32_t sfp_connect(const char *path);
/* A connected pair (used by tests and by the frontend's own plumbing). */
int32_t sfp_socketpair(int32_t *fds_out);

/*
 * sendmsg of len bytes with nfds (<= SFP_MAX_FDS) descriptors as SCM_RIGHTS.
 * Returns bytes sent (MSG_NOSIGNAL: a closed peer gives -EPIPE, never SIGPIPE).
 */
int64_t sfp_send(int32_t fd, const uint8_t *buf, uint64_t len, const int32_t *fds, int32_t nfds);
/*
 * Non-blocking recvmsg of at most len bytes. Received descriptors go to fds_out (room for
 * SFP_MAX_FDS) and their number to *nfds_out; descriptors beyond that room, or a truncated
 * control message, are closed and reported as -EMSGSIZE after the data (nothing leaks).
 * Returns bytes read, 0 at end of stream, -EAGAIN when nothing is there.
 */
int64_t sfp_recv(int32_t fd, uint8_t *buf, uint64_t len, int32_t *fds_out, int32_t *nfds_out);

/* eventfd: non-blocking, close-on-exec. */
int32_t sfp_eventfd(uint32_t initval);
int32_t sfp_eventfd_write(int32_t fd, uint64_t value);
/* The counter (and resets it), or -EAGAIN when it is zero. */
int64_t sfp_eventfd_read(int32_t fd);

/* Shared memory: memfd of a size (the frontend's guest RAM), mmap MAP_SHARED, munmap. */
int32_t sfp_memfd(const char *name, uint64_t size);
/* Maps size bytes of fd at offset read/write shared; the address goes to *addr_out. */
int32_t sfp_mmap(int32_t fd, uint64_t size, uint64_t offset, uint64_t *addr_out);
int32_t sfp_munmap(uint64_t addr, uint64_t size);

/* The size of the file behind fd (st_size): a mapping past it would fault with SIGBUS. */
int64_t sfp_fd_size(int32_t fd);

int32_t sfp_close(int32_t fd);
/* Sets or clears O_NONBLOCK. */
int32_t sfp_set_nonblocking(int32_t fd, int32_t on);

/*
 * The poller: one epoll set. Each watched fd carries a 32-bit token chosen by the caller.
 * sfp_poller_wait waits up to timeout_ms (-1: forever, 0: poll) and writes (token, value)
 * pairs into out (2 * max_pairs uint64 slots): for SFP_WATCH_EVENTFD the drained counter,
 * for SFP_WATCH_READABLE the epoll event mask. Returns the number of pairs; -EINTR is
 * reported as 0 pairs. An eventfd found already drained is left out; an SFP_WATCH_EVENTFD fd
 * that cannot be read as an eventfd (hung up, EOF, not an eventfd) is removed from the set and
 * reported once with value 0.
 */
int32_t sfp_poller_new(void);
int32_t sfp_poller_add(int32_t epfd, int32_t fd, uint32_t token, int32_t kind);
int32_t sfp_poller_remove(int32_t epfd, int32_t fd);
int32_t sfp_poller_wait(int32_t epfd, int32_t timeout_ms, uint64_t *out, int32_t max_pairs);

/* Monotonic clock in nanoseconds (benchmarks and deadlines without Date.now granularity). */
uint64_t sfp_now_ns(void);

#endif
