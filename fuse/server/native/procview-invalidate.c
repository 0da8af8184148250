/*
 * procview-invalidate.node: the invalidation thread of the per-container tree. It does one thing:
 * at the time the tree's serving thread set for each file it filled into the kernel's page cache,
 * tell the kernel to forget the file (FUSE_NOTIFY_INVAL_INODE: its attributes and every cached
 * page), and say back which files it invalidated. See fuse/server/invalidation.ts for the shared
 * memory it works on (flags per slot, a ring of what is due, a ring of what is done) and
 * fuse/server/container-tree.ts for why.
 *
 * A native thread rather than a Node worker: a worker costs its own JavaScript heap (6-8 MiB in
 * the serving process, and as much again in the standby) to run a loop that never allocates.
 * It shares the serving thread's typed arrays (their SharedArrayBuffers stay referenced by the
 * process's main thread for its whole life) and works on them with the same sequentially
 * consistent atomics JavaScript's Atomics use. It sleeps on a futex on the due ring's write
 * counter; the serving thread wakes it (wake()) when it queues a file due before the time the
 * thread sleeps until.
 *
 * exports.start(fd, control, flags, heldUntil, dueTimes, dueSlots, doneInodes, doneSlots,
 *               sleepUntil, invalidations): starts the thread (one per process; the typed arrays
 *               are views of invalidation.ts's buffers, invalidations a one-cell view of the
 *               stats counter it bumps);
 * exports.wake(): wakes it, if started;
 * exports.stop(): ends it and waits for it (tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "node-api.h"

/* invalidation.ts: control cells and flags. */
enum { DUE_WRITTEN = 0, DUE_READ = 1, DONE_WRITTEN = 2, DONE_READ = 3, SLEEPING = 4, CONTROL_CELLS = 5 };
enum { QUEUED = 1, HELD = 2, NOTIFYING = 4 };
/* How soon a file left alone while held is looked at again (ms). */
#define HOLD_RETRY_MS 2.0
/* The kernel's FUSE_NOTIFY_INVAL_INODE: an out header with unique 0, the code in its error field. */
#define FUSE_NOTIFY_INVAL_INODE 2

struct inval_message {
  uint32_t len;
  int32_t code;
  uint64_t unique;
  uint64_t ino;
  int64_t offset;
  int64_t length;
};

struct due {
  double deadline;
  double inode;
  int32_t slot;
};

static struct {
  int fd;
  int32_t slots;
  int32_t *control, *flags, *due_slots, *done_slots, *invalidations;
  double *held_until, *due_times, *done_inodes, *sleep_until;
  struct due *heap;
  int32_t heap_size;
  int stop;
  int running;
  pthread_t thread;
} inv;

static int32_t load(int32_t *cell) { return __atomic_load_n(cell, __ATOMIC_SEQ_CST); }
static void store(int32_t *cell, int32_t value) { __atomic_store_n(cell, value, __ATOMIC_SEQ_CST); }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void push(struct due item) {
  int32_t i = inv.heap_size++;
  inv.heap[i] = item;
  while (i > 0) {
    int32_t parent = (i - 1) / 2;
    if (inv.heap[parent].deadline <= inv.heap[i].deadline) break;
    struct due swap = inv.heap[parent];
    inv.heap[parent] = inv.heap[i];
    inv.heap[i] = swap;
    i = parent;
  }
}

static struct due pop(void) {
  struct due first = inv.heap[0];
  inv.heap[0] = inv.heap[--inv.heap_size];
  for (int32_t i = 0;;) {
    int32_t left = 2 * i + 1, right = left + 1, least = i;
    if (left < inv.heap_size && inv.heap[left].deadline < inv.heap[least].deadline) least = left;
    if (right < inv.heap_size && inv.heap[right].deadline < inv.heap[least].deadline) least = right;
    if (least == i) break;
    struct due swap = inv.heap[least];
    inv.heap[least] = inv.heap[i];
    inv.heap[i] = swap;
    i = least;
  }
  return first;
}

/* Moves what the serving thread queued, up to `written`, into the heap. A slot is queued at
 * most once at a time, and a held file goes back in only after it came out: the heap never
 * holds more than `slots` entries. */
static void drain(int32_t written) {
  uint32_t read = (uint32_t)load(&inv.control[DUE_READ]);
  while (read != (uint32_t)written && inv.heap_size < inv.slots) {
    uint32_t index = read % (uint32_t)inv.slots;
    int32_t slot = load(&inv.due_slots[index]);
    struct due item = {inv.due_times[2 * index + 1], inv.due_times[2 * index], slot};
    push(item);
    read++;
  }
  store(&inv.control[DUE_READ], (int32_t)read);
}

/* Claims a due file: NOTIFYING set, QUEUED and HELD cleared; 0 while it is held. */
static int claim(int32_t slot, double now) {
  for (;;) {
    int32_t flags = load(&inv.flags[slot]);
    if ((flags & HELD) && now < inv.held_until[slot]) return 0;
    int32_t claimed = (flags | NOTIFYING) & ~QUEUED & ~HELD;
    if (__atomic_compare_exchange_n(&inv.flags[slot], &flags, claimed, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return 1;
  }
}

static void finish(struct due item) {
  __atomic_fetch_and(&inv.flags[item.slot], ~NOTIFYING, __ATOMIC_SEQ_CST);
  uint32_t at = (uint32_t)load(&inv.control[DONE_WRITTEN]);
  uint32_t index = at % (uint32_t)inv.slots;
  inv.done_inodes[index] = item.inode;
  store(&inv.done_slots[index], item.slot);
  store(&inv.control[DONE_WRITTEN], (int32_t)(at + 1));
}

/* 1 when the kernel was told, 0 when there was nothing to tell, -errno when the connection is
 * gone (ENODEV: unmounted or aborted; EBADF: its descriptor closed), which ends the thread. */
static int invalidate(double inode) {
  struct inval_message message = {sizeof message, FUSE_NOTIFY_INVAL_INODE, 0, (uint64_t)inode, 0, 0};
  for (;;) {
    if (write(inv.fd, &message, sizeof message) >= 0) return 1;
    if (errno == EINTR) continue;
    /* The kernel holds no inode of that number: nothing to forget. */
    if (errno == ENOENT) return 0;
    if (errno == ENODEV || errno == EBADF) return -errno;
    char line[160];
    int n = snprintf(line, sizeof line, "procview[%d/invalidation] invalidating node %.0f failed: %s\n", (int)getpid(), inode, strerror(errno));
    if (n > 0 && write(2, line, (size_t)n) < 0) return 0;
    return 0;
  }
}

/* Sleeps until the due ring moves past `seen`, a wake(), or `until` (ms since the epoch). */
static void sleep_until(int32_t seen, double until) {
  /* Read by the serving thread while this one may write it: stored whole. */
  uint64_t bits;
  memcpy(&bits, &until, sizeof bits);
  __atomic_store_n((uint64_t *)inv.sleep_until, bits, __ATOMIC_SEQ_CST);
  store(&inv.control[SLEEPING], 1);
  struct timespec timeout, *wait = NULL;
  if (isfinite(until)) {
    double ms = until - now_ms();
    if (ms < 0) ms = 0;
    timeout.tv_sec = (time_t)(ms / 1000.0);
    timeout.tv_nsec = (long)((ms - (double)timeout.tv_sec * 1000.0) * 1e6);
    wait = &timeout;
  }
  syscall(SYS_futex, &inv.control[DUE_WRITTEN], FUTEX_WAIT_PRIVATE, seen, wait, NULL, 0);
  store(&inv.control[SLEEPING], 0);
}

static void *run(void *unused) {
  (void)unused;
  while (!__atomic_load_n(&inv.stop, __ATOMIC_SEQ_CST)) {
    int32_t seen = load(&inv.control[DUE_WRITTEN]);
    drain(seen);
    if (inv.heap_size == 0) {
      sleep_until(seen, INFINITY);
      continue;
    }
    double now = now_ms();
    if (inv.heap[0].deadline > now) {
      sleep_until(seen, inv.heap[0].deadline);
      continue;
    }
    struct due item = pop();
    if (!claim(item.slot, now)) {
      /* Held: a read that sets its size is on its way; come back to it shortly. */
      item.deadline = now + HOLD_RETRY_MS;
      push(item);
      continue;
    }
    int told = invalidate(item.inode);
    if (told > 0) __atomic_fetch_add(inv.invalidations, 1, __ATOMIC_SEQ_CST);
    finish(item);
    if (told < 0) break;
  }
  return NULL;
}

/* The data of a typed array argument, with its element count; NULL with a JS error thrown. */
static void *array_of(napi_env env, napi_value value, size_t minimum, const char *name) {
  int type = 0;
  size_t length = 0, offset = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, &offset) != 0 || data == NULL || length < minimum) {
    char message[120];
    snprintf(message, sizeof message, "start: %s must be a typed array of at least %zu elements", name, minimum);
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  return data;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value args[10];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc != 10 || napi_get_value_int32(env, args[0], &fd) != 0 || fd < 0) {
    napi_throw_error(env, NULL, "start(fd, control, flags, heldUntil, dueTimes, dueSlots, doneInodes, doneSlots, sleepUntil, invalidations)");
    return NULL;
  }
  if (__atomic_load_n(&inv.running, __ATOMIC_SEQ_CST)) {
    napi_throw_error(env, NULL, "start: the invalidation thread runs already");
    return NULL;
  }
  int type = 0;
  size_t slots = 0;
  /* A power of two: the rings' counters wrap at 2^32, and their index must go on across. */
  if (napi_get_typedarray_info(env, args[2], &type, &slots, NULL, NULL, NULL) != 0 || slots == 0 || slots > INT32_MAX / 2 ||
      (slots & (slots - 1)) != 0) {
    napi_throw_error(env, NULL, "start: flags must be a typed array with one cell per slot, a power of two");
    return NULL;
  }
  if ((inv.control = array_of(env, args[1], CONTROL_CELLS, "control")) == NULL ||
      (inv.flags = array_of(env, args[2], slots, "flags")) == NULL ||
      (inv.held_until = array_of(env, args[3], slots, "heldUntil")) == NULL ||
      (inv.due_times = array_of(env, args[4], 2 * slots, "dueTimes")) == NULL ||
      (inv.due_slots = array_of(env, args[5], slots, "dueSlots")) == NULL ||
      (inv.done_inodes = array_of(env, args[6], slots, "doneInodes")) == NULL ||
      (inv.done_slots = array_of(env, args[7], slots, "doneSlots")) == NULL ||
      (inv.sleep_until = array_of(env, args[8], 1, "sleepUntil")) == NULL ||
      (inv.invalidations = array_of(env, args[9], 1, "invalidations")) == NULL)
    return NULL;
  free(inv.heap);
  inv.heap = calloc(slots, sizeof *inv.heap);
  if (inv.heap == NULL) {
    napi_throw_error(env, NULL, "start: out of memory");
    return NULL;
  }
  inv.fd = fd;
  inv.slots = (int32_t)slots;
  inv.heap_size = 0;
  inv.stop = 0;
  int failed = pthread_create(&inv.thread, NULL, run, NULL);
  if (failed != 0) {
    napi_throw_error(env, NULL, strerror(failed));
    return NULL;
  }
  /* Its name in /proc (top -H, ps -L, the bench's CPU per thread). */
  pthread_setname_np(inv.thread, "pv-invalidate");
  __atomic_store_n(&inv.running, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void wake_thread(void) {
  syscall(SYS_futex, &inv.control[DUE_WRITTEN], FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static napi_value wake(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  if (__atomic_load_n(&inv.running, __ATOMIC_SEQ_CST)) wake_thread();
  return NULL;
}

static napi_value stop(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  if (!inv.running) return NULL;
  __atomic_store_n(&inv.stop, 1, __ATOMIC_SEQ_CST);
  /* Woken until it ends: a wake between its look at the flag and its sleep finds nobody. */
  do {
    wake_thread();
    usleep(1000);
  } while (pthread_tryjoin_np(inv.thread, NULL) == EBUSY);
  __atomic_store_n(&inv.running, 0, __ATOMIC_SEQ_CST);
  return NULL;
}

napi_value napi_register_module_v1(napi_env env, napi_value exports);
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {{"start", start}, {"wake", wake}, {"stop", stop}};
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, functions[i].name, strlen(functions[i].name), functions[i].fn, NULL, &fn) != 0 ||
        napi_set_named_property(env, exports, functions[i].name, fn) != 0)
      return NULL;
  }
  return exports;
}
