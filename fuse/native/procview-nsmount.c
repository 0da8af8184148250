/*
 * procview-nsmount: bind files into another process's mount namespace, in one process.
 *
 * Two uses. The OCI hook binds the eight views into a container being created: one exec of
 * this helper instead of sixteen of nsenter and mount. And after a full restart of procview,
 * running containers still hold bind mounts
 * of the old, dead FUSE connection ("Transport endpoint is not connected"). The new files
 * live in the host's mount namespace, which a container can no longer see after pivot_root,
 * so a classic mount(MS_BIND) from inside the container has no source. The new mount API
 * can: open_tree(OPEN_TREE_CLONE) makes a detached copy of the new file's mount while we are
 * still in the host namespace, setns() moves us into the container's namespace, and
 * move_mount() attaches the copy there. Node cannot make these calls, and setns() into a
 * mount namespace refuses a multi-threaded process, which Node always is.
 *
 * usage: procview-nsmount bind|replace PID[:MNTNS] SOURCE TARGET [SOURCE TARGET]...
 *   PID:    a process of the namespace; with :MNTNS (the namespace's inode, as discovery saw it
 *           in /proc/PID/ns/mnt) the namespace entered must be that one (a pid reused since by a
 *           process elsewhere is refused), and replace touches only dead views: a TARGET that
 *           does not fail with ENOTCONN is left as it is, and a namespace owned by a user
 *           namespace that is not root's (rootless containers) is not entered at all
 *   SOURCE: a path in our (host) namespace, e.g. /var/lib/procview/proc/meminfo
 *   TARGET: a path in PID's mount namespace, e.g. /proc/meminfo
 * bind:    attach SOURCE on each TARGET, all or nothing: on the first failure, the ones
 *          attached are detached again, and nothing already mounted is ever touched.
 * replace: for each pair, put SOURCE where the dead view on TARGET is; pairs are independent.
 *          The new mount goes beneath the dead one, which is then detached (MOVE_MOUNT_BENEATH,
 *          Linux 6.5+), so TARGET is never uncovered and no reader sees the container's own
 *          file in between; older kernels detach first and attach then.
 * Prints one line per pair: "ok TARGET" or "error TARGET: reason". Exit 0 when every pair
 * succeeded, 1 when any failed, 2 on a usage error or when the namespace cannot be entered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PAIRS 64

#ifndef NS_GET_USERNS
#define NS_GET_USERNS 0xb701
#endif
#ifndef NS_GET_OWNER_UID
#define NS_GET_OWNER_UID 0xb704
#endif

/* Whether TARGET is still a dead view: a dead FUSE connection answers ENOTCONN. */
static int still_dead(const char *target) {
  struct stat st;
  return stat(target, &st) != 0 && errno == ENOTCONN;
}

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200
#endif

int main(int argc, char **argv) {
  if (argc < 5 || (argc - 3) % 2 != 0 || (argc - 3) / 2 > MAX_PAIRS ||
      (strcmp(argv[1], "bind") != 0 && strcmp(argv[1], "replace") != 0)) {
    fprintf(stderr, "usage: %s bind|replace PID SOURCE TARGET [SOURCE TARGET]...\n", argv[0]);
    return 2;
  }
  int replace = strcmp(argv[1], "replace") == 0;
  argv++;
  argc--;
  char *end = NULL;
  long pid = strtol(argv[1], &end, 10);
  unsigned long long expected_ns = 0;
  if (*end == ':') {
    const char *ns_text = end + 1;
    expected_ns = strtoull(ns_text, &end, 10);
    if (end == ns_text || expected_ns == 0) end = argv[1]; /* refused below */
  }
  if (*argv[1] == '\0' || *end != '\0' || pid <= 0) {
    fprintf(stderr, "procview-nsmount: bad pid %s\n", argv[1]);
    return 2;
  }
  int checked = expected_ns != 0;
  int pairs = (argc - 2) / 2;
  int trees[MAX_PAIRS];

  /* Clone every source first: after setns the host's paths are out of reach. */
  for (int i = 0; i < pairs; i++) {
    const char *source = argv[2 + 2 * i];
    trees[i] = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (trees[i] < 0) {
      fprintf(stderr, "procview-nsmount: open_tree %s: %s\n", source, strerror(errno));
      return 2;
    }
  }

  char ns_path[64];
  snprintf(ns_path, sizeof ns_path, "/proc/%ld/ns/mnt", pid);
  int ns = open(ns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    fprintf(stderr, "procview-nsmount: %s: %s\n", ns_path, strerror(errno));
    return 2;
  }
  if (checked) {
    struct stat st;
    if (fstat(ns, &st) != 0 || (unsigned long long)st.st_ino != expected_ns) {
      fprintf(stderr, "procview-nsmount: %s is not mount namespace %llu any more (pid reused?)\n", ns_path, expected_ns);
      return 2;
    }
    /* Rootless containers' namespaces are their user's business, not root's to rewrite. */
    int userns = ioctl(ns, NS_GET_USERNS);
    uid_t owner = 0;
    if (userns < 0 || ioctl(userns, NS_GET_OWNER_UID, &owner) != 0) {
      fprintf(stderr, "procview-nsmount: the owner of %s: %s\n", ns_path, strerror(errno));
      return 2;
    }
    close(userns);
    if (owner != 0) {
      fprintf(stderr, "procview-nsmount: %s belongs to a user namespace of uid %u: not entered\n", ns_path, (unsigned)owner);
      return 2;
    }
  }
  if (setns(ns, CLONE_NEWNS) != 0) {
    fprintf(stderr, "procview-nsmount: setns into %s: %s\n", ns_path, strerror(errno));
    return 2;
  }

  int failed = 0;
  for (int i = 0; i < pairs; i++) {
    const char *target = argv[3 + 2 * i];
    if (replace && checked && !still_dead(target)) {
      printf("error %s: not a dead view (left as it is)\n", target);
      failed = 1;
      continue;
    }
    if (replace && move_mount(trees[i], "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) == 0) {
      if (umount2(target, MNT_DETACH) != 0) {
        printf("error %s: detaching the old view from over the new one: %s\n", target, strerror(errno));
        failed = 1;
      } else {
        printf("ok %s\n", target);
      }
      continue;
    }
    /* Not beneath (an older kernel, or nothing mounted there): the attach below, after the
     * detach. EINVAL from umount2: nothing mounted there (the view was already gone). */
    if (replace && umount2(target, MNT_DETACH) != 0 && errno != EINVAL) {
      printf("error %s: detaching the old view: %s\n", target, strerror(errno));
      failed = 1;
      continue;
    }
    if (move_mount(trees[i], "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      printf("error %s: attaching: %s\n", target, strerror(errno));
      failed = 1;
      if (replace) continue;
      /* bind: all or nothing. Undo what this run attached, newest first. */
      for (int j = i - 1; j >= 0; j--) {
        const char *done = argv[3 + 2 * j];
        if (umount2(done, MNT_DETACH) == 0) printf("undone %s\n", done);
        else printf("error %s: undoing: %s\n", done, strerror(errno));
      }
      return 1;
    }
    printf("ok %s\n", target);
  }
  return failed;
}
