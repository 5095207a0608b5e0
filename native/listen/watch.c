/*
 * watchReadable/unwatch of the listen addon (see listen.c): a one-shot uv_poll on Node's own
 * loop that tells when a listening socket has a pending connection, without accepting it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>
#include "listen.h"

/* Freed once both libuv (uv_close done) and JS (the handle collected) have let go: the watch
   can outlive its handle (a dropped handle still fires) and the handle its watch. */
typedef struct {
  uv_poll_t poll;
  int fd, stopped, uv_released, js_released;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* NULL once removed */
} watch_t;

static void on_uv_closed(uv_handle_t *handle) {
  watch_t *w = handle->data;
  if (w->cleanup != NULL) napi_remove_async_cleanup_hook(w->cleanup); /* env teardown may go on */
  w->cleanup = NULL;
  w->uv_released = 1;
  if (w->js_released) free(w);
}

static void on_handle_collected(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  watch_t *w = data;
  w->js_released = 1;
  if (w->uv_released) free(w);
}

static void stop_watch(watch_t *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_uv_closed);
}

/* Outside env teardown: drops the JS side too (callback, async context, cleanup hook). */
static void finish_watch(watch_t *w) {
  if (w->stopped) return;
  napi_remove_async_cleanup_hook(w->cleanup);
  w->cleanup = NULL;
  stop_watch(w);
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  watch_t *w = arg;
  w->cleanup = handle;
  stop_watch(w); /* references die with the env */
}

/* Stops before calling back: the callback starts the service, which accepts, and a
   level-triggered poll would fire again for every queued client. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)status, (void)events; /* on a poll error the service still starts, and sees it itself */
  watch_t *w = poll->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_ref ref = w->callback;
  napi_async_context async = w->async;
  napi_remove_async_cleanup_hook(w->cleanup);
  w->cleanup = NULL;
  stop_watch(w); /* w stays allocated until on_uv_closed, a later loop turn */
  napi_value callback, global, arg, result;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    if (napi_get_reference_value(env, ref, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok &&
        napi_create_int32(env, w->fd, &arg) == napi_ok &&
        napi_make_callback(env, async, global, callback, 1, &arg, &result) == napi_pending_exception) {
      /* reported like any uncaught exception from a loop callback, not left pending */
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
  }
  napi_delete_reference(env, ref);
  napi_async_destroy(env, async);
}

napi_value watch_readable(napi_env env, napi_callback_info info) {
  int fd;
  napi_value cb, resource_name, handle;
  napi_valuetype type;
  uv_loop_t *loop;
  char name[16];
  if (!arg_fd(env, info, "listen: watchReadable expects (fd, callback)", &fd, &cb)) return NULL;
  if (napi_typeof(env, cb, &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "listen: watchReadable expects (fd, callback)");
    return NULL;
  }
  snprintf(name, sizeof name, "fd %d", fd);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return throw_errno(env, errno, "cannot watch", name), NULL;
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, ENOMEM, "cannot watch", name), NULL;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    throw_code(env, uv_err_name(rc), -rc, "cannot watch", name, uv_strerror(rc));
    return NULL;
  }
  /* uv_poll_init makes the fd non-blocking, and the flag belongs to the open file that the
     service will share: give it back as it was. epoll does not care. */
  fcntl(fd, F_SETFL, flags);
  w->fd = fd;
  w->env = env;
  w->poll.data = w;
  if (napi_create_reference(env, cb, 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "upkeep.listen", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &w->async) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->cleanup) != napi_ok) {
    w->cleanup = NULL;
    w->js_released = 1; /* no handle was made: libuv's close callback frees */
    stop_watch(w);      /* the refs, if any, die with the env: a leak only on an out-of-memory path */
    return NULL;
  }
  if (napi_create_external(env, w, on_handle_collected, NULL, &handle) != napi_ok) {
    w->js_released = 1;
    finish_watch(w);
    return NULL;
  }
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    finish_watch(w);
    throw_code(env, uv_err_name(rc), -rc, "cannot watch", name, uv_strerror(rc));
    return NULL;
  }
  return handle;
}

napi_value unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  watch_t *w;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], (void **)&w) != napi_ok) {
    napi_throw_type_error(env, NULL, "listen: unwatch expects a handle from watchReadable");
    return NULL;
  }
  finish_watch(w); /* idempotent: nothing once fired or unwatched */
  return NULL;
}

