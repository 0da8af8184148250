/*
 * The part of Node-API that procview's addons (procview-exec.node, procview-flock.node,
 * procview-invalidate.node) use, declared here once. Node-API is a stable C ABI exported by the
 * node binary, so the few functions needed are declared rather than taken from headers a Node
 * install does not always ship. An addon defines napi_register_module_v1, with
 * NODE_API_MODULE_FUNCTION below when it exports one function.
 */
#ifndef PROCVIEW_NODE_API_H
#define PROCVIEW_NODE_API_H

#include <stddef.h>
#include <stdint.h>

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);

extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char *, size_t, size_t *);
extern napi_status napi_get_value_int32(napi_env, napi_value, int32_t *);
extern napi_status napi_get_boolean(napi_env, int, napi_value *);
extern napi_status napi_get_array_length(napi_env, napi_value, uint32_t *);
extern napi_status napi_get_element(napi_env, napi_value, uint32_t, napi_value *);
extern napi_status napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern napi_status napi_set_named_property(napi_env, napi_value, const char *, napi_value);
extern napi_status napi_throw_error(napi_env, const char *, const char *);
/* Its type (unused here), element count, data (a SharedArrayBuffer's too), buffer, byte offset. */
extern napi_status napi_get_typedarray_info(napi_env, napi_value, int *, size_t *, void **, napi_value *, size_t *);

/* An addon exporting one function: exports.NAME = FN. */
#define NODE_API_MODULE_FUNCTION(NAME, FN)                                                          \
  napi_value napi_register_module_v1(napi_env env, napi_value exports);                             \
  napi_value napi_register_module_v1(napi_env env, napi_value exports) {                            \
    napi_value fn;                                                                                  \
    if (napi_create_function(env, NAME, sizeof NAME - 1, FN, NULL, &fn) != 0 ||                     \
        napi_set_named_property(env, exports, NAME, fn) != 0)                                       \
      return NULL;                                                                                  \
    return exports;                                                                                 \
  }

#endif
