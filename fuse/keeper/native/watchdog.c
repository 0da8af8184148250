/*
 * The watchdog: is the serving process answering? A thread of ours asks the mount for its
 * statfs (FUSE_STATFS: answered by whichever serving thread reads it, with no rendering and no
 * file handle) every PROBE_INTERVAL_MS. A serving process that is stopped, deadlocked, or has
 * every thread stuck (e.g. in a cgroupfs read) leaves it unanswered; past --watchdog-ms the
 * keeper replaces it, and the successor answers the probe and every other waiting request
 * (FUSE_NOTIFY_RESEND). Readers see a delay, not an error.
 *
 * The probe goes through the mountpoint's path, not a descriptor kept open on the mount: a
 * descriptor would keep the filesystem alive after an administrator's unmount, and make a
 * plain umount fail with EBUSY. Each probe asks both trees: the per-container one has serving
 * threads of its own (before it is attached, its path is a directory of the main tree).
 */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PROBE_INTERVAL_MS 100

static int go[2] = {-1, -1}, done[2] = {-1, -1};
static const char *const *probe_paths;
static int inflight;
static long long started, last_done;

static void *probe_thread(void *arg) {
  (void)arg;
  for (;;) {
    char c;
    ssize_t n = read(go[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    int result = 0;
    for (const char *const *path = probe_paths; *path != NULL && result == 0; path++) {
      struct statfs st;
      result = statfs(*path, &st) == 0 ? 0 : errno;
    }
    if (write(done[1], &result, sizeof result) < 0) return NULL;
  }
}

int watchdog_start(const char *const *paths) {
  probe_paths = paths;
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  int made = pthread_create(&thread, &attr, probe_thread, NULL);
  pthread_attr_destroy(&attr);
  if (made != 0) {
    errno = made;
    return -1;
  }
  pthread_detach(thread);
  return 0;
}

int watchdog_fd(void) {
  return done[0];
}

int watchdog_done(void) {
  int result, last = 0;
  while (read(done[0], &result, sizeof result) == (ssize_t)sizeof result) {
    inflight = 0;
    last_done = now_ms();
    last = result;
  }
  return last;
}

int watchdog_tick(struct keeper *k, struct child *serving) {
  if (k->watchdog_ms <= 0 || go[1] < 0 || serving == NULL) return 0;
  long long now = now_ms();
  if (!inflight) {
    if (now - last_done < PROBE_INTERVAL_MS) return 0;
    if (write(go[1], "p", 1) == 1) {
      inflight = 1;
      started = now;
    }
    return 0;
  }
  /* A probe asked of a predecessor counts for this process only from when it began serving. */
  long long since = started > serving->active_at ? started : serving->active_at;
  return now - since >= k->watchdog_ms;
}
