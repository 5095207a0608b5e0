/*
 * spawn: starts a service's process with posix_spawn instead of Node's child_process, which
 * forks the daemon's whole address space for every child, and reports its exit from a pidfd
 * watched on Node's own event loop (uv_poll: no thread, no SIGCHLD handler, no polling loop).
 * Linux only: glibc >= 2.34 to build, Linux >= 5.4 (pidfd_open, waitid(P_PIDFD)) to run.
 *
 * JS: spawn(file, argv, envp, cwd, fds, onExit[, cgroup[, viaPosixSpawn[, onOutput]]]) -> { pid, stdout, stderr }
 *       file    absolute path of the program (the caller resolves PATH; no search here)
 *       argv    argv[0], the arguments; envp: "NAME=value" strings, exactly the environment
 *       fds     open fds the program gets as 3, 4, … (socket activation)
 *       onExit  (code: number | null, signal: string | null) => void, called once
 *       cgroup  a cgroup v2 directory the child is created in (clone3 CLONE_INTO_CGROUP), only
 *               where `intoCgroup` is true; absent, undefined or null: the daemon's own cgroup
 *       viaPosixSpawn  true: a child outside a cgroup starts through glibc's posix_spawn even
 *               where ownClone is true (the default is the faster clone3 child below)
 *       onOutput (stream: 0 | 1, chunk: Buffer) => void: the addon reads the output pipes itself
 *               (stdout, stderr are then -1) and closes each at its end, with no JS call
 *       stdout, stderr: without onOutput, the read ends of the child's output pipes (O_NONBLOCK,
 *       O_CLOEXEC), the caller's to read and close.
 *     Throws an Error whose `code` is the errno name when nothing runs: glibc's posix_spawn
 *     (CLONE_VFORK) returns the child's exec or file-action errno (ENOENT, EACCES, ENOEXEC, a
 *     chdir's ENOENT) before it returns, so a failed exec is never a child that exits 127.
 *     pidfd: false when this kernel cannot watch exits by pidfd; spawn then throws ENOSYS.
 *     intoCgroup: true where a child can be created in a cgroup (x86-64, Linux >= 5.7). Joining
 *       one after the start (a write to cgroup.procs) waits for an RCU grace period in the
 *       kernel, about 10 ms per start here: the largest part of a restart. Being born in it
 *       costs nothing extra. A failure to create it there (the cgroup is gone, or not a leaf)
 *       throws with the errno and a message naming the cgroup.
 *
 * Two ways to start the child, with the same result: posix_spawn (glibc's vfork), and, for a
 * cgroup, our own clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP | CLONE_PIDFD) with the same
 * steps as glibc's child (start_child below), since glibc 2.36 cannot pass a cgroup.
 *
 * The child:
 * - leads a new session and process group (POSIX_SPAWN_SETSID: pgid == sid == pid), like Node's
 *   `detached: true`, so the whole tree can be signalled;
 * - starts with an empty signal mask and every signal at its default action: Node ignores
 *   SIGPIPE, and an ignored signal would otherwise stay ignored across exec;
 * - has stdin from /dev/null, stdout and stderr on the pipes, `fds` at 3, 4, … and nothing else:
 *   every higher fd is closed (closefrom), whether or not the daemon marked it close-on-exec.
 *
 * Invariants:
 * - onExit is called exactly once per successful spawn, after the child was reaped by
 *   waitid(P_PIDFD). libuv's own SIGCHLD handler waitpid()s only the pids of its own
 *   uv_process_t handles, so it never steals these exits (and we never steal its).
 * - The pidfd is closed and the watcher freed at the exit: nothing is kept per spawn.
 * - While a child runs, its watcher keeps the event loop alive (as a ChildProcess does);
 *   environment teardown (a worker exiting, process exit) stops watching, leaving the children
 *   running, unreaped, and onExit uncalled.
 */
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_add{chdir,closefrom}_np, strerrorname_np */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#ifndef P_PIDFD
#define P_PIDFD 3 /* <linux/wait.h>; glibc 2.36's <sys/wait.h> does not name it yet */
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL /* Linux 5.7 */
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1) /* Linux 5.9, with close_range itself */
#endif
#if defined(__x86_64__) && defined(SYS_clone3)
#define HAVE_CLONE3_CHILD 1
#endif

#define MAX_FDS 1024 /* far above any real socket-activation set; keeps the fd arithmetic small */

typedef struct {
  char *file;
  char **argv;
  char **envp;
  char *cwd;
  int *fds;
  uint32_t nfds;
} request_t;

typedef struct {
  uv_poll_t poll;
  int pidfd;
  int closed;
  napi_env env;
  napi_ref on_exit;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* NULL once removed */
} child_t;

static bool pidfd_works;  /* set once at load by probe_pidfd() */
static bool into_cgroup;  /* set once at load by probe_into_cgroup() */
static bool own_clone;    /* set once at load by probe_own_clone(): every spawn through clone3 */

/* ---- arguments ------------------------------------------------------------------------- */

/* A JS string as a malloc'd C string, or NULL with a TypeError thrown: C strings cannot hold
   a NUL byte, and cutting an argument short at one would run something else than asked. */
static char *dup_string(napi_env env, napi_value value, const char *what) {
  size_t len;
  char *s;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) goto bad;
  if ((s = malloc(len + 1)) == NULL) return napi_throw_error(env, NULL, "spawn: out of memory"), NULL;
  napi_get_value_string_utf8(env, value, s, len + 1, &len);
  if (strlen(s) == len) return s;
  free(s);
bad:;
  char msg[120];
  snprintf(msg, sizeof msg, "spawn: %s must be a string without NUL bytes", what);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static void free_strings(char **list) {
  if (list == NULL) return;
  for (char **p = list; *p != NULL; p++) free(*p);
  free(list);
}

/* A JS array of strings as a NULL-terminated malloc'd array, or NULL with an error thrown. */
static char **dup_string_array(napi_env env, napi_value array, const char *what) {
  bool is_array;
  uint32_t n;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, array, &n) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "spawn: %s must be an array of strings", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  char **list = calloc((size_t)n + 1, sizeof *list);
  if (list == NULL) return napi_throw_error(env, NULL, "spawn: out of memory"), NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok || (list[i] = dup_string(env, item, what)) == NULL) {
      free_strings(list); /* stops at the first NULL: exactly the ones made so far */
      return NULL;
    }
  }
  return list;
}

static bool read_fds(napi_env env, napi_value array, request_t *r) {
  bool is_array;
  if (napi_is_array(env, array, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, array, &r->nfds) != napi_ok || r->nfds > MAX_FDS)
    goto bad;
  if ((r->fds = calloc(r->nfds + 1, sizeof *r->fds)) == NULL) return napi_throw_error(env, NULL, "spawn: out of memory"), false;
  for (uint32_t i = 0; i < r->nfds; i++) {
    napi_value item;
    if (napi_get_element(env, array, i, &item) != napi_ok || napi_get_value_int32(env, item, &r->fds[i]) != napi_ok ||
        r->fds[i] < 0)
      goto bad;
  }
  return true;
bad:
  napi_throw_type_error(env, NULL, "spawn: fds must be an array of at most 1024 open fds");
  return false;
}

static void free_request(request_t *r) {
  free(r->file);
  free_strings(r->argv);
  free_strings(r->envp);
  free(r->cwd);
  free(r->fds);
}

/* args: file, argv, envp, cwd, fds (the callback is checked by the caller). */
static bool read_request(napi_env env, napi_value *args, request_t *r) {
  if ((r->file = dup_string(env, args[0], "file")) == NULL) return false;
  if ((r->argv = dup_string_array(env, args[1], "argv")) == NULL) return false;
  if (r->argv[0] == NULL) return napi_throw_type_error(env, NULL, "spawn: argv needs at least argv[0]"), false;
  if ((r->envp = dup_string_array(env, args[2], "envp")) == NULL) return false;
  if ((r->cwd = dup_string(env, args[3], "cwd")) == NULL) return false;
  return read_fds(env, args[4], r);
}

/* An Error like Node's own spawn errors: message "spawn FILE ENOENT", code "ENOENT". */
static void throw_spawn_error(napi_env env, const char *file, int err) {
  const char *name = strerrorname_np(err);
  char msg[4200];
  if (name == NULL) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "spawn %s %s", file, name);
  napi_throw_error(env, name, msg);
}

/* The same, for a cgroup that cannot take the child: message "cannot create the process in the
   cgroup DIR (EBUSY)", code "EBUSY", and `cgroup` DIR, so that the caller does not blame the
   program. */
static void throw_cgroup_error(napi_env env, const char *what, const char *dir, int err) {
  const char *name = strerrorname_np(err);
  char msg[4200];
  napi_value code, message, error, where;
  if (name == NULL) name = "EUNKNOWN";
  snprintf(msg, sizeof msg, "%s %s (%s)", what, dir, name);
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok ||
      napi_create_string_utf8(env, dir, NAPI_AUTO_LENGTH, &where) != napi_ok ||
      napi_set_named_property(env, error, "cgroup", where) != napi_ok) {
    napi_throw_error(env, name, msg);
    return;
  }
  napi_throw(env, error);
}

/* ---- the spawn itself ------------------------------------------------------------------ */

/* Runs r->file with stdout/stderr on out_w/err_w; returns 0 or an errno (posix_spawn's own
   convention). The file actions run in the child, in this order:
     1. every source fd (the two pipe ends, then r->fds) is dup'd to a number above all of them
        and above the targets: a source may itself be a target (fd 4 passed as the 1st socket,
        which goes to 3, while fd 3 goes to 4), and dup2 straight to 3 would clobber it;
     2. /dev/null is opened as 0;
     3. each copy goes to its target, 1, 2, 3, …: dup2 to another number clears FD_CLOEXEC,
        which a same-number dup2 would not (glibc < 2.29 kept the flag);
     4. chdir; 5. every fd from 3 + nfds up is closed (the copies of step 1 with them). */
static int launch(const request_t *r, int out_w, int err_w, pid_t *pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t none, all;
  uint32_t count = r->nfds + 2;
  int high = 3 + (int)r->nfds;
#define SOURCE(i) ((i) == 0 ? out_w : (i) == 1 ? err_w : r->fds[(i) - 2])
  for (uint32_t i = 0; i < count; i++)
    if (SOURCE(i) >= high) high = SOURCE(i) + 1;

  int rc = posix_spawn_file_actions_init(&actions);
  if (rc != 0) return rc;
  if ((rc = posix_spawnattr_init(&attr)) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return rc;
  }
  for (uint32_t i = 0; rc == 0 && i < count; i++) rc = posix_spawn_file_actions_adddup2(&actions, SOURCE(i), high + (int)i);
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  for (uint32_t i = 0; rc == 0 && i < count; i++) rc = posix_spawn_file_actions_adddup2(&actions, high + (int)i, 1 + (int)i);
#undef SOURCE
  if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&actions, r->cwd);
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3 + (int)r->nfds);

  sigemptyset(&none);
  /* Every bit, not sigfillset(): that one leaves out glibc's two internal signals (32, 33), and
     the spawn child then sets those to SIG_IGN (so that none runs a handler of the parent while
     sharing its memory), which the program would keep across exec. SIG_DFL is as safe there:
     nothing sends them to a process that is not one of the parent's threads. sigaction fails
     harmlessly for SIGKILL and SIGSTOP. */
  memset(&all, 0xff, sizeof all);
  if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = posix_spawn(pid, r->file, &actions, &attr, r->argv, r->envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

#ifdef HAVE_CLONE3_CHILD
/* ---- the spawn into a cgroup: clone3 ------------------------------------------------------ */

/* clone3's argument, as <linux/sched.h> has it (that header clashes with glibc's <sched.h>). */
struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* What the child needs; `err` is the child's report back (the memory is shared, CLONE_VM). */
typedef struct {
  const request_t *r;
  int out_w, err_w;
  const int *fds; /* the sources of fds 3, 4, …: r->fds, or their copies in the slots */
  /* > 0: the fd table is shared (CLONE_FILES) and the sources sit below this number; the child
     unshares only the fds below it (close_range CLOSE_RANGE_UNSHARE) before it touches any. */
  int unshare_below;
  volatile int err;
} child_args_t;

#define CHILD_STACK_SIZE (64 * 1024)

/* The child, on its own stack, sharing the daemon's memory while the calling thread waits
   (CLONE_VFORK) until it execs or exits. The steps and their order are launch()'s file actions
   and posix_spawn's attributes: signal actions to default (all signals are blocked, so no
   handler of the daemon can run here), a new session, the fds, chdir, closefrom, the empty
   mask, exec. Only system calls: nothing that allocates or takes a lock another thread of the
   daemon could hold. On failure the errno goes to args->err and the child exits 127 unseen. */
static int start_child(void *p) {
  child_args_t *a = p;
  const request_t *r = a->r;
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {SIG_DFL, 0, NULL, 0};
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  if (syscall(SYS_setsid) < 0) goto fail;
  /* Shared table: take a private copy of the low fds only; the daemon's thousands of others
     (logs, pipes, sockets, pidfds of every service) are never copied, nor closed one by one. */
  if (a->unshare_below > 0 && syscall(SYS_close_range, a->unshare_below, ~0U, CLOSE_RANGE_UNSHARE) < 0) goto fail;
  uint32_t count = r->nfds + 2;
  int high = 3 + (int)r->nfds;
#define SOURCE(i) ((i) == 0 ? a->out_w : (i) == 1 ? a->err_w : a->fds[(i) - 2])
  for (uint32_t i = 0; i < count; i++)
    if (SOURCE(i) >= high) high = SOURCE(i) + 1;
  for (uint32_t i = 0; i < count; i++)
    if (syscall(SYS_dup2, SOURCE(i), high + (int)i) < 0) goto fail;
#undef SOURCE
  int null = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
  if (null < 0) goto fail;
  if (null != 0 && (syscall(SYS_dup2, null, 0) < 0 || syscall(SYS_close, null) < 0)) goto fail;
  for (uint32_t i = 0; i < count; i++)
    if (syscall(SYS_dup2, high + (int)i, 1 + (int)i) < 0) goto fail;
  if (syscall(SYS_chdir, r->cwd) < 0) goto fail;
  if (syscall(SYS_close_range, 3 + r->nfds, ~0U, 0) < 0) goto fail;
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
  syscall(SYS_execve, r->file, r->argv, r->envp);
fail:
  a->err = errno;
  return 127;
}

/* clone3 with the child running fn(arg) on args->stack, then exiting with its result: the
   child cannot return from a C function on a stack it did not come in on. x86-64 only (the
   registers are the kernel's syscall ABI; r8 and r9 survive the syscall in both processes). */
static long clone3_call(struct clone3_args *args, int (*fn)(void *), void *arg) {
  long ret;
  register int (*r8)(void *) __asm__("r8") = fn;
  register void *r9 __asm__("r9") = arg;
  __asm__ volatile(
      "syscall\n\t"
      "testq %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xorl %%ebp, %%ebp\n\t" /* the child: an outermost frame on its own stack */
      "andq $-16, %%rsp\n\t"
      "movq %%r9, %%rdi\n\t"
      "callq *%%r8\n\t"
      "movl %%eax, %%edi\n\t"
      "movl %[exit], %%eax\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:"
      : "=a"(ret)
      : "0"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r8), "r"(r9), [exit] "i"(SYS_exit)
      : "rcx", "r11", "memory", "cc");
  return ret;
}

/* Reserved low fds (see reserve_slots): while a spawn runs they hold the child's sources, so
   that a child sharing the daemon's fd table needs a private copy of these few fds only. */
#define SLOTS 16
static int slot_fd[SLOTS];
static int slot_null = -1;  /* /dev/null, put back into each slot after a spawn */
static int slot_limit = 0;  /* 0: no slots (then the child gets a full copy of the table) */

/* Opens /dev/null SLOTS + 1 times at load, when the daemon has few fds open, so that the slots
   are low numbers. Every slot is close-on-exec at all times: nothing else inherits one. */
static void reserve_slots(void) {
  int limit = 0;
  slot_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (int i = 0; i < SLOTS; i++) {
    slot_fd[i] = slot_null < 0 ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (slot_fd[i] < 0) return; /* no slots: slot_limit stays 0 */
    if (slot_fd[i] + 1 > limit) limit = slot_fd[i] + 1;
  }
  if (slot_null + 1 > limit) limit = slot_null + 1;
  if (limit <= 256) slot_limit = limit; /* else copying the low table saves little */
}

/* Starts the child with clone3: in the cgroup whose directory fd is `cgroup_fd` (CLONE_INTO_CGROUP;
   -1: the daemon's own), its pidfd with it. With slots and few enough fds, the sources are dup'd
   into the slots and the child shares the fd table until it unshares the part below slot_limit.
   0, or an errno (in *clone_failed when clone3 itself refused, which with a cgroup is about the
   cgroup: gone, not a leaf, or no permission). */
static int launch_clone3(const request_t *r, int out_w, int err_w, int cgroup_fd, pid_t *pid, int *pidfd, bool *clone_failed) {
  child_args_t args = {.r = r, .out_w = out_w, .err_w = err_w, .fds = r->fds, .unshare_below = 0, .err = 0};
  uint32_t count = r->nfds + 2;
  int slotted[SLOTS + 2];
  bool use_slots = slot_limit > 0 && count <= SLOTS;
  if (use_slots) {
    for (uint32_t i = 0; i < count; i++) {
      int source = i == 0 ? out_w : i == 1 ? err_w : r->fds[i - 2];
      if (dup3(source, slot_fd[i], O_CLOEXEC) < 0) return errno;
      slotted[i] = slot_fd[i];
    }
    args.out_w = slotted[0];
    args.err_w = slotted[1];
    args.fds = slotted + 2;
    args.unshare_below = slot_limit;
  }
  void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  int rc = 0;
  if (stack == MAP_FAILED) {
    rc = errno;
    goto out;
  }
  int child_pidfd = -1;
  struct clone3_args ca = {
      .flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | (use_slots ? CLONE_FILES : 0) | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
      .pidfd = (uint64_t)(uintptr_t)&child_pidfd,
      .exit_signal = SIGCHLD,
      .stack = (uint64_t)(uintptr_t)stack,
      .stack_size = CHILD_STACK_SIZE,
      .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
  };
  uint64_t all = ~(uint64_t)0, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, sizeof all);
  long ret = clone3_call(&ca, start_child, &args);
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
  munmap(stack, CHILD_STACK_SIZE);
  if (ret < 0) {
    *clone_failed = true;
    rc = (int)-ret;
  } else if (args.err != 0) { /* the child exited 127 before exec: reap it, report its errno */
    while (waitpid((pid_t)ret, NULL, 0) < 0 && errno == EINTR) {
    }
    close(child_pidfd);
    rc = args.err;
  } else {
    *pid = (pid_t)ret;
    *pidfd = child_pidfd;
  }
out:
  /* The slots go back to /dev/null: the daemon keeps no reference to the child's pipes there. */
  if (use_slots)
    for (uint32_t i = 0; i < count; i++) dup3(slot_null, slot_fd[i], O_CLOEXEC);
  return rc;
}

/* True where clone3 knows CLONE_INTO_CGROUP: asked with an fd nobody has open (INT_MAX; a
   larger number is EINVAL), it says EBADF (Linux >= 5.7) rather than EINVAL (an unknown flag)
   or ENOSYS. Nothing is started. */
static bool probe_into_cgroup(void) {
  struct clone3_args ca = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = 0x7fffffff};
  long rc = syscall(SYS_clone3, &ca, sizeof ca);
  if (rc == 0) _exit(0); /* cannot happen with fd -1; never run on as a second daemon */
  if (rc > 0) waitpid((pid_t)rc, NULL, 0);
  return rc < 0 && errno == EBADF;
}

/* True where our clone3 child can run every request: clone3 (Linux 5.3) answers a too-small
   argument with EINVAL rather than ENOSYS, and close_range (5.9, with CLOSE_RANGE_UNSHARE) has
   nothing to close from fd ~0U. Nothing is started. */
static bool probe_own_clone(void) {
  long rc = syscall(SYS_clone3, NULL, 0);
  if (rc >= 0 || errno != EINVAL) return false;
  return syscall(SYS_close_range, ~0U, ~0U, 0) == 0;
}
#else
static bool probe_into_cgroup(void) { return false; }
static bool probe_own_clone(void) { return false; }
#endif

/* Two pipes, close-on-exec at both ends (the child gets its copies through dup2), the read ends
   non-blocking for the event loop. The write ends stay blocking: they become the child's own
   stdout and stderr, and a program does not expect EAGAIN there. */
static int make_pipes(int out[2], int err[2]) {
  if (pipe2(out, O_CLOEXEC) != 0) return errno;
  if (pipe2(err, O_CLOEXEC) != 0) return errno;
  if (fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) return errno;
  return 0;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* A child we started but cannot watch: better gone now than running unsupervised. */
static void abandon(pid_t pid) {
  kill(-pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* ---- watching for the exit --------------------------------------------------------------- */

/* The close callback: with an env teardown pending, tells Node the hook is done (only then
   may it unload this addon, which holds this very function). */
static void free_child(uv_handle_t *handle) {
  child_t *c = handle->data;
  if (c->cleanup != NULL) napi_remove_async_cleanup_hook(c->cleanup);
  free(c);
}

/* Stops watching and closes the pidfd; the watcher is freed once libuv lets go of it. */
static void shut(child_t *c) {
  if (c->closed) return;
  c->closed = 1;
  uv_poll_stop(&c->poll);
  close(c->pidfd);
  uv_close((uv_handle_t *)&c->poll, free_child);
}

/* Environment teardown with children still running: a live uv handle would make the loop
   close abort. The children keep running; references die with the env. */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  child_t *c = arg;
  c->cleanup = handle;
  shut(c);
}

/* The (code, signal) pair of Node's 'exit' event. An exit nobody can know (the child was
   reaped by someone else's waitpid(-1)) is (null, null): still reported, so it is once. */
static void exit_values(napi_env env, int reaped, const siginfo_t *info, napi_value *code, napi_value *signal) {
  napi_get_null(env, code);
  napi_get_null(env, signal);
  if (!reaped) return;
  if (info->si_code == CLD_EXITED) {
    napi_create_int32(env, info->si_status, code);
  } else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) {
    char name[32];
    const char *abbrev = sigabbrev_np(info->si_status); /* "KILL"; NULL for real-time signals */
    if (abbrev != NULL) snprintf(name, sizeof name, "SIG%s", abbrev);
    else snprintf(name, sizeof name, "SIG%d", info->si_status);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, signal);
  }
}

/* The pidfd became readable: the child has exited. Reaps it, lets go of every resource, then
   calls onExit. An exception thrown by onExit is reported like any uncaught exception from an
   event-loop callback. */
static void on_pidfd_readable(uv_poll_t *poll, int status, int events) {
  (void)status;
  (void)events;
  child_t *c = poll->data;
  if (c->closed) return;
  siginfo_t info;
  int rc;
  memset(&info, 0, sizeof info);
  do rc = waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &info, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0 && info.si_pid == 0) return; /* still running: a spurious wake-up */

  napi_env env = c->env;
  napi_async_context async = c->async;
  napi_handle_scope scope;
  napi_value argv[2], callback, global, result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  exit_values(env, rc == 0, &info, &argv[0], &argv[1]);
  bool have_callback = napi_get_reference_value(env, c->on_exit, &callback) == napi_ok &&
                       napi_get_global(env, &global) == napi_ok;
  napi_delete_reference(env, c->on_exit);
  napi_remove_async_cleanup_hook(c->cleanup);
  c->cleanup = NULL;
  shut(c); /* frees c on a later loop turn: `async` was copied out above */
  /* make_callback, not call_function: runs microtasks afterwards, as any loop callback does. */
  if (have_callback && napi_make_callback(env, async, global, callback, 2, argv, &result) == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

/* Watches the child through `pidfd` (-1: opens one for pid); 0, or an errno with nothing left
   behind (the pidfd closed). */
static int watch_child(napi_env env, pid_t pid, int pidfd, napi_value on_exit) {
  if (pidfd < 0) pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by definition */
  if (pidfd < 0) return errno;
  child_t *c = calloc(1, sizeof *c);
  uv_loop_t *loop;
  napi_value resource_name;
  if (c == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &c->poll, pidfd) != 0) {
    close(pidfd);
    free(c);
    return ENOMEM;
  }
  c->pidfd = pidfd;
  c->env = env;
  c->poll.data = c;
  if (napi_create_reference(env, on_exit, 1, &c->on_exit) != napi_ok ||
      napi_create_string_utf8(env, "upkeep.spawn", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &c->async) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, c, &c->cleanup) != napi_ok) {
    c->cleanup = NULL;
    shut(c); /* the refs, if any, die with the env: a leak only on an out-of-memory path */
    return ENOMEM;
  }
  uv_poll_start(&c->poll, UV_READABLE, on_pidfd_readable);
  return 0;
}

/* ---- reading the output pipes ------------------------------------------------------------ */

/* One output pipe read on Node's loop (uv_poll) with no JS stream in between: a chunk is one
   onOutput(stream, Buffer) call, and the end of the pipe closes it here without a JS call. A
   net.Socket per pipe costs JS work at every start and every exit (its end, its destroy), in
   the path of a restart. */
typedef struct {
  uv_poll_t poll;
  int fd;
  int stream; /* 0: stdout, 1: stderr */
  int closed;
  napi_env env;
  napi_ref on_output;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* NULL once removed */
} reader_t;

static char read_buffer[64 * 1024]; /* the loop's thread only */

static void free_reader(uv_handle_t *handle) {
  reader_t *rd = handle->data;
  if (rd->cleanup != NULL) napi_remove_async_cleanup_hook(rd->cleanup);
  free(rd);
}

static void shut_reader(reader_t *rd, bool env_alive) {
  if (rd->closed) return;
  rd->closed = 1;
  uv_poll_stop(&rd->poll);
  close(rd->fd);
  if (env_alive) {
    napi_delete_reference(rd->env, rd->on_output);
    napi_async_destroy(rd->env, rd->async);
    napi_remove_async_cleanup_hook(rd->cleanup);
    rd->cleanup = NULL;
  }
  uv_close((uv_handle_t *)&rd->poll, free_reader);
}

static void on_reader_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  reader_t *rd = arg;
  rd->cleanup = handle;
  shut_reader(rd, false);
}

/* Reads what there is (at most 16 chunks a wake-up, so that one chatty service cannot hold the
   loop), hands each chunk to onOutput; at the end of the pipe or on an error, closes it. */
static void on_output_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  reader_t *rd = poll->data;
  if (rd->closed) return;
  bool done = status < 0;
  for (int round = 0; !done && round < 16; round++) {
    ssize_t n = read(rd->fd, read_buffer, sizeof read_buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      done = true;
      break;
    }
    napi_handle_scope scope;
    napi_value argv[2], callback, global, result;
    if (napi_open_handle_scope(rd->env, &scope) != napi_ok) return;
    void *data;
    bool ok = napi_create_int32(rd->env, rd->stream, &argv[0]) == napi_ok &&
              napi_create_buffer_copy(rd->env, (size_t)n, read_buffer, &data, &argv[1]) == napi_ok &&
              napi_get_reference_value(rd->env, rd->on_output, &callback) == napi_ok && napi_get_global(rd->env, &global) == napi_ok;
    if (ok && napi_make_callback(rd->env, rd->async, global, callback, 2, argv, &result) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(rd->env, &err) == napi_ok) napi_fatal_exception(rd->env, err);
    }
    napi_close_handle_scope(rd->env, scope);
    if (rd->closed) return; /* the env went away during the callback */
  }
  if (done) shut_reader(rd, true);
}

/* Starts reading `fd` (the read end of an output pipe, non-blocking); 0 or an errno, with the
   fd closed either way on failure. */
static int read_output(napi_env env, int fd, int stream, napi_value on_output) {
  reader_t *rd = calloc(1, sizeof *rd);
  uv_loop_t *loop;
  napi_value resource_name;
  if (rd == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &rd->poll, fd) != 0) {
    close(fd);
    free(rd);
    return ENOMEM;
  }
  rd->fd = fd;
  rd->stream = stream;
  rd->env = env;
  rd->poll.data = rd;
  if (napi_create_reference(env, on_output, 1, &rd->on_output) != napi_ok ||
      napi_create_string_utf8(env, "upkeep.output", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &rd->async) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_reader_cleanup, rd, &rd->cleanup) != napi_ok) {
    rd->cleanup = NULL;
    rd->closed = 1;
    close(fd);
    uv_close((uv_handle_t *)&rd->poll, free_reader);
    return ENOMEM;
  }
  uv_poll_start(&rd->poll, UV_READABLE, on_output_readable);
  return 0;
}

/* ---- JS entry points ------------------------------------------------------------------- */

static napi_value make_result(napi_env env, pid_t pid, int out_r, int err_r) {
  napi_value result, value;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  napi_create_int32(env, pid, &value);
  napi_set_named_property(env, result, "pid", value);
  napi_create_int32(env, out_r, &value);
  napi_set_named_property(env, result, "stdout", value);
  napi_create_int32(env, err_r, &value);
  napi_set_named_property(env, result, "stderr", value);
  return result;
}

/* The optional 7th argument: a cgroup directory, or NULL (absent, undefined, null). False with
   an error thrown when it is something else, or given where `intoCgroup` is false. */
static bool read_cgroup(napi_env env, size_t argc, napi_value *args, char **cgroup) {
  napi_valuetype type = napi_undefined;
  *cgroup = NULL;
  if (argc < 7 || napi_typeof(env, args[6], &type) != napi_ok || type == napi_undefined || type == napi_null) return true;
  if (!into_cgroup) {
    napi_throw_error(env, "ENOSYS", "spawn: this build or kernel cannot create a process in a cgroup (intoCgroup is false)");
    return false;
  }
  return (*cgroup = dup_string(env, args[6], "cgroup")) != NULL;
}

/* Starts the request, in `cgroup` when given; 0 or an errno, with a message in `what` when the
   errno is about the cgroup rather than the program. */
static int start_request(const request_t *r, const char *cgroup, bool via_posix_spawn, int out_w, int err_w, pid_t *pid, int *pidfd, const char **what) {
  *pidfd = -1;
#ifdef HAVE_CLONE3_CHILD
  if (cgroup == NULL && (via_posix_spawn || !own_clone)) return launch(r, out_w, err_w, pid);
  int fd = -1;
  if (cgroup != NULL && (fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
    *what = "cannot open the cgroup";
    return errno;
  }
  bool clone_failed = false;
  int rc = launch_clone3(r, out_w, err_w, fd, pid, pidfd, &clone_failed);
  if (fd >= 0) close(fd);
  if (clone_failed && fd >= 0) *what = "cannot create the process in the cgroup";
  return rc;
#else
  (void)via_posix_spawn;
  if (cgroup == NULL) return launch(r, out_w, err_w, pid);
  (void)pid;
  return ENOSYS; /* read_cgroup refused already */
#endif
}

static napi_value spawn_child(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value args[9];
  napi_valuetype cb_type;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return NULL;
  if (argc < 6 || napi_typeof(env, args[5], &cb_type) != napi_ok || cb_type != napi_function) {
    napi_throw_type_error(env, NULL, "spawn: expected (file, argv, envp, cwd, fds, onExit[, cgroup])");
    return NULL;
  }
  request_t r = {0};
  char *cgroup = NULL;
  bool via_posix_spawn = false;
  if (argc >= 8) {
    napi_valuetype t;
    if (napi_typeof(env, args[7], &t) == napi_ok && t == napi_boolean) napi_get_value_bool(env, args[7], &via_posix_spawn);
  }
  if (!read_request(env, args, &r) || !read_cgroup(env, argc, args, &cgroup)) {
    free_request(&r);
    return NULL;
  }
  if (!pidfd_works) {
    free_request(&r);
    free(cgroup);
    napi_throw_error(env, "ENOSYS", "spawn: this kernel cannot watch exits by pidfd (Linux >= 5.4 needed)");
    return NULL;
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  pid_t pid = -1;
  int pidfd = -1;
  const char *what = NULL;
  int rc = make_pipes(out, err);
  if (rc == 0) rc = start_request(&r, cgroup, via_posix_spawn, out[1], err[1], &pid, &pidfd, &what);
  close_fd(&out[1]);
  close_fd(&err[1]);
  if (rc == 0 && (rc = watch_child(env, pid, pidfd, args[5])) != 0) abandon(pid);
  if (rc != 0) {
    close_fd(&out[0]);
    close_fd(&err[0]);
    if (what != NULL) throw_cgroup_error(env, what, cgroup, rc);
    else throw_spawn_error(env, r.file, rc);
    free_request(&r);
    free(cgroup);
    return NULL;
  }
  free_request(&r);
  free(cgroup);
  napi_valuetype out_type = napi_undefined;
  if (argc >= 9 && napi_typeof(env, args[8], &out_type) == napi_ok && out_type == napi_function) {
    /* The addon reads the pipes itself: a failure to watch one loses that output, not the run. */
    read_output(env, out[0], 0, args[8]);
    read_output(env, err[0], 1, args[8]);
    return make_result(env, pid, -1, -1);
  }
  return make_result(env, pid, out[0], err[0]);
}

/* True when exits can be watched by pidfd: pidfd_open (Linux 5.3) and waitid(P_PIDFD) (5.4).
   Asked on our own pid, waitid says ECHILD where P_PIDFD is known and EINVAL where it is not. */
static bool probe_pidfd(void) {
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd < 0) return false;
  siginfo_t info;
  int rc = waitid((idtype_t)P_PIDFD, (id_t)fd, &info, WEXITED | WNOHANG);
  int err = rc < 0 ? errno : 0;
  close(fd);
  return err == ECHILD;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, flag;
  pidfd_works = probe_pidfd();
  into_cgroup = pidfd_works && probe_into_cgroup();
  own_clone = pidfd_works && probe_own_clone();
#ifdef HAVE_CLONE3_CHILD
  if (own_clone) reserve_slots();
#endif
  if (napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, spawn_child, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "spawn", fn) != napi_ok ||
      napi_get_boolean(env, pidfd_works, &flag) != napi_ok ||
      napi_set_named_property(env, exports, "pidfd", flag) != napi_ok ||
      napi_get_boolean(env, into_cgroup, &flag) != napi_ok ||
      napi_set_named_property(env, exports, "intoCgroup", flag) != napi_ok ||
      napi_get_boolean(env, own_clone, &flag) != napi_ok ||
      napi_set_named_property(env, exports, "ownClone", flag) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
