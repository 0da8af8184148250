/*
 * A reader for the page-cache tests: reads one file in a loop through one read path and checks
 * that every text it gets is whole and one of the texts it may be (the candidates: the files
 * given, read once at the start).
 *
 * usage: cache-reader MODE SECONDS FILE CANDIDATE...
 *   MODE: read (open, read() to the end in 64 KiB pieces, close) | small (the same in 100-byte
 *   pieces) | sendfile (open, sendfile into a pipe until it returns 0, close; as busybox cat) |
 *   splice (open, splice into a pipe) | mmap (open, fstat, mmap the size, copy) | keep-read (one
 *   descriptor for the whole run, read again from offset 0 each time, as top does) |
 *   keep-sendfile (one descriptor, sendfile from offset 0 each time)
 * Prints one line:
 *   reads=N good=N bad=N errors=N retried=N texts=<distinct candidates seen> first_bad=<what>
 *   bad: a text that is none of the candidates (cut, padded, mixed, another container's);
 *   retried: EINTR, which the reader retries as programs do.
 * With CACHE_READER_DUMP=DIR, the first bad texts are written there whole (bad-N), for the
 * caller to tell what they are made of.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUFFER (1 << 20)
#define MAX_CANDIDATES 16

static char *candidates[MAX_CANDIDATES];
static size_t lengths[MAX_CANDIDATES];
static int ncandidates, seen[MAX_CANDIDATES];
static long reads, good, bad, errors, retried;
static char first_bad[512] = "-";
static sigjmp_buf on_sigbus;
static const char *dump_dir;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void load(const char *path, int i) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  candidates[i] = malloc(BUFFER);
  lengths[i] = fread(candidates[i], 1, BUFFER, f);
  fclose(f);
}

/* What a text that is none of the candidates looks like, for the report. */
static void describe(const char *text, size_t length) {
  if (strcmp(first_bad, "-") != 0) return;
  size_t nul = 0;
  for (size_t i = 0; i < length; i++) nul += text[i] == '\0';
  char head[64] = "", tail[64] = "";
  size_t h = length < 40 ? length : 40;
  size_t t = length < 40 ? length : 40;
  for (size_t i = 0; i < h + t; i++) {
    char c = i < h ? text[i] : text[length - t + (i - h)];
    char shown = c == '\n' ? '|' : c == '\0' ? '@' : c == ' ' ? '_' : c;
    if (i < h) head[i] = shown;
    else tail[i - h] = shown;
  }
  snprintf(first_bad, sizeof first_bad, "length=%zu,nul=%zu,head=%s,tail=%s", length, nul, head, tail);
}

static void judge(const char *text, size_t length) {
  reads++;
  for (int i = 0; i < ncandidates; i++) {
    if (length == lengths[i] && memcmp(text, candidates[i], length) == 0) {
      good++;
      seen[i] = 1;
      return;
    }
  }
  bad++;
  describe(text, length);
  if (dump_dir != NULL && bad <= 50) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bad-%ld", dump_dir, bad);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
      fwrite(text, 1, length, f);
      fclose(f);
    }
  }
}

static void failed(const char *what) {
  errors++;
  if (strcmp(first_bad, "-") == 0) snprintf(first_bad, sizeof first_bad, "%s:%s", what, strerror(errno));
}

/* Reads fd from where it is to the end, in pieces of `piece`; -1 on an error. */
static ssize_t read_all(int fd, char *buf, size_t piece) {
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, piece < BUFFER - got ? piece : BUFFER - got);
    if (n < 0 && errno == EINTR) {
      retried++;
      continue;
    }
    if (n < 0) return -1;
    if (n == 0) return (ssize_t)got;
    got += (size_t)n;
  }
}

/* Moves the file into a pipe with sendfile or splice and reads the pipe; -1 on an error. */
static ssize_t through_pipe(int fd, char *buf, int use_splice, int from_start) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  fcntl(p[1], F_SETPIPE_SZ, BUFFER);
  size_t got = 0;
  loff_t offset = 0;
  ssize_t result = 0;
  for (;;) {
    ssize_t n;
    if (use_splice) n = splice(fd, from_start ? &offset : NULL, p[1], NULL, BUFFER, 0);
    else n = sendfile(p[1], fd, from_start ? &offset : NULL, BUFFER);
    if (n < 0 && errno == EINTR) {
      retried++;
      continue;
    }
    if (n < 0) {
      result = -1;
      break;
    }
    if (n == 0) break;
    while (n > 0) {
      ssize_t r = read(p[0], buf + got, (size_t)n);
      if (r <= 0) break;
      got += (size_t)r;
      n -= r;
    }
  }
  close(p[0]);
  close(p[1]);
  return result < 0 ? -1 : (ssize_t)got;
}

static void sigbus(int sig) {
  (void)sig;
  siglongjmp(on_sigbus, 1);
}

/* The file through a mapping of the size fstat gives; -1 on an error (SIGBUS: EFAULT). */
static ssize_t mapped(int fd, char *buf) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -1;
  if (st.st_size <= 0 || st.st_size >= BUFFER) {
    errno = ERANGE;
    return -1;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return -1;
  volatile ssize_t n = -1;
  if (sigsetjmp(on_sigbus, 1) == 0) {
    memcpy(buf, map, (size_t)st.st_size);
    n = st.st_size;
  } else {
    errno = EFAULT;
  }
  munmap(map, (size_t)st.st_size);
  return n;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: cache-reader MODE SECONDS FILE CANDIDATE...\n");
    return 2;
  }
  const char *mode = argv[1], *file = argv[3];
  dump_dir = getenv("CACHE_READER_DUMP");
  long long deadline = now_ms() + (long long)(atof(argv[2]) * 1000);
  for (int i = 4; i < argc && ncandidates < MAX_CANDIDATES; i++) load(argv[i], ncandidates++);
  char *buf = malloc(BUFFER);
  signal(SIGBUS, sigbus);
  int kept = -1;
  if (strncmp(mode, "keep-", 5) == 0) kept = open(file, O_RDONLY | O_CLOEXEC);
  while (now_ms() < deadline) {
    int fd = kept >= 0 ? kept : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) {
        retried++;
        continue;
      }
      failed("open");
      continue;
    }
    ssize_t n = -1;
    if (strcmp(mode, "read") == 0) n = read_all(fd, buf, 65536);
    else if (strcmp(mode, "small") == 0) n = read_all(fd, buf, 100);
    else if (strcmp(mode, "sendfile") == 0) n = through_pipe(fd, buf, 0, 0);
    else if (strcmp(mode, "splice") == 0) n = through_pipe(fd, buf, 1, 0);
    else if (strcmp(mode, "keep-read") == 0) n = lseek(fd, 0, SEEK_SET) == 0 ? read_all(fd, buf, 65536) : -1;
    else if (strcmp(mode, "keep-sendfile") == 0) n = through_pipe(fd, buf, 0, 1);
    else if (strcmp(mode, "mmap") == 0) n = mapped(fd, buf);
    else {
      fprintf(stderr, "cache-reader: unknown mode %s\n", mode);
      return 2;
    }
    if (n < 0) failed(mode);
    else judge(buf, (size_t)n);
    if (kept < 0) close(fd);
  }
  int distinct = 0;
  for (int i = 0; i < ncandidates; i++) distinct += seen[i];
  printf("reads=%ld good=%ld bad=%ld errors=%ld retried=%ld texts=%d first_bad=%s\n", reads, good, bad, errors, retried, distinct,
         first_bad);
  return 0;
}
