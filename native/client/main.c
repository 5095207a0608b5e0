/*
 * upkeep: the command users run (through bin/upkeep). It answers `upkeep status` by itself, because
 * Node's own start-up (130-200 ms) is several times the whole time the daemon needs to answer, and
 * hands every other command to the Node CLI (bin/upkeep.js) by exec with the same arguments.
 *
 *   upkeep [--socket PATH] status [NAME|@GROUP...] [--json] [--socket PATH | --socket=PATH]
 *
 * The daemon renders (a status request with "format" gets the Node CLI's stdout back, and the
 * safe-mode line as `warning`; with "raw", the reply line says `textBytes` and the text follows it
 * unescaped, else it is the string `text`); this program only moves the bytes. Anything it does not
 * recognise exactly (another command or flag, -h, a `--socket` value the Node parser would call
 * ambiguous, an argument that is not UTF-8) and any failure of the fast path (no daemon, an error
 * reply, a malformed reply, an old daemon that sends no `text`) execs the Node CLI with the
 * original arguments before anything was printed: every message and exit code other than a
 * successful status comes from the one implementation in src/cli.
 *
 * The repository is found from /proc/self/exe: REPO/native/client/build/Release/upkeep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "socket_path.h"

/* A reply bigger than this is not a status of any sane number of services: let Node read it. */
#define MAX_REPLY_BYTES (512u << 20)

struct status_args {
  int json;
  const char *socket; /* NULL: the default socket */
  char **names;       /* the positionals, in order */
  int name_count;
};

/* Execs the Node CLI with our own arguments; returns only if that is impossible. */
static void exec_node_cli(char **argv) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    for (int up = 0; up < 5; up++) { /* upkeep, Release, build, client, native */
      char *slash = strrchr(exe, '/');
      if (slash == NULL) break;
      *slash = '\0';
    }
    char script[PATH_MAX + 32];
    snprintf(script, sizeof script, "%s/bin/upkeep.js", exe);
    int argc = 0;
    while (argv[argc] != NULL) argc++;
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (args != NULL) {
      args[0] = "node";
      args[1] = script;
      for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
      execvp("node", args);
      fprintf(stderr, "upkeep: cannot run node %s: %s\n", script, strerror(errno));
      exit(127);
    }
  }
  fprintf(stderr, "upkeep: cannot find bin/upkeep.js from /proc/self/exe: %s\n", strerror(errno));
  exit(127);
}

/* parseArgs (strict) takes the next argument as the value, but calls one like "-x" ambiguous. */
static int plain_value(const char *v) {
  return v != NULL && v[0] != '-' && v[0] != '\0';
}

/*
 * The status invocations this program answers; anything else returns -1 (the Node CLI's). Mirrors
 * src/cli/main.ts: `--socket P` (or `--socket=P`) before the command is moved after it.
 */
static int parse_status_args(int argc, char **argv, struct status_args *out) {
  memset(out, 0, sizeof *out);
  out->names = calloc((size_t)argc, sizeof *out->names);
  if (out->names == NULL) return -1;
  int i = 1;
  if (i < argc && strncmp(argv[i], "--socket", 8) == 0) {
    if (strcmp(argv[i], "--socket") == 0) {
      if (!plain_value(argv[i + 1])) return -1;
      out->socket = argv[i + 1];
      i += 2;
    } else if (argv[i][8] == '=') {
      out->socket = argv[i] + 9;
      i += 1;
    } else {
      return -1;
    }
  }
  if (i >= argc || strcmp(argv[i], "status") != 0) return -1;
  for (i++; i < argc; i++) {
    const char *a = argv[i];
    if (!utf8_valid(a, strlen(a))) return -1;
    if (strcmp(a, "--json") == 0) {
      out->json = 1;
    } else if (strcmp(a, "--socket") == 0) {
      if (i + 1 >= argc || !plain_value(argv[i + 1])) return -1;
      out->socket = argv[++i];
    } else if (strncmp(a, "--socket=", 9) == 0) {
      out->socket = a + 9;
    } else if (a[0] == '-' || a[0] == '\0') {
      return -1; /* other flags, -h, --, and names the daemon would refuse */
    } else {
      out->names[out->name_count++] = argv[i];
    }
  }
  if (out->socket != NULL && (out->socket[0] == '\0' || !utf8_valid(out->socket, strlen(out->socket)))) return -1;
  return 0;
}

static int build_request(struct buf *req, const struct status_args *args) {
  char client[96];
  /* raw: the text follows the reply line as it is, unescaped (see read_text). */
  int rc = buf_append_str(req, args->json ? "{\"cmd\":\"status\",\"format\":\"json\",\"raw\":true" : "{\"cmd\":\"status\",\"format\":\"text\",\"raw\":true");
  if (rc == 0 && args->name_count > 0) {
    rc = buf_append_str(req, ",\"names\":[");
    for (int i = 0; rc == 0 && i < args->name_count; i++) {
      if (i > 0) rc = buf_putc(req, ',');
      if (rc == 0) rc = json_append_string(req, args->names[i]);
    }
    if (rc == 0) rc = buf_putc(req, ']');
  }
  snprintf(client, sizeof client, ",\"client\":{\"uid\":%u,\"pid\":%ld}}\n", (unsigned)getuid(), (long)getpid());
  return rc == 0 ? buf_append_str(req, client) : -1;
}

static int write_all(int fd, const char *data, size_t len, int flags, int is_socket) {
  while (len > 0) {
    ssize_t n = is_socket ? send(fd, data, len, flags) : write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/*
 * Sends one request and reads its reply line: 0 with the open socket in *fd_out, the line in
 * reply[0..*line_len) and, after its newline, whatever else arrived already; -1 on any failure.
 */
static int ask_daemon(const char *socket_path, const struct buf *req, struct buf *reply, size_t *line_len, int *fd_out) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t path_len = strlen(socket_path);
  if (path_len >= sizeof addr.sun_path) return -1;
  memcpy(addr.sun_path, socket_path, path_len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno != EINTR) goto fail;
  }
  /* MSG_NOSIGNAL: a daemon that hangs up early is a failure to fall back from, not a SIGPIPE. */
  if (write_all(fd, req->data, req->len, MSG_NOSIGNAL, 1) != 0) goto fail;
  for (;;) {
    if (buf_reserve(reply, 64 * 1024) != 0) goto fail;
    ssize_t n = read(fd, reply->data + reply->len, reply->cap - reply->len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) goto fail; /* closed without a whole line */
    char *nl = memchr(reply->data + reply->len, '\n', (size_t)n);
    reply->len += (size_t)n;
    if (nl != NULL) {
      *line_len = (size_t)(nl - reply->data);
      *fd_out = fd;
      return 0;
    }
    if (reply->len > MAX_REPLY_BYTES) goto fail;
  }
fail:
  close(fd);
  return -1;
}

/*
 * A raw reply's text: the `count` bytes after the line, of which `have` arrived with it (at
 * `first`). 0 with the text in `text`, or -1: the daemon closed early, or it is not UTF-8.
 */
static int read_text(int fd, const char *first, size_t have, long long count, struct buf *text) {
  if (count > (long long)MAX_REPLY_BYTES) return -1;
  size_t want = (size_t)count;
  if (buf_reserve(text, want + 1) != 0) return -1;
  size_t take = have < want ? have : want;
  memcpy(text->data, first, take);
  text->len = take;
  while (text->len < want) {
    ssize_t n = read(fd, text->data + text->len, want - text->len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    text->len += (size_t)n;
  }
  return utf8_valid(text->data, text->len) ? 0 : -1;
}

/* The Node CLI's io.out/io.err: the text, and a newline unless it ends with one. */
static int print_line(int fd, struct buf *text) {
  if ((text->len == 0 || text->data[text->len - 1] != '\n') && buf_putc(text, '\n') != 0) return -1;
  return write_all(fd, text->data, text->len, 0, 0);
}

int main(int argc, char **argv) {
  struct status_args args;
  if (parse_status_args(argc, argv, &args) != 0) exec_node_cli(argv);

  struct buf socket_path = {0}, req = {0}, line = {0};
  if (args.socket == NULL ? default_socket(&socket_path) != 0 : buf_append(&socket_path, args.socket, strlen(args.socket) + 1) != 0) {
    exec_node_cli(argv);
  }
  size_t line_len = 0;
  int fd = -1;
  if (build_request(&req, &args) != 0 || ask_daemon(socket_path.data, &req, &line, &line_len, &fd) != 0) exec_node_cli(argv);

  struct status_reply reply;
  if (parse_status_reply(line.data, line_len, &reply) != 0) exec_node_cli(argv);
  if (reply.text_bytes >= 0 && read_text(fd, line.data + line_len + 1, line.len - line_len - 1, reply.text_bytes, &reply.text) != 0) {
    exec_node_cli(argv);
  }
  close(fd);
  if (reply.has_warning && print_line(STDERR_FILENO, &reply.warning) != 0) return 1;
  if (print_line(STDOUT_FILENO, &reply.text) != 0) {
    fprintf(stderr, "upkeep: cannot write the status: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}
