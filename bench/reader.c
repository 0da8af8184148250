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
 *        reader spaced FILE COUNT GAP_MS      -> like latency, with GAP_MS of sleep before each
 *                                                read (a file read again only after a pause)
 *        reader monitor SECONDS UPTIME FILE... -> once a second, open + read-all + close of UPTIME
 *        reader top SECONDS UPTIME FILE...        and every FILE (monitor), or of descriptors kept
 *                                                open, read again from offset 0 (top, as procps
 *                                                does); one line at the end: reads errors, then
 *                                                how old UPTIME's number was at each round (ms:
 *                                                /proc/uptime read right after, less the start of
 *                                                the reader's pid namespace's init, minus it)
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

static void pause_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Reads a descriptor kept open from offset 0 to the end; bytes, or -errno. */
static long read_again(int fd) {
  if (lseek(fd, 0, SEEK_SET) != 0) return -errno;
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) return -errno;
    if (n == 0) return total;
    total += n;
  }
}

/* The first number of an uptime text in buffer, in ms. */
static double uptime_ms(long length) {
  if (length <= 0) return -1;
  buffer[length < (long)sizeof buffer ? length : (long)sizeof buffer - 1] = '\0';
  return strtod(buffer, NULL) * 1000.0;
}

/* When the init of our pid namespace (pid 1 as we see it) started, in ms after boot. */
static double init_start_ms(void) {
  FILE *f = fopen("/proc/1/stat", "re");
  if (f == NULL) return 0;
  static char stat[4096];
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = '\0';
  char *p = strrchr(stat, ')');
  unsigned long long ticks = 0;
  /* Field 22, starttime: the 20th after the closing parenthesis. */
  for (int field = 3; p != NULL && field <= 22; field++) {
    p = strchr(p + 1, ' ');
    if (p != NULL && field == 22) ticks = strtoull(p + 1, NULL, 10);
  }
  return (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* monitor / top: once a second for SECONDS, every file, and the age of the uptime's number. */
static int rounds(int kept, long seconds, int nfiles, char **files) {
  int fds[64];
  if (nfiles > 64) nfiles = 64;
  for (int i = 0; i < nfiles && kept; i++) fds[i] = open(files[i], O_RDONLY | O_CLOEXEC);
  double init = init_start_ms();
  long reads = 0, errors = 0;
  static double ages[100000];
  long nages = 0;
  long long start = now_ns();
  for (long round = 0; round < seconds; round++) {
    long long due = start + round * 1000000000LL;
    long long wait = due - now_ns();
    if (wait > 0) pause_ms((long)(wait / 1000000));
    for (int i = 0; i < nfiles; i++) {
      long got = kept ? (fds[i] < 0 ? -EBADF : read_again(fds[i])) : read_whole(files[i]);
      reads++;
      if (got < 0) {
        if (errors++ < 3) fprintf(stderr, "reader: %s: %s\n", files[i], strerror((int)-got));
        continue;
      }
      if (i != 0) continue;
      double shown = uptime_ms(got);
      long host = read_whole("/proc/uptime");
      double now = uptime_ms(host) - init;
      if (shown >= 0 && host > 0 && nages < 100000) ages[nages++] = now - shown;
    }
  }
  printf("%ld %ld", reads, errors);
  for (long i = 0; i < nages; i++) printf(" %.0f", ages[i]);
  printf("\n");
  return 0;
}

/* latency / spaced: one warm-up read (a first-time lookup is not counted), then COUNT timed
 * reads, each after GAP_MS of sleep; one line of nanoseconds each. */
static int timed_reads(const char *path, long count, long gap_ms) {
  long warm = read_whole(path);
  if (warm < 0) {
    fprintf(stderr, "reader: %s: %s\n", path, strerror((int)-warm));
    return 1;
  }
  for (long i = 0; i < count; i++) {
    if (gap_ms > 0) pause_ms(gap_ms);
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
  if (argc >= 4 && (strcmp(argv[1], "monitor") == 0 || strcmp(argv[1], "top") == 0)) {
    long seconds = strtol(argv[2], NULL, 10);
    if (seconds <= 0) return 2;
    return rounds(strcmp(argv[1], "top") == 0, seconds, argc - 3, argv + 3);
  }
  if (argc == 5 && strcmp(argv[1], "spaced") == 0) {
    long count = strtol(argv[3], NULL, 10), gap = strtol(argv[4], NULL, 10);
    if (count <= 0 || gap < 0) return 2;
    return timed_reads(argv[2], count, gap);
  }
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
  if (strcmp(mode, "latency") == 0) return timed_reads(path, amount, 0);
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
