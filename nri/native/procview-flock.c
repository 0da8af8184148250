/*
 * procview-flock.node: flock(2) for a Node process, which Node cannot do. Each NRI plugin holds
 * an exclusive lock on its status record's lock file for its whole life (nri/status.ts), and
 * whoever reads the record tells from that lock whether the plugin still runs: the kernel drops
 * it when the process ends, however it ends, which no pid written in a file can promise (pid
 * namespaces number processes differently, and pids are reused).
 *
 * A Node-API addon (core/native/node-api.h declares what it uses).
 *
 * exports.tryLock(fd): flock(fd, LOCK_EX | LOCK_NB). true: held (until the descriptor is
 * closed, or the process ends); false: another open file description holds it. Never blocks,
 * so the event loop never waits in it. Any other failure throws with the errno's text.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "node-api.h"

static napi_value try_lock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc != 1 || napi_get_value_int32(env, args[0], &fd) != 0 || fd < 0) {
    napi_throw_error(env, NULL, "tryLock(fd): fd must be an open file descriptor");
    return NULL;
  }
  int held = 1;
  while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      char message[128];
      snprintf(message, sizeof message, "flock: %s", strerror(errno));
      napi_throw_error(env, NULL, message);
      return NULL;
    }
    held = 0;
    break;
  }
  napi_value result;
  if (napi_get_boolean(env, held, &result) != 0) return NULL;
  return result;
}

NODE_API_MODULE_FUNCTION("tryLock", try_lock)
