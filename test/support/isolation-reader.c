/*
 * A reader for the isolation tests: reads meminfo and cpuinfo in a loop through one read path
 * and checks every byte it gets against what its own cgroup must see. Another tenant's text is
 * told apart by its MemTotal, by processor numbers beyond this reader's CPUs, or by being the
 * other file altogether (what a freed and reused page would hold).
 *
 * usage: isolation-reader MODE SECONDS MEMINFO MEMTOTAL_KB CPUINFO CPUS [THREADS]
 *   MODE: read | readv | pread (THREADS threads on one descriptor per file, at offset 0 and
 *   elsewhere) | sendfile (fstat, then splice into a pipe; refused → read(), as busybox cat
 *   does) | mmap
 *   (MAP_PRIVATE) | mmap-shared
 * Prints one line:
 *   reads=N bytes=N foreign=N foreign_bytes=N refused=N errors=N first_problem=<text or ->
 *   foreign: reads that held another tenant's bytes; refused: a path refused with an errno or
 *   SIGBUS (not an error); errors: anything else that failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BUFFER (1 << 18)
#define MAP_BYTES (1 << 16)

static const char *mode, *paths[2];
static long expected_mem, expected_cpus;
static long long deadline;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static long total_reads, total_bytes, total_foreign, total_foreign_bytes, total_refused, total_errors;
static char first_problem[256] = "-";
static __thread sigjmp_buf on_sigbus;

struct counts {
  long reads, bytes, foreign, foreign_bytes, refused, errors;
};

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void note(const char *what, const char *path, const char *detail) {
  pthread_mutex_lock(&report_lock);
  if (strcmp(first_problem, "-") == 0) snprintf(first_problem, sizeof first_problem, "%s:%s:%s", what, path, detail);
  pthread_mutex_unlock(&report_lock);
}

/* The value of every whole "KEY<value>\n" line in text; -2 when one differs from want. */
static int lines_agree(const char *text, size_t len, const char *key, long want, int below) {
  size_t klen = strlen(key);
  for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), key, klen)) != NULL; p += klen) {
    if (p != text && p[-1] != '\n') continue;
    const char *nl = memchr(p, '\n', len - (size_t)(p - text));
    if (nl == NULL) break; /* cut at the end of a fragment: nothing to judge */
    long value = strtol(p + klen, NULL, 10);
    if (below ? value >= want : value != want) return -2;
  }
  return 0;
}

static int count_lines(const char *text, size_t len, const char *key) {
  int n = 0;
  size_t klen = strlen(key);
  for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), key, klen)) != NULL; p += klen)
    if (p == text || p[-1] == '\n') n++;
  return n;
}

/* 1 when text (the whole file when `whole`, else any piece of it) cannot be this reader's. */
static int foreign(int which, const char *text, size_t len, int whole) {
  if (which == 0) {
    if (memmem(text, len, "processor", 9) || memmem(text, len, "vendor_id", 9) || memmem(text, len, "model name", 10)) return 1;
    if (lines_agree(text, len, "MemTotal:", expected_mem, 0) != 0) return 1;
    if (whole && (len < 9 || memcmp(text, "MemTotal:", 9) != 0)) return 1;
  } else {
    if (memmem(text, len, "MemTotal", 8) || memmem(text, len, "MemFree", 7) || memmem(text, len, " kB\n", 4)) return 1;
    if (lines_agree(text, len, "processor\t: ", expected_cpus, 1) != 0) return 1;
    if (whole && count_lines(text, len, "processor\t: ") != expected_cpus) return 1;
  }
  return 0;
}

static void judge(struct counts *c, int which, const char *text, size_t len, int whole) {
  c->reads++;
  c->bytes += (long)len;
  if (foreign(which, text, len, whole)) {
    c->foreign++;
    c->foreign_bytes += (long)len;
    char detail[48];
    size_t n = len < 40 ? len : 40;
    for (size_t i = 0; i < n; i++) detail[i] = text[i] == '\n' || text[i] == '\t' ? ' ' : text[i];
    detail[n] = '\0';
    note("foreign", paths[which], detail);
  }
}

static void failed(struct counts *c, const char *what, int which) {
  c->errors++;
  note(what, paths[which], strerror(errno));
}

/* read() to EOF from fd after `have` bytes; -1 on error. */
static long read_rest(int fd, char *buf, long have) {
  for (;;) {
    ssize_t n = read(fd, buf + have, BUFFER - 1 - (size_t)have);
    if (n < 0) return -1;
    if (n == 0) return have;
    have += n;
  }
}

static void on_bus(int sig) {
  (void)sig;
  siglongjmp(on_sigbus, 1);
}

static void one_pass(struct counts *c, int which, char *buf) {
  int fd = open(paths[which], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed(c, "open", which);
  long got = -1;
  if (strcmp(mode, "read") == 0) {
    got = read_rest(fd, buf, 0);
  } else if (strcmp(mode, "readv") == 0) {
    struct iovec iov[3] = {{buf, 100}, {buf + 100, 1000}, {buf + 1100, 60000}};
    ssize_t n = readv(fd, iov, 3);
    got = n < 0 ? -1 : read_rest(fd, buf, n);
  } else if (strcmp(mode, "sendfile") == 0) {
    /* stat first, as stdio and most runtimes do: its size 0 must not become the splice's. */
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != 0) {
      close(fd);
      return failed(c, "fstat size", which);
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return failed(c, "pipe", which);
    long have = 0;
    int refused = 0;
    for (;;) {
      ssize_t n = splice(fd, NULL, pipefd[1], NULL, 65536, 0);
      if (n < 0) {
        if (errno == EINVAL && have == 0) refused = 1;
        else have = -1;
        break;
      }
      if (n == 0) break;
      ssize_t r = read(pipefd[0], buf + have, (size_t)n);
      if (r != n) {
        have = -1;
        break;
      }
      have += n;
    }
    close(pipefd[0]);
    close(pipefd[1]);
    if (refused) {
      c->refused++;
      have = read_rest(fd, buf, 0);
    }
    got = have;
  } else if (strcmp(mode, "mmap") == 0 || strcmp(mode, "mmap-shared") == 0) {
    char *map = mmap(NULL, MAP_BYTES, PROT_READ, strcmp(mode, "mmap") == 0 ? MAP_PRIVATE : MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      if (errno == ENODEV) c->refused++;
      else failed(c, "mmap", which);
      close(fd);
      return;
    }
    if (sigsetjmp(on_sigbus, 1) == 0) {
      long n = 0;
      while (n < MAP_BYTES && map[n] != '\0') n++;
      memcpy(buf, map, (size_t)n);
      got = n;
    } else {
      c->refused++;
      munmap(map, MAP_BYTES);
      close(fd);
      return;
    }
    munmap(map, MAP_BYTES);
  }
  close(fd);
  if (got < 0) return failed(c, "read", which);
  judge(c, which, buf, (size_t)got, 1);
}

/* pread from this thread on descriptors shared with the other threads: the whole file at 0
 * (which makes procview render it afresh), then a piece at another offset. */
static void pread_pass(struct counts *c, int which, int fd, char *buf, unsigned *seed) {
  ssize_t n = pread(fd, buf, BUFFER - 1, 0);
  if (n < 0) return failed(c, "pread", which);
  judge(c, which, buf, (size_t)n, 1);
  off_t at = (off_t)(rand_r(seed) % 3000);
  size_t size = 1 + (size_t)(rand_r(seed) % 2000);
  n = pread(fd, buf, size, at);
  if (n < 0) return failed(c, "pread", which);
  judge(c, which, buf, (size_t)n, 0);
}

static int shared_fd[2];

static void *worker(void *arg) {
  unsigned seed = (unsigned)(size_t)arg * 7919u + 1;
  struct counts c = {0};
  char *buf = malloc(BUFFER);
  while (now_us() < deadline) {
    for (int which = 0; which < 2; which++) {
      if (strcmp(mode, "pread") == 0) pread_pass(&c, which, shared_fd[which], buf, &seed);
      else one_pass(&c, which, buf);
    }
  }
  free(buf);
  pthread_mutex_lock(&report_lock);
  total_reads += c.reads;
  total_bytes += c.bytes;
  total_foreign += c.foreign;
  total_foreign_bytes += c.foreign_bytes;
  total_refused += c.refused;
  total_errors += c.errors;
  pthread_mutex_unlock(&report_lock);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s MODE SECONDS MEMINFO MEMTOTAL_KB CPUINFO CPUS [THREADS]\n", argv[0]);
    return 2;
  }
  mode = argv[1];
  deadline = now_us() + atoll(argv[2]) * 1000000LL;
  paths[0] = argv[3];
  expected_mem = atol(argv[4]);
  paths[1] = argv[5];
  expected_cpus = atol(argv[6]);
  int threads = argc > 7 ? atoi(argv[7]) : 1;
  signal(SIGBUS, on_bus);
  if (strcmp(mode, "pread") == 0) {
    for (int which = 0; which < 2; which++) {
      shared_fd[which] = open(paths[which], O_RDONLY | O_CLOEXEC);
      if (shared_fd[which] < 0) {
        perror(paths[which]);
        return 1;
      }
    }
  }
  pthread_t ids[64];
  if (threads < 1 || threads > 64) threads = 1;
  for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, worker, (void *)(size_t)i);
  for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
  printf("reads=%ld bytes=%ld foreign=%ld foreign_bytes=%ld refused=%ld errors=%ld first_problem=%s\n", total_reads, total_bytes,
         total_foreign, total_foreign_bytes, total_refused, total_errors, first_problem);
  return 0;
}
