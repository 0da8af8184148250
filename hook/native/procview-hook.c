/*
 * procview-hook: the OCI hook's entry point, a thin client of procview's running serving process.
 *
 * Why C: the runtime starts the hook for every container, and a Node process needs ~50-75 ms
 * just to start (`node -e 0`, on a 2-CPU VM), more than the whole budget for the hook. The hook's logic
 * (validation of the OCI state and config.json, planning, probing, binding, the policy) stays
 * in TypeScript; it runs in the serving process, which is already running and warm. This
 * program only carries its arguments and stdin there and the answer back.
 *
 * When there is no serving process to ask (not running, being restarted, a socket that refuses
 * us, one that dies or stalls mid-request), the same work is done the slow way: this program
 * becomes `NODE BUNDLE ARGS...` (the Node hook) with the same arguments and the same stdin, so
 * a container never depends on procview being up, only on the hook's policy.
 *
 * usage: procview-hook --socket PATH --node NODE --bundle BUNDLE [--] [HOOK ARGS...]
 *
 * Request, over a unix stream socket: "PVH1", u32 length and bytes of our namespaces ("mnt:[N]
 * pid:[N]", from /proc/self/ns), u32 argument count, each argument as u32 length and bytes, u32
 * stdin length and bytes (all integers little-endian). The serving process answers only a client in its
 * own mount and pid namespaces, where the bundle path and the container pid in the state mean
 * the same thing to both. Reply: u32 exit code, u32 length and bytes of what to print on stderr.
 * Anything else from the serving process is treated as no answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_STATE (1u << 20)
#define MAX_ARGS 64
#define MAX_ARG_BYTES 4096
#define MAX_REPLY (64u * 1024)
/* The serving process answers within its own watchdog (8 s); past this we fall back, which leaves the
 * Node hook the rest of the runtime's 30 s hook timeout. */
#define REPLY_TIMEOUT_S 10

static char state[MAX_STATE + 1];
static size_t state_len;

static void die(const char *why) {
  fprintf(stderr, "procview-hook: %s\n", why);
  exit(1);
}

/* Become the Node hook, with the stdin already read handed over in a memfd. */
static void fallback(const char *node, const char *bundle, int nargs, char **args) {
  int fd = memfd_create("procview-hook-state", 0);
  if (fd < 0) die("no service, and cannot hand stdin to the Node hook (memfd_create failed)");
  size_t done = 0;
  while (done < state_len) {
    ssize_t n = write(fd, state + done, state_len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("no service, and cannot hand stdin to the Node hook (write failed)");
    }
    done += (size_t)n;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) die("no service, and cannot hand stdin to the Node hook");
  if (fd != 0) close(fd);
  char **argv = calloc((size_t)nargs + 3, sizeof *argv);
  if (argv == NULL) die("out of memory");
  argv[0] = (char *)node;
  argv[1] = (char *)bundle;
  for (int i = 0; i < nargs; i++) argv[2 + i] = args[i];
  execv(node, argv);
  fprintf(stderr, "procview-hook: no service, and cannot run the Node hook %s: %s\n", node, strerror(errno));
  exit(1);
}

static void put_u32(char **p, uint32_t v) {
  unsigned char *b = (unsigned char *)*p;
  b[0] = v & 0xff;
  b[1] = (v >> 8) & 0xff;
  b[2] = (v >> 16) & 0xff;
  b[3] = (v >> 24) & 0xff;
  *p += 4;
}

static uint32_t get_u32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* 0 when exactly len bytes arrived; -1 on EOF, error or timeout. */
static int read_all(int fd, unsigned char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* "mnt:[N] pid:[N]", or "" when /proc is unreadable (the serving process then does not answer). */
static void namespaces(char *out, size_t size) {
  char mnt[64], pid[64];
  ssize_t m = readlink("/proc/self/ns/mnt", mnt, sizeof mnt - 1);
  ssize_t p = readlink("/proc/self/ns/pid", pid, sizeof pid - 1);
  if (m <= 0 || p <= 0) {
    out[0] = '\0';
    return;
  }
  mnt[m] = '\0';
  pid[p] = '\0';
  snprintf(out, size, "%s %s", mnt, pid);
}

/* Returns the exit code the serving process decided, or -1 when there was no complete answer. */
static int ask(const char *socket_path, int nargs, char **args) {
  char ns[160];
  namespaces(ns, sizeof ns);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  size_t ns_len = strlen(ns);
  size_t size = 4 + 4 + ns_len + 4 + 4 + state_len;
  for (int i = 0; i < nargs; i++) size += 4 + strlen(args[i]);
  char *request = malloc(size);
  if (request == NULL) die("out of memory");
  char *p = request;
  memcpy(p, "PVH1", 4);
  p += 4;
  put_u32(&p, (uint32_t)ns_len);
  memcpy(p, ns, ns_len);
  p += ns_len;
  put_u32(&p, (uint32_t)nargs);
  for (int i = 0; i < nargs; i++) {
    size_t len = strlen(args[i]);
    put_u32(&p, (uint32_t)len);
    memcpy(p, args[i], len);
    p += len;
  }
  put_u32(&p, (uint32_t)state_len);
  memcpy(p, state, state_len);
  int sent = write_all(fd, request, size);
  free(request);
  if (sent != 0) {
    close(fd);
    return -1;
  }
  shutdown(fd, SHUT_WR);

  unsigned char head[8];
  if (read_all(fd, head, sizeof head) != 0) {
    close(fd);
    return -1;
  }
  uint32_t code = get_u32(head), len = get_u32(head + 4);
  if (code > 255 || len > MAX_REPLY) {
    close(fd);
    return -1;
  }
  unsigned char *text = malloc(len + 1);
  if (text == NULL) die("out of memory");
  if (read_all(fd, text, len) != 0) {
    close(fd);
    free(text);
    return -1;
  }
  close(fd);
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(2, text + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  free(text);
  return (int)code;
}

int main(int argc, char **argv) {
  const char *socket_path = NULL, *node = NULL, *bundle = NULL;
  int i = 1;
  for (; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--socket") == 0) socket_path = argv[i + 1];
    else if (strcmp(argv[i], "--node") == 0) node = argv[i + 1];
    else if (strcmp(argv[i], "--bundle") == 0) bundle = argv[i + 1];
    else break;
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  if (socket_path == NULL || node == NULL || bundle == NULL || node[0] != '/' || bundle[0] != '/') {
    fprintf(stderr, "usage: %s --socket PATH --node /abs/node --bundle /abs/procview-hook.mjs [--] [HOOK ARGS...]\n", argv[0]);
    return 2;
  }
  int nargs = argc - i;
  char **args = argv + i;
  if (nargs > MAX_ARGS) die("too many arguments");
  for (int k = 0; k < nargs; k++)
    if (strlen(args[k]) > MAX_ARG_BYTES) die("an argument is too long");

  for (;;) {
    if (state_len > MAX_STATE) break;
    ssize_t n = read(0, state + state_len, MAX_STATE + 1 - state_len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    state_len += (size_t)n;
  }
  /* Too big for us: the Node hook reads it again and refuses it with its own message. */
  if (state_len > MAX_STATE) state_len = MAX_STATE + 1;

  int code = state_len <= MAX_STATE ? ask(socket_path, nargs, args) : -1;
  if (code >= 0) return code;
  fallback(node, bundle, nargs, args);
  return 1;
}
