/*
 * Handoff, the successor's side (--take-over; the other side and the messages are in
 * control.c). A keeper started on a mountpoint that a live procview keeper serves registers
 * with it and waits. When that keeper is told to stop (a DaemonSet's old pod being deleted,
 * systemd stopping the old unit), it sends its FUSE descriptors instead of unmounting; this
 * keeper starts its own serving process on them, says "serving" once it answers, and has it
 * re-queue (FUSE_NOTIFY_RESEND) whatever the old serving process leaves unanswered when it is
 * gone. The mount never loses its server, and no reader sees an error.
 *
 * If the old keeper goes away without handing over (killed), its mount is dead: this keeper
 * then starts the ordinary way (replaces the dead mount, brings back views in containers).
 */
#include "keeper.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_MS 5000

static unsigned long long field(const char *line, const char *name) {
  char key[32];
  snprintf(key, sizeof key, " %s=", name);
  const char *at = strstr(line, key);
  return at != NULL ? strtoull(at + strlen(key), NULL, 10) : 0;
}

static int read_answer(int fd, char *line, size_t size) {
  size_t length = 0;
  long long deadline = now_ms() + ANSWER_TIMEOUT_MS;
  while (length < size - 1) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long long left = deadline - now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) return -1;
    ssize_t n = read(fd, line + length, 1);
    if (n <= 0) return -1;
    if (line[length] == '\n') break;
    length++;
  }
  line[length] = '\0';
  return 0;
}

/* The names in "conns=a,b": which of our connections the descriptors are, in order. */
static int conns_named(struct keeper *k, const char *line, int *which, int max) {
  const char *at = strstr(line, " conns=");
  if (at == NULL) return 0;
  at += strlen(" conns=");
  int n = 0;
  while (*at != '\0' && *at != ' ' && *at != '\n' && n < max) {
    size_t length = strcspn(at, ", \n");
    which[n] = -1;
    for (int i = 0; i < k->nconns; i++)
      if (strlen(k->conns[i].name) == length && strncmp(k->conns[i].name, at, length) == 0) which[n] = i;
    if (which[n] < 0) fail("the keeper handing over holds a connection this keeper does not know (%.*s)", (int)length, at);
    n++;
    at += length;
    if (*at == ',') at++;
  }
  return n;
}

static void take(struct keeper *k, const char *line, int *fds, int nfds) {
  int which[MAX_CONNS];
  int named = conns_named(k, line, which, MAX_CONNS);
  int has_pidfd = field(line, "pidfd") == 1;
  if (named < 1 || which[0] != MAIN_CONN || nfds != named + has_pidfd)
    fail("the keeper handing over sent %d descriptors for %d connections", nfds, named);
  for (int i = 0; i < named; i++) k->conns[which[i]].fd = fds[i];
  k->predecessor_pidfd = has_pidfd ? fds[named] : -1;
  struct conn *containers = &k->conns[CONTAINERS_CONN];
  char fstype[64];
  if (containers->fd >= 0) containers->attached = find_fuse_mount(containers->mountpoint, &containers->mount_id, fstype, sizeof fstype);
  k->epoch = (int)field(line, "epoch") % MAX_EPOCH;
  k->restarts = (unsigned)field(line, "restarts");
  k->reloads = (unsigned)field(line, "reloads");
  k->hangs = (unsigned)field(line, "hangs");
  k->handoffs = (unsigned)field(line, "handoffs") + 1;
  k->restored = (unsigned)field(line, "restored");
  k->retired.opens = field(line, "opens");
  k->retired.rerendered = field(line, "rerendered");
  k->retired.render_failures = field(line, "failures");
  k->retired.hooks_served = field(line, "hooks");
  k->retired.fills = field(line, "fills");
  k->retired.invalidations = field(line, "invalidations");
  k->retired.tree_requests = field(line, "tree");
}

int await_handover(struct keeper *k, int sigfd) {
  int fd = connect_unix(k->control_path);
  if (fd < 0)
    fail("%s is a live FUSE mount, and no procview keeper answers on %s to hand it over (%s)", k->conns[0].mountpoint,
         k->control_path, strerror(errno));
  char line[LINE_MAX_BYTES];
  if (send_line(fd, "handoff\n") < 0 || read_answer(fd, line, sizeof line) < 0)
    fail("the keeper on %s did not answer a handoff request", k->control_path);
  if (strncmp(line, "wait ", 5) != 0) fail("the keeper on %s refused to hand %s over: %s", k->control_path, k->conns[0].mountpoint, line);
  logf_("waiting for the keeper (pid %s) to stop and hand %s over", line + 5, k->conns[0].mountpoint);
  for (;;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll: %s", strerror(errno));
    }
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      if (read(sigfd, &info, sizeof info) == (ssize_t)sizeof info &&
          (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT)) {
        logf_("%s while waiting to take over: exiting", sigabbrev_np((int)info.ssi_signo));
        exit(0);
      }
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      int fds[MAX_CONNS + 1];
      int nfds = 0;
      ssize_t n = recv_fds(fd, line, sizeof line, fds, MAX_CONNS + 1, &nfds);
      if (n <= 0) {
        logf_("the keeper went away without handing %s over", k->conns[0].mountpoint);
        close(fd);
        return 0;
      }
      if (strncmp(line, "takeover ", 9) != 0) continue;
      take(k, line, fds, nfds);
      k->predecessor_fd = fd;
      k->predecessor_len = 0;
      return 1;
    }
  }
}

/* The old keeper's serving process is gone (or the old keeper is): what it held is queued again. */
static void predecessor_finished(struct keeper *k) {
  if (k->predecessor_fd >= 0) close(k->predecessor_fd);
  if (k->predecessor_pidfd >= 0) close(k->predecessor_pidfd);
  k->predecessor_fd = -1;
  k->predecessor_pidfd = -1;
  send_resend(k);
  logf_("the previous keeper is gone; %s is ours alone", k->conns[0].mountpoint);
}

void on_predecessor(struct keeper *k) {
  if (k->predecessor_pidfd >= 0) {
    struct pollfd p = {.fd = k->predecessor_pidfd, .events = POLLIN};
    if (poll(&p, 1, 0) == 1) {
      /* Its serving process exited: resend now, do not wait for the keeper's "done". */
      close(k->predecessor_pidfd);
      k->predecessor_pidfd = -1;
      send_resend(k);
    }
  }
  if (k->predecessor_fd < 0) return;
  struct pollfd p = {.fd = k->predecessor_fd, .events = POLLIN};
  if (poll(&p, 1, 0) != 1) return;
  if (!fill(k->predecessor_fd, k->predecessor_buf, &k->predecessor_len, sizeof k->predecessor_buf)) {
    predecessor_finished(k);
    return;
  }
  char line[64];
  while (k->predecessor_fd >= 0 && next_line(k->predecessor_buf, &k->predecessor_len, line, sizeof line))
    if (strcmp(line, "done") == 0) predecessor_finished(k);
}

void successor_serving(struct keeper *k) {
  send_line(k->predecessor_fd, "serving\n");
}
