/*
 * procview-flock.node: flock(2) for a Node process, which Node cannot do. The NRI plugin holds
 * an exclusive lock for its whole life so that two procview plugins are never registered with
 * one runtime at once (NRI refuses every container two plugins add the same mount to); the
 * kernel drops the lock when the process ends, however it ends, which no lock file with a pid
 * in it can promise.
 *
 * A Node-API addon, declaring the few Node-API functions it uses (a stable C ABI exported by
 * the node binary), as procview-exec.c does.
 *
 * exports.tryLock(fd): flock(fd, LOCK_EX | LOCK_NB). true: held (until the descriptor is
 * closed, or the process ends); false: another open file description holds it. Never blocks,
 * so the event loop never waits in it. Any other failure throws with the errno's text.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_get_boolean(napi_env, int, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_throw_error(napi_env, const char *, const char *);

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

napi_value napi_register_module_v1(napi_env env, napi_value exports);
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "tryLock", 7, try_lock, NULL, &fn) != 0 || napi_set_named_property(env, exports, "tryLock", fn) != 0)
    return NULL;
  return exports;
}
