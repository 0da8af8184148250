/*
 * Opens a file the way the fair-share tests need: a tenant exhausting what it may hold, one
 * opening and closing from many threads, and one behaving well whose every open must succeed.
 *
 * usage: open-stress MODE SECONDS FILE [THREADS] [AT_ONCE]
 *        open-stress hold SECONDS FILE READY_FILE
 *   hold:   open FILE (and read it) without closing until an open fails, write the line below
 *           to READY_FILE, then keep them for SECONDS while trying one more open every ms
 *   churn:  THREADS threads open, read and close FILE for SECONDS
 *   steady: THREADS threads each open AT_ONCE files, read them, close them, for SECONDS
 * Prints one line: opens=N failed=N held=N first_errno=<name or ->
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *mode, *path;
static long long deadline;
static int at_once = 1;
static long opens, failed, held;
static int first_errno;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void count(long ok, long bad, int err) {
  pthread_mutex_lock(&lock);
  opens += ok;
  failed += bad;
  if (bad && !first_errno) first_errno = err;
  pthread_mutex_unlock(&lock);
}

/* Opens and reads once; the descriptor, or -1 with errno set. */
static int open_and_read(void) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  if (read(fd, buf, sizeof buf) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

static void *loop(void *arg) {
  (void)arg;
  int *fds = calloc((size_t)at_once, sizeof *fds);
  while (now_us() < deadline) {
    long ok = 0, bad = 0;
    int err = 0;
    for (int i = 0; i < at_once; i++) {
      fds[i] = open_and_read();
      if (fds[i] < 0) {
        bad++;
        err = errno;
      } else {
        ok++;
      }
    }
    for (int i = 0; i < at_once; i++)
      if (fds[i] >= 0) close(fds[i]);
    count(ok, bad, err);
  }
  free(fds);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s hold|churn|steady SECONDS FILE [THREADS] [AT_ONCE]\n", argv[0]);
    return 2;
  }
  mode = argv[1];
  long long seconds = atoll(argv[2]);
  path = argv[3];
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (argc > 5) at_once = atoi(argv[5]);
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  deadline = now_us() + seconds * 1000000LL;
  if (strcmp(mode, "hold") == 0) {
    for (;;) {
      int fd = open_and_read();
      if (fd < 0) {
        count(0, 1, errno);
        break;
      }
      count(1, 0, 0);
      held++;
    }
    FILE *ready = argc > 4 ? fopen(argv[4], "w") : NULL;
    if (ready != NULL) {
      fprintf(ready, "opens=%ld failed=%ld held=%ld first_errno=%s\n", opens, failed, held, first_errno ? strerrorname_np(first_errno) : "-");
      fclose(ready);
    }
    while (now_us() < deadline) {
      int fd = open_and_read();
      if (fd < 0) count(0, 1, errno);
      else close(fd), count(1, 0, 0);
      usleep(1000);
    }
    printf("opens=%ld failed=%ld held=%ld first_errno=%s\n", opens, failed, held, first_errno ? strerrorname_np(first_errno) : "-");
    return 0;
  }
  pthread_t ids[512];
  if (threads < 1 || threads > 512) threads = 1;
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, loop, NULL);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  printf("opens=%ld failed=%ld held=%ld first_errno=%s\n", opens, failed, held, first_errno ? strerrorname_np(first_errno) : "-");
  return 0;
}
