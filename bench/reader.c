/*
 * The bench's reader: open + read-all + close of one file, N times, timing each iteration
 * with CLOCK_MONOTONIC. It is C so that the reader's own overhead does not hide the
 * difference between the servers being measured (a Node reader costs more than the read).
 *
 * usage: reader latency FILE COUNT            -> one line per iteration: nanoseconds
 *        reader throughput FILE SECONDS       -> one line: completed-reads elapsed-ns errors
 *        reader loop FILE SECONDS             -> one line: reads errors longest-read-ns (the
 *                                                longest stall a reader saw, e.g. across a
 *                                                takeover of the serving process)
 *        reader turns                         -> for each line (a path) on stdin, one read of
 *                                                that path and one line out: nanoseconds, or
 *                                                "E <errno>" when it failed; exits at EOF.
 * Exit 0 on success; 2 on a usage error; 1 when a read fails in latency mode.
 *
 * "turns" lets the bench keep one long-lived reader in each of hundreds of cgroups and make
 * them read one after another (the bench writes a path to one reader, waits for its answer,
 * then moves on), so the server sees a different cgroup on every read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buffer[1 << 20];

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Returns bytes read, or -errno. */
static long read_whole(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) {
      int err = errno;
      close(fd);
      return -err;
    }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

static int turns(void) {
  static char line[4096];
  while (fgets(line, sizeof line, stdin) != NULL) {
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (len == 0) continue;
    long long start = now_ns();
    long got = read_whole(line);
    long long end = now_ns();
    if (got < 0) printf("E %ld\n", -got);
    else printf("%lld\n", end - start);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "turns") == 0) return turns();
  if (argc != 4) {
    fprintf(stderr, "usage: %s latency|throughput|loop FILE COUNT|SECONDS, or %s turns\n", argv[0], argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  const char *path = argv[2];
  long amount = strtol(argv[3], NULL, 10);
  if (amount <= 0) {
    fprintf(stderr, "reader: COUNT/SECONDS must be positive\n");
    return 2;
  }
  if (strcmp(mode, "latency") == 0) {
    /* One warm-up read so that a first-time lookup is not counted. */
    long warm = read_whole(path);
    if (warm < 0) {
      fprintf(stderr, "reader: %s: %s\n", path, strerror((int)-warm));
      return 1;
    }
    for (long i = 0; i < amount; i++) {
      long long start = now_ns();
      long got = read_whole(path);
      long long end = now_ns();
      if (got < 0) {
        fprintf(stderr, "reader: %s: %s\n", path, strerror((int)-got));
        return 1;
      }
      printf("%lld\n", end - start);
    }
    return 0;
  }
  if (strcmp(mode, "throughput") == 0) {
    long long start = now_ns();
    long long deadline = start + amount * 1000000000LL;
    long done = 0, errors = 0;
    long long t;
    while ((t = now_ns()) < deadline) {
      if (read_whole(path) < 0) errors++;
      else done++;
    }
    printf("%ld %lld %ld\n", done, t - start, errors);
    return 0;
  }
  if (strcmp(mode, "loop") == 0) {
    long long deadline = now_ns() + amount * 1000000000LL;
    long reads = 0, errors = 0;
    long long longest = 0, t0;
    while ((t0 = now_ns()) < deadline) {
      long got = read_whole(path);
      long long took = now_ns() - t0;
      if (took > longest) longest = took;
      reads++;
      if (got <= 0) errors++;
    }
    printf("%ld %ld %lld\n", reads, errors, longest);
    return 0;
  }
  fprintf(stderr, "reader: unknown mode %s\n", mode);
  return 2;
}
