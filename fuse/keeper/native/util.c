/* The keeper's small tools: clocks, log lines, line buffers, unix sockets, descriptor passing. */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void vlog(const char *format, va_list args) {
  char line[1024];
  int n = snprintf(line, sizeof line, "procview[%d] ", (int)getpid());
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, format, args);
  size_t length = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (length > sizeof line - 2) length = sizeof line - 2;
  line[length++] = '\n';
  write_all(2, line, length);
}

void logf_(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vlog(format, args);
  va_end(args);
}

/* One line, as every procview command reports a failure, and exit 1. */
void fail(const char *format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line - 1, format, args);
  va_end(args);
  size_t length = n < 0 ? 0 : (size_t)n;
  if (length > sizeof line - 2) length = sizeof line - 2;
  dprintf(2, "procview: %.*s\n", (int)length, line);
  exit(1);
}

int write_all(int fd, const char *text, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, text, length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    text += n;
    length -= (size_t)n;
  }
  return 0;
}

int send_line(int fd, const char *format, ...) {
  char line[LINE_MAX_BYTES];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n < 0 || (size_t)n >= sizeof line) return -1;
  /* MSG_NOSIGNAL: a peer that is gone is an error here, not a SIGPIPE. */
  ssize_t sent;
  do sent = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (sent < 0 && errno == EINTR);
  return sent == n ? 0 : -1;
}

int fill(int fd, char *buf, size_t *len, size_t size) {
  if (*len >= size) return 0; /* a line longer than the buffer: the peer is misbehaving */
  ssize_t n;
  do n = read(fd, buf + *len, size - *len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return 1;
  if (n <= 0) return 0;
  *len += (size_t)n;
  return 1;
}

int next_line(char *buf, size_t *len, char *line, size_t size) {
  char *newline = memchr(buf, '\n', *len);
  if (newline == NULL) return 0;
  size_t length = (size_t)(newline - buf);
  size_t copied = length < size - 1 ? length : size - 1;
  memcpy(line, buf, copied);
  line[copied] = '\0';
  *len -= length + 1;
  memmove(buf, newline + 1, *len);
  return 1;
}

int send_fds(int fd, const char *text, const int *fds, int nfds) {
  struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
  char control[CMSG_SPACE(sizeof(int) * (MAX_CONNS + 1))];
  memset(control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t sent;
  do sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return sent == (ssize_t)iov.iov_len ? 0 : -1;
}

ssize_t recv_fds(int fd, char *text, size_t size, int *fds, int max_fds, int *nfds) {
  struct iovec iov = {.iov_base = text, .iov_len = size - 1};
  char control[CMSG_SPACE(sizeof(int) * (MAX_CONNS + 1))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  *nfds = 0;
  if (n < 0) return -1;
  text[n] = '\0';
  for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(cmsg) + sizeof(int) * (size_t)i, sizeof got);
      if (*nfds < max_fds) fds[(*nfds)++] = got;
      else close(got);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (int i = 0; i < *nfds; i++) close(fds[i]);
    *nfds = 0;
    errno = EMSGSIZE;
    return -1;
  }
  return n;
}

static int address_of(const char *path, struct sockaddr_un *address) {
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof address->sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(address->sun_path, path);
  return 0;
}

int listen_unix(const char *path, ino_t *ino) {
  char temporary[sizeof((struct sockaddr_un *)0)->sun_path];
  struct sockaddr_un address;
  if (snprintf(temporary, sizeof temporary, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof temporary ||
      address_of(temporary, &address) < 0) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  unlink(temporary);
  /* The socket file gets mode 0600 at creation, whatever the umask we were started with: no
   * moment where anyone but root may connect. */
  mode_t old = umask(0177);
  int bound = bind(fd, (struct sockaddr *)&address, sizeof address);
  umask(old);
  struct stat st;
  if (bound < 0 || chmod(temporary, 0600) < 0 || stat(temporary, &st) < 0 || listen(fd, MAX_CLIENTS) < 0 ||
      rename(temporary, path) < 0) {
    int saved = errno;
    unlink(temporary);
    close(fd);
    errno = saved;
    return -1;
  }
  *ino = st.st_ino;
  return fd;
}

int connect_unix(const char *path) {
  struct sockaddr_un address;
  if (address_of(path, &address) < 0) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int peer_is_root(int fd) {
  struct ucred cred;
  socklen_t length = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 && cred.uid == 0;
}
