/*
 * A reader for the restart tests: reads two views in a tight loop and checks each read's text,
 * timing every open+read+close. C, so that thousands of reads a second come from a process
 * whose own cost is negligible and whose cgroup is exactly the one it was started in.
 *
 * usage: stress-reader SECONDS MEMINFO EXPECTED_MEMTOTAL_KB CPUINFO EXPECTED_PROCESSORS
 * Reads for at most SECONDS; SIGTERM ends it sooner. SIGTERM is blocked and looked for between
 * reads, so it never interrupts one (an interrupted read would count as an error).
 * Prints one line: reads=N errors=N wrong=N max_stall_us=N max_outage_us=N first_problem=<text or ->
 *   errors: a syscall failed (e.g. ENOTCONN); wrong: the text had other numbers than expected;
 *   max_stall_us: the longest single read; max_outage_us: the longest time from a failed read to
 *   the next good one (how long the views were gone, when reads fail rather than wait).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buffer[1 << 18];
static char first_problem[256] = "-";

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void note(const char *what, const char *path, const char *detail) {
  if (strcmp(first_problem, "-") == 0) snprintf(first_problem, sizeof first_problem, "%s:%s:%s", what, path, detail);
}

/* Returns bytes read (NUL-terminated in buffer), or -1 after noting the error. */
static long read_whole(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    note("open", path, strerror(errno));
    return -1;
  }
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buffer + total, sizeof buffer - 1 - total);
    if (n < 0) {
      note("read", path, strerror(errno));
      close(fd);
      return -1;
    }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  buffer[total] = '\0';
  return total;
}

static long memtotal_kb(void) {
  const char *line = strstr(buffer, "MemTotal:");
  return line ? strtol(line + 9, NULL, 10) : -1;
}

static long processors(void) {
  long count = 0;
  for (const char *p = buffer; (p = strstr(p, "processor")) != NULL; p++)
    if (p == buffer || p[-1] == '\n') count++;
  return count;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s SECONDS MEMINFO EXPECTED_MEMTOTAL_KB CPUINFO EXPECTED_PROCESSORS\n", argv[0]);
    return 2;
  }
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  long long deadline = now_us() + atoll(argv[1]) * 1000000LL;
  long expected_mem = atol(argv[3]), expected_cpus = atol(argv[5]);
  long reads = 0, errors = 0, wrong = 0;
  long long max_stall = 0, max_outage = 0, failing_since = -1;
  sigset_t pending;
  while (now_us() < deadline && sigpending(&pending) == 0 && !sigismember(&pending, SIGTERM)) {
    for (int which = 0; which < 2; which++) {
      const char *path = which == 0 ? argv[2] : argv[4];
      long long start = now_us();
      long got = read_whole(path);
      long long took = now_us() - start;
      if (took > max_stall) max_stall = took;
      reads++;
      if (got < 0) {
        errors++;
        if (failing_since < 0) failing_since = start;
        continue;
      }
      if (failing_since >= 0) {
        if (now_us() - failing_since > max_outage) max_outage = now_us() - failing_since;
        failing_since = -1;
      }
      long value = which == 0 ? memtotal_kb() : processors();
      long expected = which == 0 ? expected_mem : expected_cpus;
      if (value != expected) {
        char detail[64];
        snprintf(detail, sizeof detail, "got %ld want %ld", value, expected);
        note("wrong", path, detail);
        wrong++;
      }
    }
  }
  if (failing_since >= 0 && now_us() - failing_since > max_outage) max_outage = now_us() - failing_since;
  printf("reads=%ld errors=%ld wrong=%ld max_stall_us=%lld max_outage_us=%lld first_problem=%s\n", reads, errors, wrong, max_stall,
         max_outage, first_problem);
  return 0;
}
