/*
 * procview-exec.node: one function, execve(), for a Node process that must become another
 * program in place. `procview serve --foreground` parses and checks its flags in TypeScript,
 * then becomes the native keeper (procview-keeper) under the same pid: systemd's main pid, a
 * container's pid 1 and a test's child stay the process that owns the mount. Node 20 cannot
 * exec (process.execve arrived in Node 22.15), and a Node parent waiting for a keeper child
 * would cost the ~40 MiB the keeper exists to save.
 *
 * It is a Node-API addon: Node loads it with process.dlopen and looks up
 * napi_register_module_v1 (core/native/node-api.h declares what it uses).
 *
 * exports.execve(file, argv): argv[0] included; the environment is the process's own. Before
 * the exec, stdin, stdout and stderr are made inheritable and blocking again (Node may have set
 * O_NONBLOCK on a pipe, which the new program would inherit). Returns only on failure, by
 * throwing with the errno's text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node-api.h"

#define MAX_ARGS 256
#define MAX_ARG_BYTES 65536

/* A JS string as a malloc'd C string, or NULL (with a JS error thrown). */
static char *string_of(napi_env env, napi_value value) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != 0 || length > MAX_ARG_BYTES) {
    napi_throw_error(env, NULL, "execve: every argument must be a string of at most 64 KiB");
    return NULL;
  }
  char *text = malloc(length + 1);
  if (text == NULL || napi_get_value_string_utf8(env, value, text, length + 1, &length) != 0) {
    free(text);
    napi_throw_error(env, NULL, "execve: out of memory");
    return NULL;
  }
  return text;
}

static napi_value do_execve(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  uint32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != 0 || argc != 2 || napi_get_array_length(env, args[1], &count) != 0 ||
      count == 0 || count > MAX_ARGS) {
    napi_throw_error(env, NULL, "execve(file, argv): argv must be an array of 1 to 256 strings");
    return NULL;
  }
  char *file = string_of(env, args[0]);
  if (file == NULL) return NULL;
  char *argv[MAX_ARGS + 1];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, args[1], i, &element) != 0 || (argv[i] = string_of(env, element)) == NULL) {
      while (i > 0) free(argv[--i]);
      free(file);
      return NULL;
    }
  }
  argv[count] = NULL;
  for (int fd = 0; fd <= 2; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0 && (fdflags & FD_CLOEXEC)) fcntl(fd, F_SETFD, fdflags & ~FD_CLOEXEC);
  }
  extern char **environ;
  execve(file, argv, environ);
  char message[512];
  snprintf(message, sizeof message, "cannot run %s: %s", file, strerror(errno));
  for (uint32_t i = 0; i < count; i++) free(argv[i]);
  free(file);
  napi_throw_error(env, NULL, message);
  return NULL;
}

NODE_API_MODULE_FUNCTION("execve", do_execve)
