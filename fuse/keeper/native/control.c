/*
 * The control socket (--control-socket, root only: mode 0600 from its creation, and the peer's
 * uid checked), one request line per connection:
 *   status   → one line of JSON (fuse/keeper/status.ts KeeperStatusSchema), then close
 *   reload   → once a serving process running the code installed now serves:
 *              "reloaded OLD_PID NEW_PID", or "error REASON"
 *   handoff  → "wait KEEPER_PID"; the connection stays open, and when this keeper is told to
 *              stop it hands its FUSE descriptors over instead of unmounting (below)
 * Nothing here trusts a file: the status file is only what `procview status` shows when no
 * keeper answers.
 *
 * Handoff, this keeper's side (the successor's is successor.c):
 *   → "takeover epoch=E restarts=R reloads=L hangs=H handoffs=F restored=V opens=O
 *      rerendered=N failures=X hooks=K fills=P invalidations=I tree=T conns=main,containers pidfd=0|1"
 *      with SCM_RIGHTS: the FUSE descriptors in the order of conns, then a pidfd of our
 *      serving process if pidfd=1. A successor creates a connection its predecessor had not.
 *   ← "serving"   (the successor's own serving process answers requests)
 *   → "done"      (ours has finished what it had and is gone), and we exit without unmounting
 * Until "serving", our serving process keeps answering: readers never wait on the handoff.
 */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REQUEST_TIMEOUT_MS 2000
#define RELOAD_TIMEOUT_MS 20000
#define HANDOVER_TIMEOUT_MS 30000

static void ensure_dir_of(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) logf_("cannot create %s: %s", dir, strerror(errno));
}

void control_listen(struct keeper *k) {
  ensure_dir_of(k->control_path);
  k->listen_fd = listen_unix(k->control_path, &k->listen_ino);
  if (k->listen_fd < 0) logf_("cannot listen on %s: %s (procview status and reload will not reach this keeper)", k->control_path, strerror(errno));
}

void remove_control_socket(struct keeper *k) {
  struct stat st;
  /* Only our own: a successor may have put its socket on the path by now. */
  if (k->listen_fd >= 0 && stat(k->control_path, &st) == 0 && st.st_ino == k->listen_ino) unlink(k->control_path);
}

static void close_client(struct client *cl) {
  if (cl->fd >= 0) close(cl->fd);
  memset(cl, 0, sizeof *cl);
  cl->fd = -1;
}

void control_accept(struct keeper *k) {
  int fd = accept4(k->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  if (!peer_is_root(fd)) {
    close(fd);
    return;
  }
  for (int i = 0; i < MAX_CLIENTS; i++) {
    if (k->clients[i].fd >= 0) continue;
    memset(&k->clients[i], 0, sizeof k->clients[i]);
    k->clients[i].fd = fd;
    k->clients[i].deadline = now_ms() + REQUEST_TIMEOUT_MS;
    return;
  }
  send_line(fd, "error busy\n");
  close(fd);
}

/* JSON string or null. */
static void json_string(char *out, size_t size, const char *text) {
  if (text == NULL) {
    snprintf(out, size, "null");
    return;
  }
  size_t o = 0;
  out[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)text; *p && o + 8 < size; p++) {
    if (*p == '"' || *p == '\\') {
      out[o++] = '\\';
      out[o++] = (char)*p;
    } else if (*p < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", *p);
    } else {
      out[o++] = (char)*p;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
}

static long long rss_bytes(void) {
  FILE *file = fopen("/proc/self/statm", "re");
  long long size = 0, resident = 0;
  if (file != NULL) {
    if (fscanf(file, "%lld %lld", &size, &resident) != 2) resident = 0;
    fclose(file);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

static struct counters totals(struct keeper *k) {
  struct counters sum = k->retired;
  for (int i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &k->children[i];
    if (c->role == FREE) continue;
    sum.opens += c->last.opens;
    sum.rerendered += c->last.rerendered;
    sum.render_failures += c->last.render_failures;
    sum.hooks_served += c->last.hooks_served;
    sum.fills += c->last.fills;
    sum.invalidations += c->last.invalidations;
    sum.tree_requests += c->last.tree_requests;
  }
  return sum;
}

static void status_json(struct keeper *k, char *out, size_t size) {
  char mountpoint[8200], hook[8200], tree[8200];
  json_string(mountpoint, sizeof mountpoint, k->conns[MAIN_CONN].mountpoint);
  json_string(hook, sizeof hook, k->hook_socket);
  json_string(tree, sizeof tree, k->nconns > CONTAINERS_CONN && k->conns[CONTAINERS_CONN].attached ? k->conns[CONTAINERS_CONN].mountpoint : NULL);
  struct child *serving = k->stopping ? NULL : child_in(k, ACTIVE);
  struct child *standby = k->stopping ? NULL : child_in(k, STANDBY);
  if (standby == NULL && !k->stopping) standby = child_in(k, STARTING);
  char serving_pid[24] = "null", serving_since[24] = "null", standby_pid[24] = "null", successor_pid[24] = "null";
  if (serving != NULL) {
    snprintf(serving_pid, sizeof serving_pid, "%d", (int)serving->pid);
    snprintf(serving_since, sizeof serving_since, "%lld", wall_ms() - (now_ms() - serving->active_at));
  }
  if (standby != NULL) snprintf(standby_pid, sizeof standby_pid, "%d", (int)standby->pid);
  if (k->successor_fd >= 0 && k->successor_pid > 0) snprintf(successor_pid, sizeof successor_pid, "%d", (int)k->successor_pid);
  struct counters sum = totals(k);
  snprintf(out, size,
           "{\"mountPoint\":%s,\"keeperPid\":%d,\"keeperStartedAt\":%lld,\"keeperRssBytes\":%lld,"
           "\"servingPid\":%s,\"servingStartedAt\":%s,\"standbyPid\":%s,\"standbyReady\":%s,"
           "\"restarts\":%u,\"reloads\":%u,\"hangs\":%u,\"handoffs\":%u,\"restoredViews\":%u,"
           "\"opens\":%llu,\"rerendered\":%llu,\"renderFailures\":%llu,\"containers\":%llu,\"hooksServed\":%llu,"
           "\"hookSocket\":%s,\"watchdogMs\":%d,\"successorWaiting\":%s,\"successorPid\":%s,\"containerTree\":%s,"
           "\"fills\":%llu,\"invalidations\":%llu,\"treeRequests\":%llu,\"updatedAt\":%lld}",
           mountpoint, (int)getpid(), k->started_at, rss_bytes(), serving_pid, serving_since, standby_pid,
           standby != NULL && standby->role == STANDBY ? "true" : "false", k->restarts, k->reloads, k->hangs, k->handoffs,
           k->restored, sum.opens, sum.rerendered, sum.render_failures, serving != NULL ? serving->containers : 0ULL,
           sum.hooks_served, hook, k->watchdog_ms, k->successor_fd >= 0 ? "true" : "false", successor_pid, tree, sum.fills,
           sum.invalidations, sum.tree_requests, wall_ms());
}

void write_status(struct keeper *k, int force) {
  long long now = now_ms();
  /* A change of processes is written at once; counters at most once a second. */
  if (!force && (k->status_dirty == 0 || (k->status_dirty == 1 && now - k->status_written_at < 1000))) return;
  k->status_dirty = 0;
  k->status_written_at = now;
  char json[32768];
  status_json(k, json, sizeof json);
  size_t length = strlen(json);
  json[length++] = '\n';
  ensure_dir_of(k->status_path);
  char temporary[4200];
  snprintf(temporary, sizeof temporary, "%s.%d.tmp", k->status_path, (int)getpid());
  /* 0644 whatever the umask: readable by all, written by root alone. */
  int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 || fchmod(fd, 0644) < 0 || write_all(fd, json, length) < 0 || close(fd) < 0 || rename(temporary, k->status_path) < 0) {
    logf_("cannot write %s: %s", k->status_path, strerror(errno));
    if (fd >= 0) close(fd);
    unlink(temporary);
  }
}

void reload_finished(struct keeper *k, const char *answer) {
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *cl = &k->clients[i];
    if (cl->fd < 0 || !cl->waiting_reload) continue;
    send_line(cl->fd, "%s\n", answer);
    close_client(cl);
  }
}

static void on_request(struct keeper *k, struct client *cl, const char *line) {
  if (strcmp(line, "status") == 0) {
    char json[32768];
    status_json(k, json, sizeof json);
    size_t length = strlen(json);
    json[length++] = '\n';
    /* Small enough for the socket buffer: written at once. */
    if (write_all(cl->fd, json, length) < 0) logf_("answering status: %s", strerror(errno));
    close_client(cl);
  } else if (strcmp(line, "reload") == 0) {
    if (k->stopping || k->handing_over) {
      send_line(cl->fd, "error the keeper is stopping\n");
      close_client(cl);
      return;
    }
    logf_("reload: replacing the serving process with the code installed now");
    int under_way = 0;
    for (int i = 0; i < MAX_CHILDREN; i++) under_way |= k->children[i].role != FREE && k->children[i].reload;
    if (!under_way) k->reload_requested = 1;
    cl->waiting_reload = 1;
    cl->deadline = now_ms() + RELOAD_TIMEOUT_MS;
    supervise(k);
  } else if (strcmp(line, "handoff") == 0) {
    if (k->successor_fd >= 0 || k->handing_over || k->stopping) {
      send_line(cl->fd, "error another keeper is already waiting to take over\n");
      close_client(cl);
      return;
    }
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) < 0) cred.pid = 0;
    send_line(cl->fd, "wait %d\n", (int)getpid());
    k->successor_fd = cl->fd;
    k->successor_pid = cred.pid;
    k->successor_len = 0;
    cl->fd = -1;
    close_client(cl);
    logf_("a keeper (pid %d) waits to take %s over when this one stops", (int)cred.pid, k->conns[0].mountpoint);
    k->status_dirty = 2;
  } else {
    send_line(cl->fd, "error unknown request\n");
    close_client(cl);
  }
}

void control_client(struct keeper *k, struct client *cl) {
  if (!fill(cl->fd, cl->buf, &cl->len, sizeof cl->buf)) {
    close_client(cl);
    return;
  }
  char line[64];
  if (!cl->waiting_reload && next_line(cl->buf, &cl->len, line, sizeof line)) on_request(k, cl, line);
}

void control_deadlines(struct keeper *k) {
  long long now = now_ms();
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *cl = &k->clients[i];
    if (cl->fd < 0 || now < cl->deadline) continue;
    if (cl->waiting_reload) send_line(cl->fd, "error the reload did not finish within %d s\n", RELOAD_TIMEOUT_MS / 1000);
    close_client(cl);
  }
  if (k->handing_over && now >= k->handover_deadline) {
    logf_("the successor did not take over within %d s", HANDOVER_TIMEOUT_MS / 1000);
    close(k->successor_fd);
    k->successor_fd = -1;
    k->handing_over = 0;
    k->stopping = 1;
  }
}

void handover_begin(struct keeper *k) {
  k->handing_over = 1;
  k->handover_deadline = now_ms() + HANDOVER_TIMEOUT_MS;
  for (int i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &k->children[i];
    if (c->role == STARTING || c->role == STANDBY) kill_child(c, 0);
  }
  struct child *serving = serving_child(k);
  int pidfd = serving != NULL ? (int)syscall(SYS_pidfd_open, serving->pid, 0) : -1;
  struct counters sum = totals(k);
  char line[LINE_MAX_BYTES];
  char conns[64] = "";
  /* Only connections that are mounted somewhere: a per-container tree still detached is the
   * successor's to make. */
  int nconns = k->nconns > CONTAINERS_CONN && !k->conns[CONTAINERS_CONN].attached ? CONTAINERS_CONN : k->nconns;
  for (int i = 0; i < nconns; i++) {
    strncat(conns, i ? "," : "", sizeof conns - strlen(conns) - 1);
    strncat(conns, k->conns[i].name, sizeof conns - strlen(conns) - 1);
  }
  snprintf(line, sizeof line,
           "takeover epoch=%d restarts=%u reloads=%u hangs=%u handoffs=%u restored=%u opens=%llu rerendered=%llu failures=%llu "
           "hooks=%llu fills=%llu invalidations=%llu tree=%llu conns=%s pidfd=%d\n",
           k->epoch, k->restarts, k->reloads, k->hangs, k->handoffs, k->restored, sum.opens, sum.rerendered, sum.render_failures,
           sum.hooks_served, sum.fills, sum.invalidations, sum.tree_requests, conns, pidfd >= 0);
  int fds[MAX_CONNS + 1];
  int nfds = 0;
  for (int i = 0; i < nconns; i++) fds[nfds++] = k->conns[i].fd;
  if (pidfd >= 0) fds[nfds++] = pidfd;
  int sent = send_fds(k->successor_fd, line, fds, nfds);
  if (pidfd >= 0) close(pidfd);
  if (sent < 0) {
    logf_("handing %s over failed: %s", k->conns[0].mountpoint, strerror(errno));
    close(k->successor_fd);
    k->successor_fd = -1;
    k->handing_over = 0;
    k->stopping = 1;
    return;
  }
  logf_("handing %s over to the keeper waiting for it; serving until its serving process answers", k->conns[0].mountpoint);
}

static void handover_abandoned(struct keeper *k, const char *why) {
  logf_("%s", why);
  close(k->successor_fd);
  k->successor_fd = -1;
  if (k->handing_over) {
    k->handing_over = 0;
    k->stopping = 1; /* we were told to stop: do it the ordinary way */
  }
  k->status_dirty = 2;
}

void on_successor(struct keeper *k) {
  if (!fill(k->successor_fd, k->successor_buf, &k->successor_len, sizeof k->successor_buf)) {
    handover_abandoned(k, k->handing_over ? "the successor keeper went away during the handoff" : "the keeper waiting to take over went away");
    return;
  }
  char line[64];
  while (k->successor_fd >= 0 && next_line(k->successor_buf, &k->successor_len, line, sizeof line)) {
    if (strcmp(line, "serving") != 0 || !k->handing_over) continue;
    logf_("the successor serves %s; retiring ours", k->conns[0].mountpoint);
    for (int i = 0; i < MAX_CHILDREN; i++) {
      struct child *c = &k->children[i];
      if (c->role == ACTIVE || c->role == ACTIVATING) retire_child(c);
      else if (c->role == STARTING || c->role == STANDBY) kill_child(c, 0);
    }
    k->handing_over = 2;
  }
}

void handover_progress(struct keeper *k) {
  if (k->handing_over != 2 || children_alive(k) > 0) return;
  send_line(k->successor_fd, "done\n");
  /* The successor holds the descriptors, the control socket's path and the hook socket's now:
   * nothing of ours to unmount or remove. */
  logf_("handed %s over; exiting", k->conns[0].mountpoint);
  exit(0);
}
