/*
 * procview-keeper: the process that owns procview's FUSE mount and /dev/fuse descriptor and
 * supervises the serving processes (Node, which speak the FUSE protocol). It does nothing
 * else, so it has no reason to crash or to be upgraded, and it is small (~1 MiB resident): the
 * kernel keeps the mount alive while this process holds the descriptor.
 *
 * `procview serve --foreground` checks its flags in TypeScript and then becomes this program
 * (same pid). Flags (all but the command are set by `procview serve`):
 *
 *   --mountpoint DIR       where the views are mounted
 *   --control-socket PATH  root-only unix socket answering status, reload and handoff
 *   --status-file PATH     the last state written for `procview status` when nobody answers
 *   --hook-socket PATH     removed on a normal stop (a serving process listens there)
 *   --watchdog-ms N        replace a serving process that leaves a request unanswered this
 *                          long (0: off)
 *   --no-standby           no pre-started standby serving process
 *   --take-over            the mountpoint is served by a live keeper: have it hand over
 *   -- COMMAND...          the serving process; the keeper appends its epoch
 *
 * Serving processes start with fd 3 = a unix stream socket to the keeper (lines of text, see
 * serving.c and fuse/keeper/messages.ts), and fds 4, 5, ... = the FUSE connections in the
 * order the keeper holds them. Every process starts as a standby and serves only once told to.
 *
 * Two connections: the tree at --mountpoint (fd 4), whose files are rendered per reader, and
 * the per-container tree (fd 5), mounted on DIR/containers, whose files the kernel serves from
 * its page cache. A connection that answers OPEN with ENOSYS is spared OPEN for every file it
 * has, so the two kinds cannot share one.
 */
#ifndef PROCVIEW_KEEPER_H
#define PROCVIEW_KEEPER_H

#define _GNU_SOURCE
#include <stdint.h>
#include <sys/types.h>

/* FUSE connections the keeper holds: the tree at --mountpoint, and the per-container tree on
 * a mount of its own at --mountpoint/containers. */
#define MAX_CONNS 2
#define MAIN_CONN 0
#define CONTAINERS_CONN 1
#define CHANNEL_FD 3
#define FIRST_CONN_FD 4

#define MAX_CHILDREN 6
#define MAX_CLIENTS 8
#define LINE_MAX_BYTES 512
/* A handle number carries a 12-bit epoch (fuse/server/handle-store.ts). */
#define MAX_EPOCH 4095

struct conn {
  char name[16];
  char mountpoint[4096];
  int fd;
  /* Field 1 of our entry in /proc/self/mountinfo: the mount is still ours while it is listed. */
  int mount_id;
  /* The per-container tree is mounted detached (fsmount) when the keeper mounts, and attached
   * on its mountpoint by a child once the tree beneath answers a lookup there: -1 once attached. */
  int mount_fd;
  int attached;
};

enum role {
  FREE = 0,
  STARTING,   /* spawned, loading */
  STANDBY,    /* loaded, a serving thread waiting at its gate */
  ACTIVATING, /* told to serve, not yet confirmed */
  ACTIVE,     /* serving */
  RETIRING,   /* replaced (reload, handoff): SIGTERM sent, SIGKILL at retire_deadline */
  KILLED,     /* SIGKILL sent (watchdog, or a standby no longer wanted) */
};

struct counters {
  unsigned long long opens, rerendered, render_failures, hooks_served;
  /* The per-container tree: files filled into the page cache, invalidated, requests answered. */
  unsigned long long fills, invalidations, tree_requests;
};

struct child {
  enum role role;
  pid_t pid;
  int channel; /* our end; -1 once closed */
  int epoch;
  int promote;   /* activate as soon as it is a standby */
  int reload;    /* started by a reload: retire the active one once this one serves */
  int hung;      /* killed by the watchdog */
  int urgent;    /* started at full priority: nobody else serves */
  long long spawned_at, active_at, retire_deadline;
  struct counters last;
  unsigned long long containers;
  char buf[LINE_MAX_BYTES];
  size_t len;
};

struct client {
  int fd;
  long long deadline; /* a request line must arrive by then */
  int waiting_reload; /* asked for a reload; answered when it completes */
  char buf[64];
  size_t len;
};

struct keeper {
  /* configuration */
  const char *control_path, *status_path, *hook_socket;
  char **command;
  int command_len;
  int watchdog_ms;
  int standby;
  int take_over;

  struct conn conns[MAX_CONNS];
  int nconns;
  struct child children[MAX_CHILDREN];
  struct client clients[MAX_CLIENTS];
  int listen_fd;
  ino_t listen_ino; /* the control socket's inode, to remove only our own */

  int epoch;
  long long started_at;
  unsigned restarts, reloads, hangs, handoffs, restored;
  struct counters retired;
  int restore_pending;
  pid_t restore_to; /* the serving process asked to restore, until it answers */
  /* The child attaching the per-container tree (0: none), and when to try again after a failure. */
  pid_t attach_pid;
  long long attach_not_before;
  int attach_failures;
  int reload_requested;
  pid_t reload_from; /* the process a reload replaces (0: none served) */
  long long reload_deadline;
  long long spawn_not_before;
  long long deaths[8];
  int ndeaths;
  int stopping;

  /* Handoff, predecessor side: a successor keeper waiting for us to stop. */
  int successor_fd;
  pid_t successor_pid; /* as SO_PEERCRED gave it (0: unknown); shown in the status */
  int handing_over; /* fds sent; waiting for the successor's serving process, then ours to go */
  long long handover_deadline;
  char successor_buf[64];
  size_t successor_len;

  /* Handoff, successor side: the keeper we took over from, until its serving process is gone. */
  int predecessor_fd;
  int predecessor_pidfd;
  char predecessor_buf[64];
  size_t predecessor_len;

  int status_dirty; /* 1: counters changed; 2: processes changed */
  long long status_written_at;
};

/* util.c */
long long now_ms(void);
long long wall_ms(void);
void logf_(const char *format, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Appends what is readable on fd to buf; returns 0 on EOF or error, 1 otherwise. */
int fill(int fd, char *buf, size_t *len, size_t size);
/* Takes the next complete line out of buf (NUL-terminated in line); 0 when there is none. */
int next_line(char *buf, size_t *len, char *line, size_t size);
int write_all(int fd, const char *text, size_t length);
int send_line(int fd, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* sendmsg with SCM_RIGHTS. */
int send_fds(int fd, const char *text, const int *fds, int nfds);
/* recvmsg of one line with up to max_fds descriptors; returns the line's length, 0 on EOF, -1. */
ssize_t recv_fds(int fd, char *text, size_t size, int *fds, int max_fds, int *nfds);
/* A listening unix socket at path, mode 0600, made under a temporary name and renamed into place. */
int listen_unix(const char *path, ino_t *ino);
int connect_unix(const char *path);
/* The peer is root. */
int peer_is_root(int fd);

/* mount.c */
/* Is a FUSE mount on dir? Returns its mount id (or 0) and whether it answers (1), is dead (0). */
int find_fuse_mount(const char *dir, int *mount_id, char *fstype, size_t fstype_size);
int mount_listed(int mount_id);
int connection_dead(const char *dir);
int shared_elsewhere(int mount_id);
void prepare_mountpoint(const char *dir);
int open_fuse_device(void);
void mount_fuse(struct conn *conn);
/* The per-container tree's connection, mounted but not attached anywhere yet (conn->mount_fd). */
void mount_detached(struct conn *conn);
/* Starts the child that attaches the per-container tree, once a serving process answers. */
void attach_start(struct keeper *k);
/* Its exit. Returns 1 when pid was that child. */
int attach_exited(struct keeper *k, pid_t pid, int status);
/* The per-container tree is attached, or will not be: views may be restored. */
int attach_settled(struct keeper *k);
void detach(const char *dir);

/* serving.c */
void supervise(struct keeper *k);
void on_child_exit(struct keeper *k, pid_t pid, int status);
void on_channel(struct keeper *k, struct child *c);
void send_resend(struct keeper *k);
struct child *serving_child(struct keeper *k);
struct child *child_in(struct keeper *k, enum role role);
void kill_child(struct child *c, int hung);
void retire_child(struct child *c);
void check_deadlines(struct keeper *k);
/* Asks the serving process to restore dead views once both trees answer where containers bind from. */
void restore_when_settled(struct keeper *k);
/* Stops the keeper: the connection can never be answered on again (the next start restores). */
void connection_aborted(struct keeper *k);
int children_alive(struct keeper *k);

/* watchdog.c */
/* Probes every path given (the main tree, then the per-container tree; NULL-terminated). */
int watchdog_start(const char *const *paths);
/* Called on every tick: returns 1 when the serving process has left a probe unanswered too long. */
int watchdog_tick(struct keeper *k, struct child *serving);
/* A probe came back: its errno (0: answered; ENOTCONN: the connection is gone). */
int watchdog_done(void);
int watchdog_fd(void);

/* control.c */
void control_listen(struct keeper *k);
void control_accept(struct keeper *k);
void control_client(struct keeper *k, struct client *cl);
void control_deadlines(struct keeper *k);
void reload_finished(struct keeper *k, const char *answer);
void write_status(struct keeper *k, int force);
void remove_control_socket(struct keeper *k);
/* Predecessor side of a handoff. */
void handover_begin(struct keeper *k);
void on_successor(struct keeper *k);
void handover_progress(struct keeper *k);

/* successor.c */
/* Asks the keeper serving conns[0] to hand over when it stops; returns when it has (1) or it
 * is gone without handing over (0). Handles SIGTERM/SIGINT while waiting (exits 0). */
int await_handover(struct keeper *k, int sigfd);
void on_predecessor(struct keeper *k);
void successor_serving(struct keeper *k);

#endif
