/* procview-keeper's entry: flags, the mount (fresh, or handed over), and the event loop.
 * See keeper.h for what the keeper is and its flags. */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define FSTYPE "fuse.procview"
#define TICK_MS 100

static void usage(void) {
  fail("usage: procview-keeper --mountpoint DIR --control-socket PATH --status-file PATH [--hook-socket PATH] "
       "[--watchdog-ms N] [--no-standby] [--take-over] -- COMMAND...");
}

static void parse(struct keeper *k, int argc, char **argv) {
  enum { MOUNTPOINT = 1, CONTROL, STATUS, HOOK, WATCHDOG, NO_STANDBY, TAKE_OVER };
  static const struct option options[] = {
      {"mountpoint", required_argument, NULL, MOUNTPOINT}, {"control-socket", required_argument, NULL, CONTROL},
      {"status-file", required_argument, NULL, STATUS},    {"hook-socket", required_argument, NULL, HOOK},
      {"watchdog-ms", required_argument, NULL, WATCHDOG},  {"no-standby", no_argument, NULL, NO_STANDBY},
      {"take-over", no_argument, NULL, TAKE_OVER},         {NULL, 0, NULL, 0},
  };
  const char *mountpoint = NULL;
  int option;
  while ((option = getopt_long(argc, argv, "+", options, NULL)) != -1) {
    char *end = NULL;
    switch (option) {
      case MOUNTPOINT: mountpoint = optarg; break;
      case CONTROL: k->control_path = optarg; break;
      case STATUS: k->status_path = optarg; break;
      case HOOK: k->hook_socket = optarg; break;
      case WATCHDOG:
        k->watchdog_ms = (int)strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || k->watchdog_ms < 0) usage();
        break;
      case NO_STANDBY: k->standby = 0; break;
      case TAKE_OVER: k->take_over = 1; break;
      default: usage();
    }
  }
  if (mountpoint == NULL || mountpoint[0] != '/' || k->control_path == NULL || k->status_path == NULL || optind >= argc) usage();
  k->command = argv + optind;
  k->command_len = argc - optind;
  k->nconns = 2;
  struct conn *main_conn = &k->conns[MAIN_CONN], *containers = &k->conns[CONTAINERS_CONN];
  snprintf(main_conn->name, sizeof main_conn->name, "main");
  snprintf(containers->name, sizeof containers->name, "containers");
  if (snprintf(main_conn->mountpoint, sizeof main_conn->mountpoint, "%s", mountpoint) >= (int)sizeof main_conn->mountpoint) usage();
  /* CONTAINERS_DIR in core/layout.ts. */
  if (snprintf(containers->mountpoint, sizeof containers->mountpoint, "%s%scontainers", mountpoint,
               strcmp(mountpoint, "/") == 0 ? "" : "/") >= (int)sizeof containers->mountpoint)
    usage();
  main_conn->fd = containers->fd = main_conn->mount_fd = containers->mount_fd = -1;
}

static void protect_from_oom_killer(void) {
  /* The kernel would otherwise pick whoever is largest; losing the keeper loses every view. */
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "-1000", 5) != 5) logf_("cannot protect the keeper from the OOM killer: %s", strerror(errno));
  if (fd >= 0) close(fd);
}

static void stop(struct keeper *k, const char *why) {
  if (why != NULL) logf_("%s: unmounting", why);
  k->stopping = 1;
  if (k->attach_pid > 0) kill(k->attach_pid, SIGKILL);
  /* The per-container tree first: it is mounted on the main one. */
  for (int i = k->nconns - 1; i >= 0; i--)
    if (i == MAIN_CONN || k->conns[i].attached) detach(k->conns[i].mountpoint);
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (k->children[i].role != FREE) kill(k->children[i].pid, SIGKILL);
  for (int i = 0; i < k->nconns; i++) {
    if (k->conns[i].fd >= 0) close(k->conns[i].fd);
    if (k->conns[i].mount_fd >= 0) close(k->conns[i].mount_fd);
  }
  /* Killed, a serving process cannot remove its socket: nothing should be left behind. */
  if (k->hook_socket != NULL) unlink(k->hook_socket);
  remove_control_socket(k);
  write_status(k, 1);
  logf_("unmounted %s", k->conns[0].mountpoint);
  exit(0);
}

static void on_signal(struct keeper *k, int sigfd) {
  struct signalfd_siginfo info;
  while (read(sigfd, &info, sizeof info) == (ssize_t)sizeof info) {
    int signo = (int)info.ssi_signo;
    if (signo == SIGCHLD) {
      int status;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        if (!attach_exited(k, pid, status)) on_child_exit(k, pid, status);
    } else if (signo == SIGHUP) {
      if (k->stopping || k->handing_over) continue;
      logf_("SIGHUP: replacing the serving process with the code installed now");
      k->reload_requested = 1;
      supervise(k);
    } else if (signo == SIGTERM || signo == SIGINT) {
      const char *name = signo == SIGTERM ? "SIGTERM" : "SIGINT";
      if (k->handing_over) continue;
      if (k->successor_fd >= 0) {
        logf_("%s: a successor is waiting", name);
        handover_begin(k);
        if (!k->handing_over) stop(k, name);
      } else {
        stop(k, name);
      }
    }
  }
}

static void loop(struct keeper *k, int sigfd) {
  long long last_tick = 0;
  for (;;) {
    struct pollfd p[4 + MAX_CHILDREN + MAX_CLIENTS + 3];
    void *owner[sizeof p / sizeof p[0]];
    int n = 0;
#define WATCH(fd_, who_)            \
  do {                              \
    p[n].fd = (fd_);                \
    p[n].events = POLLIN;           \
    p[n].revents = 0;               \
    owner[n++] = (void *)(who_);    \
  } while (0)
    WATCH(sigfd, &sigfd);
    if (k->listen_fd >= 0) WATCH(k->listen_fd, &k->listen_fd);
    if (watchdog_fd() >= 0) WATCH(watchdog_fd(), &last_tick);
    if (k->successor_fd >= 0) WATCH(k->successor_fd, &k->successor_fd);
    if (k->predecessor_fd >= 0) WATCH(k->predecessor_fd, &k->predecessor_fd);
    if (k->predecessor_pidfd >= 0) WATCH(k->predecessor_pidfd, &k->predecessor_fd);
    for (int i = 0; i < MAX_CHILDREN; i++)
      if (k->children[i].role != FREE && k->children[i].channel >= 0) WATCH(k->children[i].channel, &k->children[i]);
    for (int i = 0; i < MAX_CLIENTS; i++)
      if (k->clients[i].fd >= 0) WATCH(k->clients[i].fd, &k->clients[i]);
#undef WATCH
    long long wait = TICK_MS - (now_ms() - last_tick);
    if (poll(p, (nfds_t)n, wait < 0 ? 0 : (int)wait) < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      if (!p[i].revents) continue;
      void *who = owner[i];
      if (who == &sigfd) on_signal(k, sigfd);
      else if (who == &k->listen_fd) control_accept(k);
      else if (who == &last_tick) {
        /* Aborted (e.g. through fusectl): no serving process can ever answer on it again. */
        if (watchdog_done() == ENOTCONN && !k->handing_over) connection_aborted(k);
      }
      else if (who == &k->successor_fd) {
        if (k->successor_fd >= 0) on_successor(k);
      } else if (who == &k->predecessor_fd) on_predecessor(k);
      else if (who >= (void *)k->children && who < (void *)(k->children + MAX_CHILDREN)) {
        struct child *c = who;
        if (c->role != FREE && c->channel >= 0) on_channel(k, c);
      } else {
        struct client *cl = who;
        if (cl->fd >= 0) control_client(k, cl);
      }
    }
    if (k->stopping) stop(k, NULL);
    handover_progress(k);
    write_status(k, 0);
    if (now_ms() - last_tick >= TICK_MS) {
      last_tick = now_ms();
      struct child *serving = serving_child(k);
      if (!k->handing_over && watchdog_tick(k, serving)) {
        k->hangs++;
        logf_("serving process %d left a request unanswered for %d ms; replacing it", (int)serving->pid, k->watchdog_ms);
        kill_child(serving, 1);
      }
      check_deadlines(k);
      control_deadlines(k);
      if (k->stopping) stop(k, NULL);
      supervise(k);
      if (!k->handing_over && child_in(k, ACTIVE) != NULL) attach_start(k);
      restore_when_settled(k);
      write_status(k, 0);
    }
  }
}

int main(int argc, char **argv) {
  static struct keeper keeper;
  struct keeper *k = &keeper;
  k->standby = 1;
  k->watchdog_ms = 500;
  k->listen_fd = k->successor_fd = k->predecessor_fd = k->predecessor_pidfd = -1;
  for (int i = 0; i < MAX_CLIENTS; i++) k->clients[i].fd = -1;
  parse(k, argc, argv);
  /* Whatever our parent left open is not ours to pass on. */
  close_range(3, ~0U, 0);

  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigfd < 0) fail("signalfd: %s", strerror(errno));

  struct conn *conn = &k->conns[MAIN_CONN];
  prepare_mountpoint(conn->mountpoint);
  char fstype[64] = "";
  int mounted = find_fuse_mount(conn->mountpoint, &conn->mount_id, fstype, sizeof fstype);
  int handed = 0;
  if (mounted && !connection_dead(conn->mountpoint)) {
    if (!k->take_over)
      fail("%s is already a live FUSE mount (another procview or lxcfs serves it): stop it first, or start with --take-over "
           "to have the procview keeper serving it hand it over",
           conn->mountpoint);
    if (strcmp(fstype, FSTYPE) != 0) fail("%s is served by %s, not procview: nothing to take over", conn->mountpoint, fstype);
    handed = await_handover(k, sigfd);
    if (!handed) mounted = find_fuse_mount(conn->mountpoint, &conn->mount_id, fstype, sizeof fstype);
  }
  k->started_at = wall_ms();
  if (handed) {
    logf_("took %s over; keeper pid %d", conn->mountpoint, (int)getpid());
  } else {
    if (mounted && shared_elsewhere(conn->mount_id)) {
      /* Detached here, it would stay dead in the other namespaces (a Kubernetes node, which
       * binds containers' views from its copy); a mount over it propagates to each of them. */
      logf_("the stale FUSE mount left at %s by a server that died is shared with other mount namespaces: mounting over it, "
            "so that the new mount reaches them too",
            conn->mountpoint);
    } else if (mounted) {
      logf_("replacing the stale FUSE mount left at %s by a server that died", conn->mountpoint);
      detach(conn->mountpoint);
    }
    conn->fd = open_fuse_device();
    mount_fuse(conn);
    logf_("mounted at %s; keeper pid %d", conn->mountpoint, (int)getpid());
    /* Containers still holding views of a dead connection get them back once we serve. */
    k->restore_pending = 1;
  }
  struct conn *containers = &k->conns[CONTAINERS_CONN];
  if (containers->fd < 0) {
    /* A fresh mount, or a predecessor that had no per-container tree. */
    containers->fd = open_fuse_device();
    mount_detached(containers);
  }
  protect_from_oom_killer();
  control_listen(k);
  static const char *probed[3];
  probed[0] = conn->mountpoint;
  probed[1] = containers->mountpoint;
  if (k->watchdog_ms > 0 && watchdog_start(probed) < 0) logf_("no watchdog: %s", strerror(errno));
  supervise(k);
  write_status(k, 1);
  loop(k, sigfd);
}
