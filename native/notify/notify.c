/*
 * notify: the receiving end of sd_notify for one service: an AF_UNIX datagram socket with
 * SO_PASSCRED, watched on Node's own event loop (uv_poll, no thread, no polling loop), handing
 * each datagram to JS with the sender's pid from SCM_CREDENTIALS. Linux only. Node has no API
 * for Unix datagram sockets, and the sender's pid is what lets the daemon reject a message
 * from a process that is not part of the service.
 *
 * JS: open(path: string, onMessage: (data: Buffer, pid: number) => void) -> handle
 *     close(handle): stops watching, closes the socket (idempotent).
 * Invariants:
 * - The socket file is born with mode 0600 (never wider, whatever the umask); the caller
 *   unlinks it after close() and may chown it.
 * - Datagrams are taken as systemd takes them: at most 4096 bytes; a truncated one (payload or
 *   control data) is dropped whole; fds passed with it are closed, never kept. pid is 0 when
 *   the kernel gave no credentials.
 * - While open, the watcher keeps the event loop alive (like a listening server); close() and
 *   environment teardown (e.g. a worker exiting) release it.
 */
#define _GNU_SOURCE /* struct ucred, SCM_CREDENTIALS */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_DATAGRAM 4096 /* systemd's NOTIFY_BUFFER_MAX (PIPE_BUF) */

typedef struct {
  uv_poll_t poll;
  int fd;
  int closed;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* NULL once removed */
} watcher_t;

static void throw_errno(napi_env env, const char *what, const char *path, int err) {
  char msg[300];
  snprintf(msg, sizeof msg, "notify: %s %s: %s", what, path, strerror(err));
  napi_throw_error(env, NULL, msg);
}

/* The close callback: with an env teardown pending, tells Node the hook is done (only then
   may it unload this addon, which holds this very function). */
static void free_watcher(uv_handle_t *handle) {
  watcher_t *w = handle->data;
  if (w->cleanup != NULL) napi_remove_async_cleanup_hook(w->cleanup);
  free(w);
}

/* Closes every fd passed with a datagram (SCM_RIGHTS) and returns the sender's pid (0 if the
   kernel attached none). systemd-notify sends BARRIER=1 with a pipe fd and blocks until the
   receiver closes it; FDSTORE=1 fds are not kept either. */
static double take_control(struct msghdr *msg) {
  double pid = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      pid = cred.pid;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        close(passed);
      }
    }
  }
  return pid;
}

/* Hands one datagram to JS. An exception thrown by the callback is reported like any uncaught
   exception from an event-loop callback, instead of staying pending in the env. */
static void deliver(watcher_t *w, const char *data, size_t n, double pid) {
  napi_env env = w->env;
  napi_value argv[2], callback, global, result;
  void *copy;
  if (napi_create_buffer_copy(env, n, data, &copy, &argv[0]) != napi_ok ||
      napi_create_double(env, pid, &argv[1]) != napi_ok ||
      napi_get_reference_value(env, w->callback, &callback) != napi_ok || napi_get_global(env, &global) != napi_ok)
    return;
  /* make_callback, not call_function: runs microtasks afterwards, as any loop callback does. */
  if (napi_make_callback(env, w->async, global, callback, 2, argv, &result) == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
}

/* Drains every pending datagram (the poll is level-triggered, but one wake-up per burst is
   cheaper); stops early if the callback closed the socket. */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  watcher_t *w = poll->data;
  if (status < 0 || w->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
  while (!w->closed) {
    char data[MAX_DATAGRAM];
    char control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(w->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break; /* EAGAIN: drained (other errors: nothing more to read now either) */
    double pid = take_control(&msg);
    /* MSG_TRUNC makes n the real length: an oversized datagram is dropped, not cut short. */
    if ((size_t)n > sizeof data || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) continue;
    deliver(w, data, (size_t)n, pid);
  }
  napi_close_handle_scope(w->env, scope);
}

/* Stops watching and closes the socket; the watcher is freed once libuv lets go of it. */
static void shut(watcher_t *w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  close(w->fd);
  uv_close((uv_handle_t *)&w->poll, free_watcher);
}

/* Environment teardown (worker exit, process exit) with the socket still open: a live uv
   handle would make the loop close abort. Async hook, because the close callback runs after
   the hook returns and must run before the addon is unloaded. References die with the env. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  watcher_t *w = arg;
  w->cleanup = handle;
  shut(w);
}

/* Creates the socket with SO_PASSCRED and binds it at path with mode 0600, or throws. */
static int bind_socket(napi_env env, const char *path, size_t len) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket() for", path, errno), -1;
  int one = 1;
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len + 1);
  /* On Linux bind() gives the file the socket inode's mode minus the umask, so fchmod first:
     the file never exists with a wider mode, not even between bind() and a chmod(). */
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 || fchmod(fd, 0600) != 0 ||
      bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "cannot bind", path, err), -1;
  }
  return fd;
}

static napi_value notify_open(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value argv[2];
  napi_valuetype cb_type;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* +1: to see a path too long */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 ||
      len >= sizeof path - 1 || strlen(path) != len || napi_typeof(env, argv[1], &cb_type) != napi_ok ||
      cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "notify: expected (path of 1 to 107 bytes, callback)");
    return NULL;
  }
  int fd = bind_socket(env, path, len);
  if (fd < 0) return NULL;
  watcher_t *w = calloc(1, sizeof *w);
  uv_loop_t *loop;
  napi_value resource_name, handle;
  if (w == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    close(fd);
    unlink(path);
    free(w);
    napi_throw_error(env, NULL, "notify: cannot watch the socket");
    return NULL;
  }
  w->fd = fd;
  w->env = env;
  w->poll.data = w;
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_string_utf8(env, "upkeep.notify", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &w->async) != napi_ok ||
      napi_create_external(env, w, NULL, NULL, &handle) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->cleanup) != napi_ok) {
    w->cleanup = NULL;
    shut(w); /* the refs, if any, die with the env: a leak only on an out-of-memory path */
    unlink(path);
    return NULL;
  }
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  return handle;
}

static napi_value notify_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  watcher_t *w;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], (void **)&w) != napi_ok) {
    napi_throw_type_error(env, NULL, "notify: close expects a handle");
    return NULL;
  }
  if (w->closed) return NULL;
  napi_remove_async_cleanup_hook(w->cleanup);
  w->cleanup = NULL;
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->async);
  shut(w);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "open", NAPI_AUTO_LENGTH, notify_open, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "open", fn) != napi_ok ||
      napi_create_function(env, "close", NAPI_AUTO_LENGTH, notify_close, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "close", fn) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
