/*
 * The serving processes: one serves, one waits as a standby, and the keeper moves the role
 * between them. Every process starts as a standby (modules loaded, its serving threads waiting
 * at a gate: see fuse/server/serving-process.ts); when the serving one dies, hangs or is
 * replaced, the standby is told to serve and answers within milliseconds, while a new standby
 * starts behind it at a lower CPU priority so that it does not slow the readers down.
 *
 * Channel (fd 3 of a serving process), one line each way:
 *   keeper → serving:  activate | resend | restore
 *   serving → keeper:  standby | ready | stats OPENS RERENDERED FAILURES CONTAINERS HOOKS | restored N
 */
#include "keeper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A process loads at this nice value unless readers wait for it: the one serving them comes
 * first (a Node start on a busy 2-CPU machine otherwise shows as reader stalls). */
#define STANDBY_NICE 10
/* A standby is the first the kernel's OOM killer takes (the keeper is exempt, -1000). */
#define STANDBY_OOM_SCORE_ADJ "500"
#define RETIRE_GRACE_MS 10000 /* a retired process may finish a hook (the hook's watchdog is 8 s) */
#define START_TIMEOUT_MS 60000
#define ACTIVATE_TIMEOUT_MS 30000
/* More deaths than this within CRASH_WINDOW_MS: wait a second between starts. */
#define CRASH_DEATHS 5
#define CRASH_WINDOW_MS 10000

struct child *child_in(struct keeper *k, enum role role) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (k->children[i].role == role) return &k->children[i];
  return NULL;
}

/* The process requests go to: the one serving, or the one just told to. */
struct child *serving_child(struct keeper *k) {
  struct child *c = child_in(k, ACTIVE);
  return c != NULL ? c : child_in(k, ACTIVATING);
}

int children_alive(struct keeper *k) {
  int n = 0;
  for (int i = 0; i < MAX_CHILDREN; i++) n += k->children[i].role != FREE;
  return n;
}

static void write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) {
    /* the process is gone, or not ours to change: nothing to do */
  }
  close(fd);
}

/* nice is per thread in Linux: every thread of the process, and the threads they start later. */
static void renice(pid_t pid, int value) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *dir = opendir(path);
  if (dir == NULL) return;
  for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
    int tid = atoi(entry->d_name);
    if (tid > 0) setpriority(PRIO_PROCESS, (id_t)tid, value);
  }
  closedir(dir);
}

static void give_priority(struct child *c) {
  renice(c->pid, 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)c->pid);
  write_text(path, "0");
}

static struct child *spawn(struct keeper *k, int promote) {
  long long now = now_ms();
  if (now < k->spawn_not_before) return NULL;
  struct child *c = child_in(k, FREE);
  if (c == NULL) return NULL;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    logf_("cannot start a serving process: socketpair: %s", strerror(errno));
    return NULL;
  }
  k->epoch = k->epoch % MAX_EPOCH + 1;
  char epoch[16];
  snprintf(epoch, sizeof epoch, "%d", k->epoch);
  char *argv[k->command_len + 2];
  for (int i = 0; i < k->command_len; i++) argv[i] = k->command[i];
  argv[k->command_len] = epoch;
  argv[k->command_len + 1] = NULL;
  pid_t keeper = getpid();
  /* Nobody answers until this one does: no time to lose. */
  int urgent = serving_child(k) == NULL && k->predecessor_fd < 0;

  pid_t pid = fork();
  if (pid < 0) {
    logf_("cannot start a serving process: fork: %s", strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return NULL;
  }
  if (pid == 0) {
    /* fd 3: the channel; 4, 5, ...: the FUSE connections. Moved out of the way first, so that
     * no dup2 lands on a descriptor still to be moved. */
    int high = FIRST_CONN_FD + MAX_CONNS + 16;
    int channel = fcntl(sv[1], F_DUPFD_CLOEXEC, high);
    int conns[MAX_CONNS];
    for (int i = 0; i < k->nconns; i++) conns[i] = fcntl(k->conns[i].fd, F_DUPFD_CLOEXEC, high);
    if (channel < 0 || dup2(channel, CHANNEL_FD) < 0) _exit(127);
    for (int i = 0; i < k->nconns; i++)
      if (conns[i] < 0 || dup2(conns[i], FIRST_CONN_FD + i) < 0) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* Terminal signals go to the keeper alone, which decides what happens to its processes. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != keeper) _exit(1);
    write_text("/proc/self/oom_score_adj", STANDBY_OOM_SCORE_ADJ);
    if (!urgent) setpriority(PRIO_PROCESS, 0, STANDBY_NICE);
    execv(argv[0], argv);
    dprintf(2, "procview: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  fcntl(sv[0], F_SETFL, O_NONBLOCK);
  memset(c, 0, sizeof *c);
  c->role = STARTING;
  c->pid = pid;
  c->channel = sv[0];
  c->epoch = k->epoch;
  c->promote = promote;
  c->spawned_at = now;
  c->urgent = urgent;
  logf_("serving process %d started (%s)", (int)pid, promote ? "to serve" : "standby");
  k->status_dirty = 2;
  return c;
}

static void activate(struct keeper *k, struct child *c) {
  give_priority(c);
  if (send_line(c->channel, "activate\n") < 0) {
    logf_("cannot reach serving process %d: %s", (int)c->pid, strerror(errno));
    kill_child(c, 0);
    return;
  }
  c->role = ACTIVATING;
  c->promote = 0;
  c->active_at = now_ms();
  k->status_dirty = 2;
}

void kill_child(struct child *c, int hung) {
  kill(c->pid, SIGKILL);
  c->role = KILLED;
  c->hung = hung;
}

void retire_child(struct child *c) {
  /* SIGTERM lets it finish a hook under way (it then kills itself); SIGKILL if that lasts. */
  kill(c->pid, SIGTERM);
  c->role = RETIRING;
  c->retire_deadline = now_ms() + RETIRE_GRACE_MS;
}

void send_resend(struct keeper *k) {
  struct child *c = serving_child(k);
  if (c != NULL && c->channel >= 0) send_line(c->channel, "resend\n");
}

void supervise(struct keeper *k) {
  if (k->stopping || k->handing_over) return;
  if (k->reload_requested) {
    k->reload_requested = 0;
    /* Standbys run the code of their time: only a new process runs the code installed now. */
    for (int i = 0; i < MAX_CHILDREN; i++) {
      struct child *c = &k->children[i];
      if (c->role == STARTING || c->role == STANDBY) kill_child(c, 0);
    }
    struct child *serving = serving_child(k);
    k->reload_from = serving != NULL ? serving->pid : 0;
    struct child *next = spawn(k, 1);
    if (next != NULL) next->reload = 1;
    else reload_finished(k, "error no serving process can be started now (see the log)");
  }
  struct child *serving = serving_child(k);
  if (serving == NULL) {
    struct child *next = child_in(k, STANDBY);
    if (next != NULL) {
      activate(k, next);
    } else if ((next = child_in(k, STARTING)) != NULL) {
      next->promote = 1;
      if (!next->urgent) {
        next->urgent = 1; /* readers wait for it now */
        renice(next->pid, 0);
      }
    } else {
      spawn(k, 1);
    }
  }
  for (int i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &k->children[i];
    if (c->role == STANDBY && c->promote) activate(k, c);
  }
  if (k->standby && serving_child(k) != NULL && child_in(k, STARTING) == NULL && child_in(k, STANDBY) == NULL) spawn(k, 0);
}

static void became_active(struct keeper *k, struct child *c) {
  c->role = ACTIVE;
  for (int i = 0; i < MAX_CHILDREN; i++) {
    struct child *old = &k->children[i];
    if (old != c && (old->role == ACTIVE || old->role == ACTIVATING)) retire_child(old);
  }
  logf_("serving process %d serves (epoch %d)", (int)c->pid, c->epoch);
  if (c->reload) {
    c->reload = 0;
    k->reloads++;
    char answer[96];
    snprintf(answer, sizeof answer, "reloaded %d %d", (int)k->reload_from, (int)c->pid);
    reload_finished(k, answer);
  }
  if (k->restore_pending) send_line(c->channel, "restore\n");
  if (k->predecessor_fd >= 0) successor_serving(k);
  k->status_dirty = 2;
}

static void on_line(struct keeper *k, struct child *c, const char *line) {
  unsigned long long a, b, d, e, f;
  unsigned n;
  if (strcmp(line, "standby") == 0) {
    if (c->role == STARTING) c->role = STANDBY;
    k->status_dirty = 2;
  } else if (strcmp(line, "ready") == 0) {
    if (c->role == ACTIVATING) became_active(k, c);
  } else if (sscanf(line, "stats %llu %llu %llu %llu %llu", &a, &b, &d, &e, &f) == 5) {
    c->last = (struct counters){.opens = a, .rerendered = b, .render_failures = d, .hooks_served = f};
    c->containers = e;
    if (!k->status_dirty) k->status_dirty = 1;
  } else if (sscanf(line, "restored %u", &n) == 1) {
    k->restored += n;
    k->restore_pending = 0;
    k->status_dirty = 2;
  }
}

void on_channel(struct keeper *k, struct child *c) {
  if (!fill(c->channel, c->buf, &c->len, sizeof c->buf)) {
    close(c->channel); /* its exit follows */
    c->channel = -1;
  }
  char line[LINE_MAX_BYTES];
  while (next_line(c->buf, &c->len, line, sizeof line)) on_line(k, c, line);
  supervise(k);
}

static void describe(int status, char *text, size_t size) {
  if (WIFSIGNALED(status)) {
    const char *name = sigabbrev_np(WTERMSIG(status));
    if (name != NULL) snprintf(text, size, "SIG%s", name);
    else snprintf(text, size, "signal %d", WTERMSIG(status));
  } else {
    snprintf(text, size, "exit %d", WEXITSTATUS(status));
  }
}

static void count_death(struct keeper *k) {
  long long now = now_ms();
  int recent = 0;
  for (int i = 0; i < k->ndeaths; i++) recent += now - k->deaths[i] < CRASH_WINDOW_MS;
  k->deaths[k->ndeaths % 8] = now;
  if (k->ndeaths < 8) k->ndeaths++;
  /* A process that dies at once over and over (a broken install) must not spin the CPU;
   * readers keep waiting in the kernel's queue either way. */
  if (recent + 1 > CRASH_DEATHS) k->spawn_not_before = now + 1000;
}

void on_child_exit(struct keeper *k, pid_t pid, int status) {
  struct child *c = NULL;
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (k->children[i].role != FREE && k->children[i].pid == pid) c = &k->children[i];
  if (c == NULL) return;
  char how[48];
  describe(status, how, sizeof how);
  k->retired.opens += c->last.opens;
  k->retired.rerendered += c->last.rerendered;
  k->retired.render_failures += c->last.render_failures;
  k->retired.hooks_served += c->last.hooks_served;
  enum role role = c->role;
  int served = c->active_at != 0;
  int reload = c->reload;
  int promote = c->promote;
  if (c->channel >= 0) close(c->channel);
  memset(c, 0, sizeof *c);
  c->channel = -1;
  k->status_dirty = 2;
  if (k->stopping) return;

  if (role == ACTIVE || role == ACTIVATING) {
    /* A serving process exits 0 only when the device says the connection is gone: unmounted,
     * or aborted (which no serving process can ever answer on again). */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      if (mount_listed(k->conns[0].mount_id)) {
        connection_aborted(k);
      } else {
        logf_("%s was unmounted; stopping", k->conns[0].mountpoint);
        k->stopping = 1;
      }
      return;
    }
    if (reload && child_in(k, ACTIVE) != NULL) {
      /* The process a reload started died before serving: the old one serves on. */
      count_death(k);
      logf_("serving process %d, started by a reload, died before serving (%s)", (int)pid, how);
      reload_finished(k, "error the new serving process died before serving (see the log)");
    } else if (!k->handing_over) {
      k->restarts++;
      count_death(k);
      struct child *next = child_in(k, STANDBY);
      logf_("serving process %d died (%s); %s", (int)pid, how,
            next != NULL ? "the standby takes over" : k->spawn_not_before > now_ms() ? "starting another in 1 s" : "starting another");
    }
  } else if (role == STARTING || role == STANDBY) {
    count_death(k);
    if (reload) {
      logf_("serving process %d, started by a reload, died before serving (%s)", (int)pid, how);
      reload_finished(k, "error the new serving process died before serving (see the log)");
    } else if (promote && !k->handing_over) {
      /* Started to serve, since none of ours did: the one started next replaces it, a restart
       * as much as the death of one that served (a broken install shows as restarts that keep
       * counting, not as standbys dying). */
      k->restarts++;
      logf_("serving process %d died before serving (%s); %s", (int)pid, how,
            k->spawn_not_before > now_ms() ? "starting another in 1 s" : "starting another");
    } else {
      logf_("standby serving process %d died (%s)", (int)pid, how);
    }
  }
  /* Whatever it read from the kernel and never answered is queued again, for the process that
   * serves now (one being activated asks for it itself). */
  if (served) send_resend(k);
  supervise(k);
}

void connection_aborted(struct keeper *k) {
  logf_("the FUSE connection of %s was aborted; stopping", k->conns[0].mountpoint);
  k->stopping = 1;
}

void check_deadlines(struct keeper *k) {
  long long now = now_ms();
  for (int i = 0; i < MAX_CHILDREN; i++) {
    struct child *c = &k->children[i];
    if (c->role == RETIRING && now >= c->retire_deadline) {
      kill_child(c, 0);
    } else if (c->role == STARTING && now - c->spawned_at >= START_TIMEOUT_MS) {
      logf_("serving process %d did not start within %d s; killing it", (int)c->pid, START_TIMEOUT_MS / 1000);
      kill_child(c, 0);
    } else if (c->role == ACTIVATING && now - c->active_at >= ACTIVATE_TIMEOUT_MS) {
      logf_("serving process %d did not confirm serving within %d s; killing it", (int)c->pid, ACTIVATE_TIMEOUT_MS / 1000);
      kill_child(c, 1);
    }
  }
}
