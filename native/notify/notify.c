/*
 * notify: the receiving end of sd_notify for one service: an AF_UNIX datagram socket with
 * SO_PASSCRED, watched on Node's own event loop (uv_poll, no thread, no polling loop), handing
 * each datagram to JS with the sender's pid from SCM_CREDENTIALS. Linux only. Node has no API
 * for Unix datagram sockets, and the sender's pid is what lets the daemon reject a message
 * from a process that is not part of the service.
 *
 * JS: open(path: string, onMessage: (data: Buffer, pid: number) => void) -> handle
 *     close(handle): stops watching, closes the socket (idempotent).
 * The socket file is created by bind() (the caller sets its mode); the caller unlinks it.
 */
#define _GNU_SOURCE /* struct ucred, SCM_CREDENTIALS */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define MAX_DATAGRAM 4096

typedef struct {
  uv_poll_t poll;
  int fd;
  int closed;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
} watcher_t;

static void throw_errno(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "notify: %s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
}

static void free_watcher(uv_handle_t *handle) { free(handle->data); }

/* Drains every pending datagram; each goes to JS with the sender's pid (0 if none came). */
static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  watcher_t *w = poll->data;
  if (status < 0 || w->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
  for (;;) {
    char data[MAX_DATAGRAM];
    /* Room for the credentials and for a few passed fds: systemd-notify sends BARRIER=1 with a
       pipe fd and blocks until the receiver closes it; FDSTORE=1 fds are not kept either. */
    char control[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {data, sizeof data};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(w->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) break; /* EAGAIN: drained (other errors: nothing more to read now either) */
    double pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        pid = cred.pid;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int passed;
          memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
          close(passed);
        }
      }
    }
    napi_value argv[2], callback, global, result;
    void *copy;
    if (napi_create_buffer_copy(w->env, (size_t)n, data, &copy, &argv[0]) != napi_ok) break;
    if (napi_create_double(w->env, pid, &argv[1]) != napi_ok) break;
    if (napi_get_reference_value(w->env, w->callback, &callback) != napi_ok) break;
    if (napi_get_global(w->env, &global) != napi_ok) break;
    /* make_callback: runs microtasks afterwards, as any callback from the event loop does. */
    napi_make_callback(w->env, w->async, global, callback, 2, argv, &result);
    if (w->closed) break; /* the callback closed us */
  }
  napi_close_handle_scope(w->env, scope);
}

static napi_value notify_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  size_t len;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 ||
      len >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "notify: expected (path shorter than 107 bytes, callback)");
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno), NULL;
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt(SO_PASSCRED)", err), NULL;
  }
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len + 1);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, path, err), NULL;
  }
  watcher_t *w = calloc(1, sizeof *w);
  uv_loop_t *loop;
  napi_value resource_name, handle;
  if (w == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    close(fd);
    free(w);
    napi_throw_error(env, NULL, "notify: cannot watch the socket");
    return NULL;
  }
  w->fd = fd;
  w->env = env;
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_create_string_utf8(env, "upkeep.notify", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &w->async);
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)&w->poll); /* a notify socket alone never keeps the daemon alive */
  napi_create_external(env, w, NULL, NULL, &handle);
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
  w->closed = 1;
  uv_poll_stop(&w->poll);
  close(w->fd);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->async);
  uv_close((uv_handle_t *)&w->poll, free_watcher); /* freed once libuv lets go of the handle */
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, notify_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, notify_close, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
