/*
 * peercred: the credentials (pid, uid, gid) of the process at the other end of a connected
 * Unix stream socket, via getsockopt(SO_PEERCRED). Linux only. Node has no API for this, and
 * the daemon must record which uid sent each admin command over its control socket.
 *
 * JS: peercred(fd: number) -> { pid, uid, gid }; throws an Error whose message carries
 * strerror(errno) when the call fails (e.g. EBADF, ENOTSOCK). The kernel fills the credentials
 * at connect() time, so they describe the peer as it was then, and cannot be forged by it.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

/* Returns NULL from the enclosing function if a Node-API call did not succeed (an exception is
   then pending, or the environment is shutting down). */
#define CHECK(call)                  \
  do {                               \
    if ((call) != napi_ok) return NULL; \
  } while (0)

static napi_value set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  CHECK(napi_create_double(env, value, &v));
  CHECK(napi_set_named_property(env, obj, key, v));
  return obj;
}

static napi_value peercred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));

  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peercred: expected a non-negative file descriptor");
    return NULL;
  }

  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    int err = (len != sizeof cred) ? EINVAL : errno; /* read errno before any other call */
    char msg[160];
    snprintf(msg, sizeof msg, "peercred: getsockopt(SO_PEERCRED) on fd %d: %s", fd, strerror(err));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }

  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_number(env, result, "pid", cred.pid)) return NULL;
  if (!set_number(env, result, "uid", cred.uid)) return NULL;
  if (!set_number(env, result, "gid", cred.gid)) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  CHECK(napi_create_function(env, "peercred", NAPI_AUTO_LENGTH, peercred, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "peercred", fn));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
