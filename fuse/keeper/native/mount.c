/* The mount: finding what is on the mountpoint, mounting, detaching. mount(2) directly, with
 * the options `mount -i -t fuse.procview` passed before; the per-container tree with the new
 * mount API (fsopen, fsmount, move_mount), because it is mounted before it can be attached. */
#include "keeper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUSE_DEVICE "/dev/fuse"
/* fuse/kernel/mount.ts FSTYPE: what restore, status and the hook look for in mountinfo. */
#define FSTYPE "fuse.procview"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *text) {
  char *out = text;
  for (char *in = text; *in; in++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 3;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
}

/* Calls visit(id, mountpoint, fstype, arg) for each entry of our mountinfo, in its order. */
static void each_mount(void (*visit)(int, const char *, const char *, void *), void *arg) {
  FILE *file = fopen("/proc/self/mountinfo", "re");
  if (file == NULL) return;
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, file) > 0) {
    /* id parent major:minor root mountpoint options [optional...] - fstype source super */
    int id = 0;
    char mountpoint[4096];
    if (sscanf(line, "%d %*d %*s %*s %4095s", &id, mountpoint) != 2) continue;
    const char *dash = strstr(line, " - ");
    if (dash == NULL) continue;
    char fstype[64];
    if (sscanf(dash + 3, "%63s", fstype) != 1) continue;
    unescape(mountpoint);
    visit(id, mountpoint, fstype, arg);
  }
  free(line);
  fclose(file);
}

struct search {
  const char *dir;
  int id;
  char fstype[64];
};

static void match_dir(int id, const char *mountpoint, const char *fstype, void *arg) {
  struct search *s = arg;
  if (strcmp(mountpoint, s->dir) != 0) return;
  /* The last listed is the one on top. */
  s->id = strncmp(fstype, "fuse", 4) == 0 ? id : 0;
  snprintf(s->fstype, sizeof s->fstype, "%s", fstype);
}

int find_fuse_mount(const char *dir, int *mount_id, char *fstype, size_t fstype_size) {
  struct search s = {.dir = dir, .id = 0, .fstype = ""};
  each_mount(match_dir, &s);
  *mount_id = s.id;
  if (fstype != NULL) snprintf(fstype, fstype_size, "%s", s.fstype);
  return s.id != 0;
}

static void match_id(int id, const char *mountpoint, const char *fstype, void *arg) {
  (void)mountpoint;
  (void)fstype;
  int *wanted = arg;
  if (id == *wanted) *wanted = -1;
}

int mount_listed(int mount_id) {
  int wanted = mount_id;
  each_mount(match_id, &wanted);
  return wanted == -1;
}

/* A FUSE mount whose server is gone answers ENOTCONN at once to any request that reaches it.
 * stat() may never reach it (the root's attributes are cached for an hour once asked for);
 * statfs() always does. Asked from a child, so that a live server that does not answer
 * (stopped, deadlocked) cannot hold the keeper: no answer within 2 s counts as live. */
int connection_dead(const char *dir) {
  pid_t child = fork();
  if (child < 0) {
    struct stat st;
    return stat(dir, &st) < 0 && errno == ENOTCONN;
  }
  if (child == 0) {
    struct statfs fs;
    _exit(statfs(dir, &fs) < 0 && errno == ENOTCONN ? 1 : 0);
  }
  int status = 0;
  for (int waited = 0; waited < 2000; waited += 5) {
    pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) return WIFEXITED(status) && WEXITSTATUS(status) == 1;
    if (done < 0 && errno != EINTR) return 0;
    usleep(5000);
  }
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return 0;
}

/* The peer group of a mountinfo line ("shared:N" among its optional fields), 0 if none. */
static int peer_group_of_line(const char *line) {
  const char *dash = strstr(line, " - ");
  const char *shared = strstr(line, " shared:");
  return shared != NULL && (dash == NULL || shared < dash) ? atoi(shared + 8) : 0;
}

/* Calls visit(line, arg) for each line of a mountinfo file until one returns nonzero, and
 * returns that (0: none did, or the file could not be read: the process is gone). */
static int scan_mountinfo(const char *mountinfo, int (*visit)(const char *line, void *arg), void *arg) {
  FILE *file = fopen(mountinfo, "re");
  if (file == NULL) return 0;
  char *line = NULL;
  size_t size = 0;
  int found = 0;
  while (found == 0 && getline(&line, &size, file) > 0) found = visit(line, arg);
  free(line);
  fclose(file);
  return found;
}

static int group_of_id(const char *line, void *mount_id) {
  int id = 0;
  return sscanf(line, "%d", &id) == 1 && id == *(int *)mount_id ? peer_group_of_line(line) : 0;
}

static int in_group(const char *line, void *group) { return peer_group_of_line(line) == *(int *)group; }

/* Whether our mount with this id has peers (the same "shared:N") in another mount namespace:
 * a Kubernetes node's own copy of a mount made in a container through Bidirectional
 * propagation, from which the runtime binds views into containers. Processes we cannot see
 * (another pid namespace) are not looked at. */
int shared_elsewhere(int mount_id) {
  int group = scan_mountinfo("/proc/self/mountinfo", group_of_id, &mount_id);
  if (group == 0) return 0;
  char own[64] = "";
  if (readlink("/proc/self/ns/mnt", own, sizeof own - 1) < 0) return 0;
  DIR *proc = opendir("/proc");
  if (proc == NULL) return 0;
  char seen[64][64];
  int nseen = 0, found = 0;
  struct dirent *entry;
  while (!found && (entry = readdir(proc)) != NULL) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    char path[300], ns[64] = "";
    snprintf(path, sizeof path, "/proc/%s/ns/mnt", entry->d_name);
    if (readlink(path, ns, sizeof ns - 1) < 0 || strcmp(ns, own) == 0) continue;
    int known = 0;
    for (int i = 0; i < nseen && !known; i++) known = strcmp(seen[i], ns) == 0;
    if (known) continue;
    if (nseen < 64) snprintf(seen[nseen++], sizeof seen[0], "%s", ns);
    snprintf(path, sizeof path, "/proc/%s/mountinfo", entry->d_name);
    found = scan_mountinfo(path, in_group, &group);
  }
  closedir(proc);
  return found;
}

static int mkdirs(char *path) {
  for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    int made = mkdir(path, 0755);
    *slash = '/';
    if (made < 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

void prepare_mountpoint(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) fail("mountpoint %s is not a directory", dir);
    return;
  }
  if (errno == ENOTCONN) return; /* a dead FUSE mount: replaced below */
  if (errno != ENOENT) fail("cannot use mountpoint %s: %s", dir, strerror(errno));
  char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  if (mkdirs(path) < 0) fail("cannot create mountpoint %s: %s", dir, strerror(errno));
}

int open_fuse_device(void) {
  int fd = open(FUSE_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno == ENOENT) fail("%s does not exist: load the fuse module (modprobe fuse)", FUSE_DEVICE);
  if (errno == EACCES || errno == EPERM) fail("no permission to open %s: procview serve must run as root", FUSE_DEVICE);
  fail("cannot open %s: %s", FUSE_DEVICE, strerror(errno));
}

void mount_fuse(struct conn *conn) {
  char options[256];
  /* No default_permissions: the kernel would refresh a file's (never cached) attributes before
   * every open, one more round trip per read; every file is 0444 and OPEN refuses writers. */
  snprintf(options, sizeof options, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", conn->fd);
  if (mount("procview", conn->mountpoint, FSTYPE, 0, options) < 0)
    fail("mount of %s failed: %s", conn->mountpoint, strerror(errno));
  char fstype[64];
  if (!find_fuse_mount(conn->mountpoint, &conn->mount_id, fstype, sizeof fstype) || strcmp(fstype, FSTYPE) != 0)
    fail("mounted %s, but it is not listed in /proc/self/mountinfo", conn->mountpoint);
}

/* What mountinfo shows as the source of the per-container tree (restore tells its binds apart). */
#define CONTAINERS_SOURCE "procview-containers"
#define ATTACH_RETRY_MS 5000
#define ATTACH_ATTEMPTS 5

static void configure(int fs, const char *key, const char *value, struct conn *conn) {
  int done = value == NULL ? fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0) : fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0);
  if (done < 0) fail("mounting %s: option %s: %s", conn->mountpoint, key, strerror(errno));
}

void mount_detached(struct conn *conn) {
  /* The tree beneath (DIR/containers) is served by our own serving processes, which do not run
   * yet: a mount(2) there would wait for its lookup. fsmount makes the connection (and queues
   * its INIT) now; a child attaches it once the lookup can be answered. */
  int fs = fsopen("fuse", FSOPEN_CLOEXEC);
  if (fs < 0) fail("mounting %s: fsopen: %s", conn->mountpoint, strerror(errno));
  char fd[16];
  snprintf(fd, sizeof fd, "%d", conn->fd);
  configure(fs, "source", CONTAINERS_SOURCE, conn);
  configure(fs, "subtype", "procview", conn);
  configure(fs, "fd", fd, conn);
  configure(fs, "rootmode", "40000", conn);
  configure(fs, "user_id", "0", conn);
  configure(fs, "group_id", "0", conn);
  configure(fs, "allow_other", NULL, conn);
  /* Files are opened without asking the serving process (it answers OPEN with ENOSYS), so the
   * kernel must check the modes itself: slabinfo is 0400 as the kernel's. It refreshes the
   * attributes it checks once they are invalidated, so the next open learns a file's new size. */
  configure(fs, "default_permissions", NULL, conn);
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) fail("mounting %s: %s", conn->mountpoint, strerror(errno));
  conn->mount_fd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (conn->mount_fd < 0) fail("mounting %s: fsmount: %s", conn->mountpoint, strerror(errno));
  close(fs);
  conn->attached = 0;
}

void attach_start(struct keeper *k) {
  struct conn *conn = &k->conns[CONTAINERS_CONN];
  if (k->nconns <= CONTAINERS_CONN || conn->attached || conn->mount_fd < 0 || k->attach_pid > 0) return;
  if (k->attach_failures >= ATTACH_ATTEMPTS || now_ms() < k->attach_not_before) return;
  pid_t pid = fork();
  if (pid < 0) {
    logf_("cannot attach %s: fork: %s", conn->mountpoint, strerror(errno));
    return;
  }
  if (pid == 0) {
    /* A child, so that the keeper never waits on a lookup of its own mount. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (move_mount(conn->mount_fd, "", AT_FDCWD, conn->mountpoint, MOVE_MOUNT_F_EMPTY_PATH) == 0) _exit(0);
    dprintf(2, "procview[%d] attaching %s failed: %s\n", (int)getpid(), conn->mountpoint, strerror(errno));
    _exit(1);
  }
  k->attach_pid = pid;
}

int attach_exited(struct keeper *k, pid_t pid, int status) {
  if (pid != k->attach_pid || pid <= 0) return 0;
  k->attach_pid = 0;
  struct conn *conn = &k->conns[CONTAINERS_CONN];
  char fstype[64];
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && find_fuse_mount(conn->mountpoint, &conn->mount_id, fstype, sizeof fstype)) {
    conn->attached = 1;
    close(conn->mount_fd);
    conn->mount_fd = -1;
    logf_("per-container tree mounted at %s", conn->mountpoint);
  } else if (++k->attach_failures >= ATTACH_ATTEMPTS) {
    /* DIR/containers keeps the main tree's own copies, rendered per reader. */
    logf_("giving up attaching %s after %d attempts: containers are bound from the per-reader tree", conn->mountpoint,
          k->attach_failures);
  } else {
    k->attach_not_before = now_ms() + ATTACH_RETRY_MS;
  }
  k->status_dirty = 2;
  return 1;
}

int attach_settled(struct keeper *k) {
  if (k->nconns <= CONTAINERS_CONN) return 1;
  struct conn *conn = &k->conns[CONTAINERS_CONN];
  return conn->attached || conn->mount_fd < 0 || k->attach_failures >= ATTACH_ATTEMPTS;
}

void detach(const char *dir) {
  /* Lazy: a dead connection cannot answer the final sync a normal unmount would wait for. */
  if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) logf_("unmounting %s failed: %s", dir, strerror(errno));
}
