/*
 * listen: the sockets of socket activation. The daemon creates listening sockets before the
 * service runs and passes them to it as fds 3, 4, ... (LISTEN_FDS), so clients queue in the
 * kernel's backlog instead of being refused while the service starts or restarts. Linux only.
 * Node cannot do this itself: its servers are non-blocking, owned by libuv, and cannot bind a
 * path with another user's filesystem rights.
 * Files: listen.c (sockets, errors, the module), fs_identity.c (the filesystem identity
 * switch), watch.c (watchReadable), listen.h (what they share).
 *
 * JS: listenTcp(host, port, backlog) -> fd        (host: IPv4/IPv6 literal or a name; the first
 *                                                  getaddrinfo result; blocks while resolving)
 *     listenUnix(path, backlog, mode, uid, gid[, ownerUid, ownerGid]) -> fd
 *     unlinkSocket(path, uid, gid[, dev, ino]) -> removed: boolean
 *     localPort(fd) -> port;  close(fd)
 *     watchReadable(fd, callback(fd)) -> handle;  unwatch(handle)
 * Errors: a JS Error with code = the errno name (EADDRINUSE, EACCES, ...; ENOTFOUND/EAI_AGAIN
 * for names that do not resolve), errno = -errno as in Node, and a message naming the address.
 *
 * Invariants:
 * - Every socket is blocking (what systemd passes, and what services expect) and FD_CLOEXEC (a
 *   spawn's stdio mapping dup2()s it into the child, which clears the flag there only).
 * - uid/gid >= 0: every path operation (lstat, unlink, bind, chmod) runs with the calling
 *   thread's filesystem identity switched to uid, gid and no supplementary groups, and switched
 *   back before returning, error or not. A tenant choosing the path therefore cannot make root
 *   create or remove a file where the tenant could not, and the socket file is the tenant's.
 *   uid = -1: the daemon's own identity; then ownerUid/ownerGid (if >= 0) are applied with
 *   lchown right after bind.
 * - Only a socket is ever removed from a path, found with lstat (a symlink is never followed),
 *   and before bind only a stale one (connect() refused): a live socket is EADDRINUSE, as a
 *   TCP port in use is (its service sees one connection that closes at once), and a regular
 *   file or a symlink at the path is EEXIST.
 * - The socket file is never wider than mode, not even between bind and chmod.
 * - watchReadable fires at most once, when a connection is pending, without accepting it (the
 *   service will); it then stops by itself. It leaves the socket blocking.
 */
#define _GNU_SOURCE /* strerrorname_np, EAI_NODATA */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "listen.h"

/* ---------------------------------------------------------------- errors */

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
#endif
  switch (err) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return "UNKNOWN";
  }
}

void throw_code(napi_env env, const char *code, int err, const char *what, const char *address,
                       const char *detail) {
  char text[600];
  napi_value code_v, msg_v, error, errno_v;
  snprintf(text, sizeof text, "listen: %s %s: %s", what, address, detail);
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg_v) != napi_ok ||
      napi_create_error(env, code_v, msg_v, &error) != napi_ok)
    return;
  if (err != 0 && napi_create_int32(env, -err, &errno_v) == napi_ok)
    napi_set_named_property(env, error, "errno", errno_v);
  napi_throw(env, error);
}

void throw_errno(napi_env env, int err, const char *what, const char *address) {
  throw_code(env, errno_name(err), err, what, address, strerror(err));
}

/* ---------------------------------------------------------------- arguments */

static int arg_string(napi_env env, napi_value v, char *buf, size_t size, size_t *len) {
  return napi_get_value_string_utf8(env, v, buf, size, len) == napi_ok && *len > 0 && *len < size - 1 &&
         strlen(buf) == *len; /* size - 1: a string that filled the buffer may have been cut */
}

/* An integer in [min, max]; a fraction, NaN or anything but a number is refused. */
int arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < (double)min || d > (double)max) return 0;
  *out = (int64_t)d;
  return (double)*out == d;
}

/* ---------------------------------------------------------------- unix sockets */

/* Removes the socket at path if it still is one (and, with want != NULL, the same file):
   lstat never follows a symlink, and unlink removes a link, never its target. 1 removed,
   0 nothing to remove, -1 error (errno). A swap between lstat and unlink can only happen in a
   directory whose owner could remove the file anyway: with a tenant's identity, the tenant's. */
static int unlink_if_socket(const char *path, const struct stat *want) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISSOCK(st.st_mode)) return 0;
  if (want != NULL && (st.st_dev != want->st_dev || st.st_ino != want->st_ino)) return 0;
  if (unlink(path) != 0) return errno == ENOENT ? 0 : -1;
  return 1;
}

/* Clears the way for bind(): nothing at path, or a socket nobody listens on (a daemon that
   died leaves one). Returns 0 or an errno, with *what naming the step. */
static int remove_stale(const char *path, const struct sockaddr_un *addr, const char **what) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : (*what = "cannot inspect", errno);
  if (!S_ISSOCK(st.st_mode)) return *what = "refusing to replace a file that is not a socket at", EEXIST;
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return *what = "socket() for", errno;
  int err = connect(probe, (const struct sockaddr *)addr, sizeof *addr) == 0 ? 0 : errno;
  close(probe);
  if (err == 0 || err == EAGAIN || err == EINPROGRESS) return *what = "another process listens on", EADDRINUSE;
  if (err != ECONNREFUSED) return *what = "cannot tell whether a process listens on", err;
  if (unlink_if_socket(path, &st) < 0) return *what = "cannot remove the stale socket", errno;
  return 0;
}

/* Everything done at path, under whatever filesystem identity the caller has switched to.
   On error the socket file, if bind() made one, is removed again. */
static int bind_unix(int fd, const char *path, const struct sockaddr_un *addr, int mode, int backlog,
                     int64_t owner_uid, int64_t owner_gid, const char **what) {
  int err = remove_stale(path, addr, what);
  if (err != 0) return err;
  if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) return *what = "cannot bind", errno;
  struct stat st;
  if ((owner_uid >= 0 || owner_gid >= 0) &&
      fchownat(AT_FDCWD, path, (uid_t)owner_uid, (gid_t)owner_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    *what = "cannot set the owner of";
  } else if (lstat(path, &st) != 0) {
    *what = "cannot inspect";
  } else if ((st.st_mode & 07777) != (mode_t)mode &&
             fchmodat(AT_FDCWD, path, (mode_t)mode, AT_SYMLINK_NOFOLLOW) != 0) {
    /* The umask took bits away (0660 under 022 is 0640): put them back by path, never through
       a symlink. Setting the umask around bind() instead would race with every other thread
       creating files, since the umask is per process. */
    *what = "cannot set the mode of";
  } else if (listen(fd, backlog) != 0) {
    *what = "cannot listen on";
  } else {
    return 0;
  }
  err = errno;
  unlink_if_socket(path, NULL);
  return err;
}

static napi_value listen_unix(napi_env env, napi_callback_info info) {
  size_t argc = 7, len;
  napi_value argv[7];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* +1: to see a path too long */
  int64_t backlog, mode, uid, gid, owner_uid = -1, owner_gid = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5 || !arg_string(env, argv[0], path, sizeof path, &len) || path[0] != '/' ||
      !arg_int(env, argv[1], 0, INT32_MAX, &backlog) || !arg_int(env, argv[2], 0, 0777, &mode) ||
      !arg_int(env, argv[3], -1, UINT32_MAX - 1, &uid) || !arg_int(env, argv[4], -1, UINT32_MAX - 1, &gid) ||
      (uid >= 0) != (gid >= 0) || (argc > 5 && !arg_int(env, argv[5], -1, UINT32_MAX - 1, &owner_uid)) ||
      (argc > 6 && !arg_int(env, argv[6], -1, UINT32_MAX - 1, &owner_gid)) ||
      (uid >= 0 && (owner_uid >= 0 || owner_gid >= 0))) {
    napi_throw_type_error(env, NULL,
                          "listen: listenUnix expects (absolute path of at most 107 bytes, backlog, mode 0-0777, "
                          "uid and gid both -1 or both ids[, ownerUid, ownerGid only when uid is -1])");
    return NULL;
  }
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket() for", path), NULL;
  /* Linux gives the new file the socket inode's mode minus the umask: fchmod first, so the file
     is never wider than mode, not even for an instant. Before the switch: the socket inode is
     the daemon's, only the file bind() makes will be the user's. */
  if (fchmod(fd, (mode_t)mode) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "fchmod() for", path), NULL;
  }
  fs_identity_t saved;
  const char *what = "cannot take the filesystem identity of the service user for";
  int err = fs_become(&saved, uid, gid);
  if (err == 0) err = bind_unix(fd, path, &addr, (int)mode, (int)backlog, owner_uid, owner_gid, &what);
  fs_restore(&saved);
  if (err != 0) {
    close(fd);
    return throw_errno(env, err, what, path), NULL;
  }
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* Removes the socket file made by listenUnix, as the same filesystem user. dev/ino (BigInts,
   from lstat right after listenUnix) make sure it is still that file, not a newer one. */
static napi_value unlink_socket(napi_env env, napi_callback_info info) {
  size_t argc = 5, len;
  napi_value argv[5];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  int64_t uid, gid;
  uint64_t dev = 0, ino = 0;
  bool lossless;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int with_id = argc >= 5;
  if (argc < 3 || !arg_string(env, argv[0], path, sizeof path, &len) ||
      !arg_int(env, argv[1], -1, UINT32_MAX - 1, &uid) || !arg_int(env, argv[2], -1, UINT32_MAX - 1, &gid) ||
      (uid >= 0) != (gid >= 0) ||
      (with_id && (napi_get_value_bigint_uint64(env, argv[3], &dev, &lossless) != napi_ok ||
                   napi_get_value_bigint_uint64(env, argv[4], &ino, &lossless) != napi_ok))) {
    napi_throw_type_error(env, NULL, "listen: unlinkSocket expects (path, uid, gid[, dev: bigint, ino: bigint])");
    return NULL;
  }
  struct stat want = {0};
  want.st_dev = (dev_t)dev;
  want.st_ino = (ino_t)ino;
  fs_identity_t saved;
  int err = fs_become(&saved, uid, gid), removed = 0;
  if (err == 0 && (removed = unlink_if_socket(path, with_id ? &want : NULL)) < 0) err = errno;
  fs_restore(&saved);
  if (err != 0) return throw_errno(env, err, "cannot remove", path), NULL;
  napi_value result;
  CHECK(napi_get_boolean(env, removed == 1, &result));
  return result;
}

/* ---------------------------------------------------------------- tcp sockets */

static void throw_gai(napi_env env, int rc, const char *address) {
  if (rc == EAI_SYSTEM) return throw_errno(env, errno, "cannot resolve", address);
  const char *code = rc == EAI_AGAIN ? "EAI_AGAIN" : "ENOTFOUND";
#ifdef EAI_NODATA
  if (rc != EAI_NONAME && rc != EAI_NODATA && rc != EAI_AGAIN) code = "EAI_FAIL";
#else
  if (rc != EAI_NONAME && rc != EAI_AGAIN) code = "EAI_FAIL";
#endif
  throw_code(env, code, 0, "cannot resolve", address, gai_strerror(rc));
}

static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  size_t argc = 3, len;
  napi_value argv[3];
  char host[256], address[300], service[8];
  int64_t port, backlog;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !arg_string(env, argv[0], host, sizeof host, &len) || !arg_int(env, argv[1], 0, 65535, &port) ||
      !arg_int(env, argv[2], 0, INT32_MAX, &backlog)) {
    napi_throw_type_error(env, NULL, "listen: listenTcp expects (host, port 0-65535, backlog)");
    return NULL;
  }
  snprintf(address, sizeof address, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, (int)port);
  snprintf(service, sizeof service, "%d", (int)port);
  struct addrinfo hints = {0}, *res;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0) return throw_gai(env, rc, address), NULL;
  const char *what = "socket() for";
  int one = 1, err = 0;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) {
    err = errno;
  } else if ((what = "setsockopt(SO_REUSEADDR) for", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)) != 0 ||
             (what = "cannot bind", bind(fd, res->ai_addr, res->ai_addrlen)) != 0 ||
             (what = "cannot listen on", listen(fd, (int)backlog)) != 0) {
    err = errno;
    close(fd);
  }
  freeaddrinfo(res);
  if (err != 0) return throw_errno(env, err, what, address), NULL;
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

int arg_fd(napi_env env, napi_callback_info info, const char *usage, int *fd, napi_value *second) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t v;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < (second ? 2u : 1u) || !arg_int(env, argv[0], 0, INT32_MAX, &v)) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  *fd = (int)v;
  if (second) *second = argv[1];
  return 1;
}

static napi_value local_port(napi_env env, napi_callback_info info) {
  int fd;
  char name[16];
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (!arg_fd(env, info, "listen: localPort expects (fd)", &fd, NULL)) return NULL;
  snprintf(name, sizeof name, "fd %d", fd);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return throw_errno(env, errno, "getsockname() on", name), NULL;
  int port = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
             : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : -1;
  if (port < 0) return throw_errno(env, EAFNOSUPPORT, "no port: not a TCP socket,", name), NULL;
  napi_value result;
  CHECK(napi_create_int32(env, port, &result));
  return result;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  int fd;
  char name[16];
  if (!arg_fd(env, info, "listen: close expects (fd)", &fd, NULL)) return NULL;
  snprintf(name, sizeof name, "fd %d", fd);
  /* On Linux the fd is released even when close() reports EINTR: never retry. */
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "cannot close", name), NULL;
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"listenTcp", listen_tcp},         {"listenUnix", listen_unix},       {"unlinkSocket", unlink_socket},
             {"localPort", local_port},         {"close", close_fd},               {"watchReadable", watch_readable},
             {"unwatch", unwatch}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn));
    CHECK(napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
