/*
 * last-page FILE: the moves of a reader that leaves a per-container file's size raised, then
 * maps the last page that size covers (what a hostile tenant may do to the serving thread).
 * Opens FILE, asks for a readahead of its first page that nobody reads after
 * (POSIX_FADV_WILLNEED), prints the size the kernel holds once the readahead moved it
 * ("size N", AT_STATX_DONT_SYNC), waits for a line on stdin, then maps the page at 2^40 - 4096
 * through the same descriptor and reads a byte of it: prints "sigbus" or "byte N".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static sigjmp_buf jump;
static void on_sigbus(int sig) {
  (void)sig;
  siglongjmp(jump, 1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: last-page FILE\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  {
    int err = posix_fadvise(fd, 0, 4096, POSIX_FADV_WILLNEED);
    if (err != 0) fprintf(stderr, "posix_fadvise: %s\n", strerror(err));
    /* The readahead is answered asynchronously: the size it leaves, once it moved (3 s at most). */
    struct statx st;
    unsigned long long first = 0;
    for (int i = 0; i < 300; i++) {
      if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_SIZE, &st) != 0) {
        perror("statx");
        return 1;
      }
      if (i == 0) first = st.stx_size;
      else if (st.stx_size != first) break;
      usleep(10000);
    }
    printf("size %llu\n", (unsigned long long)st.stx_size);
    fflush(stdout);
  }
  char line[16];
  if (fgets(line, sizeof line, stdin) == NULL) return 1;
  off_t last = ((off_t)1 << 40) - 4096;
  volatile unsigned char *page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, last);
  if (page == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  signal(SIGBUS, on_sigbus);
  if (sigsetjmp(jump, 1) != 0) {
    printf("sigbus\n");
    return 0;
  }
  printf("byte %d\n", page[0]);
  return 0;
}
