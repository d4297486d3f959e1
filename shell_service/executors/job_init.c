/*
 * shell_service's job init: the root process that runs, contains and ends one job.
 *
 * The launcher (launcher.py) starts one per job with posix_spawn, as process 1 of
 * the job's own PID namespace when it may (root), after it has made the job's
 * directory, output files and cgroup (job_init.prepare). This program runs with
 * the service's rights, so it keeps the privilege boundary (ARCHITECTURE.md):
 *
 *   - it starts from the launcher's fixed, empty environment, reads no
 *     environment variable, and runs no program but the job's interpreter
 *     (by the absolute path in the request);
 *   - it never reads, follows or writes anything the job can write: it writes
 *     only through the job directory's descriptor (root-owned) and into the
 *     cgroup tree;
 *   - the job's env and args reach only execve(), in the job's own process,
 *     after it has dropped to the job's user.
 *
 * Why C and not Python: every Python fork copies the page tables of a ~15 MB
 * interpreter and then takes a copy-on-write fault on every page its reference
 * counts touch; two of them per job (the init, and the job before its exec)
 * cost more CPU than the job's own shell. Measured in BENCHMARKS.md.
 *
 * Descriptors it is started with (JOB_INIT_FDS in job_init.py):
 *   3 the job directory (made by the launcher, root 0711, holding only `attempt`),
 *   4 the request, 5 the script's text, 6 the stdin's text (when there is one);
 *   the last three are anonymous files, read from offset 0.
 * SIGTERM arrives blocked (the launcher's spawn mask) so that the executor's
 * "end the job" waits until we listen for it.
 *
 * A Slurm job's batch script runs it as `job_init --pid-namespace` with the same
 * descriptors (executors/slurm/batch.py): see enter_pid_namespace.
 *
 * The request (job_init.encode_request): NUL-terminated "key=value" entries,
 *   root=<job directory path>  uid=<n> gid=<n>  umask=<n>  tmp=<dir>
 *   private_mounts=0|1  pid_namespace=0|1  kill_grace_ms=<n>  max_log_bytes=<n>
 *   stdin=0|1 (whether descriptor 6 holds the job's stdin)
 *   timeout_ms=<n> (optional: from now, when the init ends the job by itself)
 *   rlimit=<RLIMIT_* number>:<value, -1 for none>   (repeated)
 *   cgroup_dir=<path>   (repeated)     memory_events=<path>
 *   arg=<argv entry>    (repeated, argv[0] is the interpreter's absolute path)
 *   env=<NAME=value>    (repeated)
 *
 * The job's life here:
 *   0. the job's files in its directory: work/ (0700) with the script (0600),
 *      stdin, stdout and stderr (0600); work/ and the script are handed to the
 *      job's user once the script is written. Here rather than in the launcher:
 *      inits run in parallel, and on a busy disk making files is most of the
 *      cost of a launch (BENCHMARKS.md);
 *   1. a mount and IPC namespace of the job's own: a fresh /proc (only the
 *      job's processes), the user's own directory over /tmp and /var/tmp, an
 *      empty /dev/shm and /run/lock, System V IPC no other job sees;
 *   2. fork the job: default signals, stdio, rlimits, into its cgroup (so all
 *      it forks is inside, and this process is not: the OOM killer never picks
 *      it), the user's group and uid, no new privileges, umask, chdir, execve;
 *   3. copy its output from pipes to the stdout/stderr files, up to
 *      max_log_bytes each, cut on a UTF-8 character boundary (utf8.py's rule);
 *      past the cap the pipe is still drained, and the record says so;
 *   4. when the job's main process ends, SIGTERM comes from the executor
 *      (timeout, cancel, a disabled user), or its timeout passes (the init
 *      keeps it even while no executor runs), end every other process of the job:
 *      SIGCONT and SIGTERM, up to kill_grace, then SIGKILL. As process 1 of the
 *      namespace this process is every orphan's parent, and its exit kills
 *      whatever is left, so nothing outlives the job (not even setsid daemons).
 *      Without a PID namespace (not root) it is a child subreaper and ends its
 *      descendants one by one, found in /proc;
 *   5. write the end record, exit_status (JSON: "code", "dropped", and
 *      "exec_error", "error", "out_of_memory" when they apply, and "timed_out"
 *      when it was given a timeout: whether the script's main process was
 *      still running at the deadline), remove the
 *      cgroup and exit. The job's output is final then.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ROOT_FD = 3, REQUEST_FD = 4, SCRIPT_FD = 5, STDIN_DATA_FD = 6 };

/* Exit status when the job's interpreter could not be executed (as sh does). */
#define EXEC_FAILED 127
#define MAX_REQUEST_BYTES (64 << 20)
#define PIPE_CHUNK 65536
#define MAX_RLIMITS 16
#define MAX_CGROUPS 8
#define MESSAGE_BYTES 1024

struct request {
    const char *root;
    long uid, gid; /* -1: keep ours (not root) */
    mode_t umask;
    const char *tmp;
    int private_mounts, pid_namespace, has_stdin;
    long kill_grace_ms;
    long long timeout_ms; /* -1: none */
    long long max_log_bytes;
    int rlimit_count;
    int rlimit_resource[MAX_RLIMITS];
    rlim_t rlimit_value[MAX_RLIMITS];
    int cgroup_count;
    const char *cgroup_dirs[MAX_CGROUPS];
    const char *memory_events;
    char **argv; /* NULL-terminated */
    char **envp;
};

/* The reason the job could not run, for the record's "error" (ours) or
 * "exec_error" (the job's interpreter). */
static char failure[MESSAGE_BYTES];

static void fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(failure, sizeof failure, format, args);
    va_end(args);
}

/* ---- the request ------------------------------------------------------------------- */

static int parse_long(const char *text, long long *out) {
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end) return -1;
    *out = value;
    return 0;
}

/* Read and parse the request on REQUEST_FD; 0, or -1 with `failure` set. The
 * strings point into one buffer that lives as long as the process. */
static int read_request(struct request *r) {
    struct stat st;
    if (fstat(REQUEST_FD, &st) != 0 || st.st_size <= 0 || st.st_size > MAX_REQUEST_BYTES) {
        fail("the request is missing or too large");
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (!data) {
        fail("out of memory");
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(REQUEST_FD, data + got, size - got, (off_t)got);
        if (n <= 0) {
            fail("reading the request: %s", n ? strerror(errno) : "short");
            return -1;
        }
        got += (size_t)n;
    }
    close(REQUEST_FD);
    data[size] = '\0';
    if (data[size - 1] != '\0') {
        fail("the request does not end with NUL");
        return -1;
    }
    size_t args = 0, envs = 0;
    for (char *p = data; p < data + size; p += strlen(p) + 1) {
        if (!strncmp(p, "arg=", 4)) args++;
        if (!strncmp(p, "env=", 4)) envs++;
    }
    memset(r, 0, sizeof *r);
    r->uid = r->gid = -1;
    r->timeout_ms = -1;
    r->umask = 077;
    r->argv = calloc(args + 1, sizeof *r->argv);
    r->envp = calloc(envs + 1, sizeof *r->envp);
    if (!r->argv || !r->envp) {
        fail("out of memory");
        return -1;
    }
    size_t argc = 0, envc = 0;
    for (char *p = data, *next; p < data + size; p = next) {
        next = p + strlen(p) + 1; /* before the '=' below becomes a NUL */
        char *value = strchr(p, '=');
        if (!value) {
            fail("a request entry without '='");
            return -1;
        }
        *value++ = '\0';
        long long number = 0;
        int numeric = parse_long(value, &number) == 0;
        if (!strcmp(p, "arg")) r->argv[argc++] = value;
        else if (!strcmp(p, "env")) r->envp[envc++] = value;
        else if (!strcmp(p, "root")) r->root = value;
        else if (!strcmp(p, "tmp")) r->tmp = value;
        else if (!strcmp(p, "memory_events")) r->memory_events = value;
        else if (!strcmp(p, "cgroup_dir")) {
            if (r->cgroup_count == MAX_CGROUPS) {
                fail("too many cgroup directories");
                return -1;
            }
            r->cgroup_dirs[r->cgroup_count++] = value;
        } else if (!strcmp(p, "rlimit")) {
            char *colon = strchr(value, ':');
            long long resource, limit;
            if (!colon || r->rlimit_count == MAX_RLIMITS) {
                fail("a malformed rlimit");
                return -1;
            }
            *colon = '\0';
            if (parse_long(value, &resource) || parse_long(colon + 1, &limit) || limit < -1) {
                fail("a malformed rlimit");
                return -1;
            }
            r->rlimit_resource[r->rlimit_count] = (int)resource;
            r->rlimit_value[r->rlimit_count++] = limit == -1 ? RLIM_INFINITY : (rlim_t)limit;
        } else if (!numeric) {
            fail("the request's %s is not a number", p);
            return -1;
        } else if (!strcmp(p, "uid")) r->uid = (long)number;
        else if (!strcmp(p, "gid")) r->gid = (long)number;
        else if (!strcmp(p, "umask")) r->umask = (mode_t)(number & 0777);
        else if (!strcmp(p, "private_mounts")) r->private_mounts = number != 0;
        else if (!strcmp(p, "pid_namespace")) r->pid_namespace = number != 0;
        else if (!strcmp(p, "stdin")) r->has_stdin = number != 0;
        else if (!strcmp(p, "kill_grace_ms")) r->kill_grace_ms = (long)number;
        else if (!strcmp(p, "timeout_ms")) r->timeout_ms = number < 0 ? 0 : number;
        else if (!strcmp(p, "max_log_bytes")) r->max_log_bytes = number;
        else {
            fail("an unknown request entry %s", p);
            return -1;
        }
    }
    if (r->pid_namespace && getpid() != 1) {
        /* Its end would signal every process it can see (kill(-1)): the host's. */
        fail("the request says pid_namespace=1, but this init is not process 1 of one");
        return -1;
    }
    if (!r->root || r->root[0] != '/' || argc == 0 || r->argv[0][0] != '/') {
        fail("the request needs an absolute root and interpreter");
        return -1;
    }
    if ((r->uid < 0) != (r->gid < 0)) {
        fail("the request has a uid without a gid, or the other way round");
        return -1;
    }
    return 0;
}

/* ---- 0. the job's files -------------------------------------------------------------- */

/* Descriptors of what prepare_files made: work/, and the job's stdin, stdout and
 * stderr files. */
struct job_files {
    int work, stdin_fd, stdout_fd, stderr_fd;
};

/* Copy the anonymous file `from` (from its start) into `to`; 0, or -1. */
static int copy_file(int from, int to) {
    char buffer[PIPE_CHUNK];
    off_t at = 0;
    for (;;) {
        ssize_t n = pread(from, buffer, sizeof buffer, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(to, buffer + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return -1;
            done += w;
        }
        at += n;
    }
}

/* A new file `name` in directory `dir` (never through a link) holding what the
 * anonymous file `from` holds; 0, or -1 with `failure` set. */
static int write_new_file(int dir, const char *name, int from) {
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || copy_file(from, fd) != 0) {
        fail("writing %s: %s", name, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* The job's files, in the job directory the launcher made (ROOT_FD, root's:
 * nothing in it is the job's yet). 0, or -1 with `failure` set. */
static int prepare_files(const struct request *r, struct job_files *f) {
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    if (mkdirat(ROOT_FD, "work", 0700) != 0) { /* exact: the launcher's umask is 022 */
        fail("mkdir work: %s", strerror(errno));
        return -1;
    }
    f->work = openat(ROOT_FD, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f->work < 0) {
        fail("open work: %s", strerror(errno));
        return -1;
    }
    if (write_new_file(f->work, "script", SCRIPT_FD) != 0) return -1;
    close(SCRIPT_FD);
    if (r->has_stdin) {
        if (write_new_file(ROOT_FD, "stdin", STDIN_DATA_FD) != 0) return -1;
        close(STDIN_DATA_FD);
        f->stdin_fd = openat(ROOT_FD, "stdin", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    } else {
        f->stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    f->stdout_fd = openat(ROOT_FD, "stdout", flags, 0600);
    f->stderr_fd = openat(ROOT_FD, "stderr", flags, 0600);
    if (f->stdin_fd < 0 || f->stdout_fd < 0 || f->stderr_fd < 0) {
        fail("opening the job's stdin, stdout or stderr: %s", strerror(errno));
        return -1;
    }
    /* The work directory goes to the job's user last: until then nothing of the
     * job could have replaced the script. */
    if (r->uid >= 0 && (fchownat(f->work, "script", (uid_t)r->uid, (gid_t)r->gid, AT_SYMLINK_NOFOLLOW) ||
                        fchown(f->work, (uid_t)r->uid, (gid_t)r->gid))) {
        fail("handing work/ to the job's user: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- 1. the job's own mounts --------------------------------------------------------- */

static int is_real_dir(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int private_namespaces(const struct request *r) {
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC) != 0) {
        fail("unshare(CLONE_NEWNS | CLONE_NEWIPC): %s", strerror(errno));
        return -1;
    }
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fail("making / private: %s", strerror(errno));
        return -1;
    }
    if (r->pid_namespace && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
        fail("mount /proc: %s", strerror(errno));
        return -1;
    }
    if (r->tmp) {
        /* By descriptor: once /tmp is covered its path may lead elsewhere; and
         * O_NOFOLLOW: never mount where a symlink points. */
        int tmp = open(r->tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tmp < 0) {
            fail("open %s: %s", r->tmp, strerror(errno));
            return -1;
        }
        char source[64];
        snprintf(source, sizeof source, "/proc/self/fd/%d", tmp);
        const char *targets[] = {"/tmp", "/var/tmp"};
        for (size_t i = 0; i < 2; i++) {
            if (is_real_dir(targets[i]) && mount(source, targets[i], NULL, MS_BIND, NULL)) {
                fail("mount %s: %s", targets[i], strerror(errno));
                return -1;
            }
        }
        close(tmp);
    }
    /* World-writable directories other users' jobs could leave files in: each job
     * gets an empty one of its own (memory, charged to the job's cgroup). */
    const char *private_tmpfs[] = {"/dev/shm", "/run/lock"};
    for (size_t i = 0; i < 2; i++) {
        if (is_real_dir(private_tmpfs[i]) &&
            mount("tmpfs", private_tmpfs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=25%")) {
            fail("mount %s: %s", private_tmpfs[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- 2. the job's own process -------------------------------------------------------- */

/* In the forked child: become the job and exec its interpreter. Never returns;
 * a failure is written to error_fd (the parent reads it) and exits 127. */
static void exec_job(const struct request *r, const struct job_files *f, int out_w, int err_w,
                     int error_fd) {
    const char *step = "signals";
    char path[PATH_MAX];
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    step = "stdio";
    if (dup2(f->stdin_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) goto failed;
    for (int i = 0; i < r->rlimit_count; i++) {
        struct rlimit limit = {r->rlimit_value[i], r->rlimit_value[i]};
        step = "setrlimit";
        if (setrlimit(r->rlimit_resource[i], &limit) != 0) goto failed;
    }
    /* The job joins its cgroup, not its init: when the job passes its memory the
     * OOM killer picks among the job's processes, never the init. */
    for (int i = 0; i < r->cgroup_count; i++) {
        snprintf(path, sizeof path, "%s/cgroup.procs", r->cgroup_dirs[i]);
        step = path;
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write(fd, "0", 1) != 1) goto failed; /* 0: this process */
        close(fd);
    }
    if (r->uid >= 0) {
        gid_t gid = (gid_t)r->gid;
        step = "setgroups";
        if (setgroups(1, &gid) != 0) goto failed;
        step = "setresgid";
        if (setresgid(gid, gid, gid) != 0) goto failed;
        step = "setresuid";
        if (setresuid((uid_t)r->uid, (uid_t)r->uid, (uid_t)r->uid) != 0) goto failed;
    }
    /* By path, in the job's own mounts (a descriptor from before them would leave
     * the job a cwd getcwd() cannot name), as the job's user; then checked
     * against the directory the launcher made. */
    snprintf(path, sizeof path, "%s/work", r->root);
    step = path;
    if (chdir(path) != 0) goto failed;
    struct stat here, made;
    if (stat(".", &here) != 0 || fstat(f->work, &made) != 0) goto failed;
    if (here.st_dev != made.st_dev || here.st_ino != made.st_ino) {
        dprintf(error_fd, "%s is not the job's directory in its mounts (jobs.dir under /tmp?)", path);
        _exit(EXEC_FAILED);
    }
    /* setuid programs (su, sudo, ...) can no longer raise the job's rights. */
    step = "prctl(NO_NEW_PRIVS)";
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) goto failed;
    umask(r->umask);
    step = "close_range";
    if (syscall(SYS_close_range, 3, error_fd - 1, 0) != 0) goto failed;
    if (syscall(SYS_close_range, error_fd + 1, ~0U, 0) != 0) goto failed;
    step = r->argv[0];
    execve(r->argv[0], r->argv, r->envp);
failed:
    dprintf(error_fd, "%s: %s", step, strerror(errno));
    _exit(EXEC_FAILED);
}

/* ---- 3. the job's output ------------------------------------------------------------- */

/* How many bytes at the end of data (0 to 3) start a UTF-8 character whose other
 * bytes have not come yet: utf8.incomplete_tail, the same rule (Unicode 3.9,
 * table 3-7). */
static size_t incomplete_tail(const unsigned char *data, size_t size) {
    for (size_t back = 1; back <= 3 && back <= size; back++) {
        unsigned char byte = data[size - back];
        if (byte >= 0x80 && byte < 0xC0) continue; /* a continuation: its lead is further back */
        size_t length;
        unsigned char low = 0x80, high = 0xBF; /* the second byte's range */
        if (byte >= 0xC2 && byte <= 0xDF) length = 2;
        else if (byte >= 0xE0 && byte <= 0xEF) length = 3;
        else if (byte >= 0xF0 && byte <= 0xF4) length = 4;
        else return 0; /* ASCII, or a byte that never starts a character */
        if (byte == 0xE0) low = 0xA0;
        if (byte == 0xED) high = 0x9F;
        if (byte == 0xF0) low = 0x90;
        if (byte == 0xF4) high = 0x8F;
        if (back >= length) return 0; /* the character is whole */
        unsigned char second = data[size - back + 1];
        if (back >= 2 && (second < low || second > high)) return 0; /* already invalid */
        return back;
    }
    return 0;
}

struct output {
    int pipe_fd, file_fd;
    long long room;
    int open;
    int dropped; /* output past the cap was read and not kept */
};

static void output_close(struct output *o) {
    if (o->open) {
        o->open = 0;
        close(o->pipe_fd);
        close(o->file_fd);
    }
}

static void write_all(int fd, const char *data, size_t size) {
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* a full disk: what is kept stops there */
        data += n;
        size -= (size_t)n;
    }
}

/* Copy what the pipe holds now (it is non-blocking); at end of file, close. */
static void output_pump(struct output *o) {
    static char buffer[PIPE_CHUNK];
    while (o->open) {
        ssize_t n = read(o->pipe_fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return; /* EAGAIN: nothing more now */
        if (n == 0) {
            output_close(o);
            return;
        }
        size_t kept = (size_t)n;
        if ((long long)kept > o->room) {
            kept = (size_t)o->room;
            kept -= incomplete_tail((unsigned char *)buffer, kept);
            o->room = 0;
            o->dropped = 1;
        } else {
            o->room -= (long long)kept;
        }
        write_all(o->file_fd, buffer, kept);
    }
}

/* ---- 4. ending the job ----------------------------------------------------------------- */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Every process below `self` (not in a PID namespace): read from /proc, the
 * parent of each, then walked from us. Returns how many pids were put in out. */
static size_t descendants(pid_t self, pid_t *out, size_t capacity) {
    static pid_t pids[65536], parents[65536];
    size_t count = 0, found = 0;
    DIR *proc = opendir("/proc");
    if (!proc) return 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) && count < 65536) {
        char *end;
        long pid = strtol(entry->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        char path[64], stat[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (n <= 0) continue;
        stat[n] = '\0';
        char *paren = strrchr(stat, ')'); /* the name may hold anything but this is last */
        int ppid;
        char state;
        if (!paren || sscanf(paren + 1, " %c %d", &state, &ppid) != 2) continue;
        pids[count] = (pid_t)pid;
        parents[count++] = (pid_t)ppid;
    }
    closedir(proc);
    /* Breadth-first from us: out[] doubles as the queue. */
    size_t next = 0;
    pid_t parent = self;
    for (;;) {
        for (size_t i = 0; i < count && found < capacity; i++)
            if (parents[i] == parent) out[found++] = pids[i];
        if (next == found) break;
        parent = out[next++];
    }
    return found;
}

struct init {
    const struct request *r;
    pid_t job_pid;
    int job_status, job_ended;
    long long ending_since; /* -1: not ending */
    long long deadline;     /* -1: none */
    int killed, timed_out;
};

/* sig to every process of the job (not to this one). */
static void signal_all(const struct init *in, int sig) {
    /* kill(-1) reaches every process of our PID namespace: only as its process 1
     * (read_request refused the request otherwise; checked again here, since
     * outside a namespace of its own it would reach every process of the host). */
    if (in->r->pid_namespace && getpid() == 1) {
        kill(-1, sig);
        return;
    }
    static pid_t found[65536];
    size_t n = descendants(getpid(), found, 65536);
    for (size_t i = 0; i < n; i++) kill(found[i], sig);
}

static void begin_ending(struct init *in) {
    if (in->ending_since < 0) {
        in->ending_since = now_ms();
        signal_all(in, SIGCONT); /* a stopped process must see TERM */
        signal_all(in, SIGTERM);
    }
}

/* Collect ended children; whether any is left. */
static int reap(struct init *in) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0) return errno == EINTR ? 1 : 0; /* ECHILD: none left */
        if (pid == 0) return 1;
        if (pid == in->job_pid) {
            in->job_status = status;
            in->job_ended = 1;
            /* Timed out: the script's main process was still running at the
             * deadline, whoever sent the TERM that ended it. One that ended in
             * time did not, however long its leftovers take to go. */
            if (in->deadline >= 0 && now_ms() >= in->deadline) in->timed_out = 1;
            begin_ending(in);
        }
    }
}

/* Copy output and reap until every process of the job has ended. */
static void supervise(struct init *in, struct output *outputs, int signal_fd) {
    struct pollfd polled[3] = {
        {.fd = signal_fd, .events = POLLIN},
        {.fd = outputs[0].pipe_fd, .events = POLLIN},
        {.fd = outputs[1].pipe_fd, .events = POLLIN},
    };
    for (;;) {
        long long wake = -1; /* when to look again without an event */
        if (in->ending_since >= 0 && !in->killed) wake = in->ending_since + in->r->kill_grace_ms;
        else if (in->ending_since < 0 && in->deadline >= 0) wake = in->deadline;
        int timeout = -1;
        if (wake >= 0) {
            long long left = wake - now_ms();
            timeout = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        if (poll(polled, 3, timeout) > 0) {
            if (polled[0].revents & POLLIN) {
                struct signalfd_siginfo info;
                while (read(signal_fd, &info, sizeof info) == sizeof info)
                    if (info.ssi_signo == SIGTERM) begin_ending(in);
            }
            for (int i = 0; i < 2; i++) {
                if (polled[i + 1].revents) {
                    output_pump(&outputs[i]);
                    if (!outputs[i].open) polled[i + 1].fd = -1; /* poll skips it */
                }
            }
        }
        if (in->ending_since < 0 && in->deadline >= 0 && now_ms() >= in->deadline) {
            in->timed_out = 1;
            begin_ending(in);
        }
        int left = reap(in);
        if (in->ending_since >= 0 && !in->killed && now_ms() >= in->ending_since + in->r->kill_grace_ms) {
            in->killed = 1;
            signal_all(in, SIGKILL);
        }
        if (!left) break;
    }
    /* Every process of the job is gone: what is left in the pipes is the rest. */
    for (int i = 0; i < 2; i++) {
        output_pump(&outputs[i]);
        output_close(&outputs[i]);
    }
}

/* ---- 5. the end record ------------------------------------------------------------------ */

/* Whether the kernel killed something in the job for memory (the "oom_kill"
 * line of memory.events, or of memory.oom_control on cgroup v1). */
static int out_of_memory(const char *memory_events) {
    if (!memory_events) return 0;
    FILE *f = fopen(memory_events, "re");
    if (!f) return 0;
    char line[256];
    int killed = 0;
    long long count;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "oom_kill %lld", &count) == 1 && count > 0) killed = 1;
    fclose(f);
    return killed;
}

/* A JSON string of text: quotes, backslashes and control characters escaped;
 * bytes past ASCII become '?' (the messages are ours, in English). */
static void json_string(char *out, size_t capacity, const char *text) {
    size_t at = 0;
    out[at++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p && at + 8 < capacity; p++) {
        if (*p == '"' || *p == '\\') at += (size_t)snprintf(out + at, capacity - at, "\\%c", *p);
        else if (*p < 0x20) at += (size_t)snprintf(out + at, capacity - at, "\\u%04x", *p);
        else out[at++] = *p < 0x80 ? (char)*p : '?';
    }
    out[at++] = '"';
    out[at] = '\0';
}

/* The end record, in one write, through the job directory's descriptor (paths
 * may mean other things in the job's mounts). A reader that races the write sees
 * a record it cannot parse, as if there were none (JobFiles.read_end), and looks
 * again once this process has exited. */
static int write_end(const char *record) {
    int fd = openat(ROOT_FD, "exit_status", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    ssize_t size = (ssize_t)strlen(record);
    ssize_t n = write(fd, record, (size_t)size);
    close(fd);
    return n == size ? 0 : -1;
}

/* Run as `job_init --pid-namespace` (a Slurm job's batch script: no launcher made
 * a PID namespace for it): make one, and go on in a child that is its process 1;
 * this process stays as the one Slurm started and tracks, passes SIGTERM (a cancel:
 * scancel --batch) and the terminal's signals on to that init, and exits with its
 * status. The init dies with it (PR_SET_PDEATHSIG: Slurm's KILL at its time limit
 * or a memory kill takes the whole namespace). Returns in the child only. */
static void enter_pid_namespace(void) {
    sigset_t forwarded, old;
    sigemptyset(&forwarded);
    int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD};
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) sigaddset(&forwarded, signals[i]);
    sigprocmask(SIG_BLOCK, &forwarded, &old);
    if (unshare(CLONE_NEWPID) != 0) {
        fprintf(stderr, "job_init: unshare(CLONE_NEWPID): %s\n", strerror(errno));
        _exit(EXEC_FAILED);
    }
    pid_t init = fork();
    if (init < 0) {
        fprintf(stderr, "job_init: fork: %s\n", strerror(errno));
        _exit(EXEC_FAILED);
    }
    if (init == 0) {
        /* (getppid() is 0 here: the parent is outside the namespace. Should it die
         * before this line, Slurm's end of the step kills what it left.) */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    for (int fd = ROOT_FD; fd <= STDIN_DATA_FD; fd++) close(fd); /* the init's now */
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&forwarded, &info);
        if (sig < 0) continue; /* EINTR */
        if (sig != SIGCHLD) {
            kill(init, sig);
            continue;
        }
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0)
            if (done == init) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--pid-namespace")) enter_pid_namespace();
    struct request r = {.uid = -1, .gid = -1};
    struct init in = {.r = &r, .job_pid = -1, .ending_since = -1, .deadline = -1};
    struct job_files files = {-1, -1, -1, -1};
    struct output outputs[2] = {{.pipe_fd = -1}, {.pipe_fd = -1}};
    char exec_error[MESSAGE_BYTES] = "";
    int ok = 0;

    prctl(PR_SET_NAME, "shell_svc-init", 0, 0, 0);
    /* Signals: SIGTERM (from the executor: end the job) and SIGCHLD come through a
     * signalfd; the rest of a terminal's signals are not for us. */
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, NULL);
    int signals[] = {SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE};
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) signal(signals[i], SIG_IGN);
    int signal_fd = signalfd(-1, &handled, SFD_NONBLOCK | SFD_CLOEXEC);

    if (signal_fd < 0) {
        fail("signalfd: %s", strerror(errno));
    } else if (read_request(&r) == 0) {
        int out[2], err[2], error[2];
        if (prepare_files(&r, &files) != 0) {
            /* failure says why */
        } else if (!r.pid_namespace && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
            fail("prctl(CHILD_SUBREAPER): %s", strerror(errno));
        } else if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(error, O_CLOEXEC)) {
            fail("pipe: %s", strerror(errno));
        } else if (r.private_mounts && private_namespaces(&r) != 0) {
            /* failure says why */
        } else if ((in.job_pid = fork()) < 0) {
            fail("fork: %s", strerror(errno));
        } else if (in.job_pid == 0) {
            exec_job(&r, &files, out[1], err[1], error[1]);
        } else {
            close(files.work);
            close(files.stdin_fd);
            close(out[1]);
            close(err[1]);
            close(error[1]);
            /* Empty at once when the exec succeeded (the pipe closes on exec). */
            size_t got = 0;
            ssize_t n;
            while (got < sizeof exec_error - 1 &&
                   ((n = read(error[0], exec_error + got, sizeof exec_error - 1 - got)) > 0 ||
                    (n < 0 && errno == EINTR)))
                if (n > 0) got += (size_t)n;
            exec_error[got] = '\0';
            close(error[0]);
            if (got) dprintf(files.stderr_fd, "could not start the job: %s\n", exec_error);
            outputs[0].pipe_fd = out[0];
            outputs[0].file_fd = files.stdout_fd;
            outputs[1].pipe_fd = err[0];
            outputs[1].file_fd = files.stderr_fd;
            for (int i = 0; i < 2; i++) {
                outputs[i].open = 1;
                outputs[i].room = r.max_log_bytes;
                fcntl(outputs[i].pipe_fd, F_SETFL, O_NONBLOCK);
            }
            if (r.timeout_ms >= 0) in.deadline = now_ms() + r.timeout_ms;
            supervise(&in, outputs, signal_fd);
            ok = 1;
        }
    }

    /* The record: {"code": ..., "dropped": [...], ...}. */
    char record[4 * MESSAGE_BYTES], text[3 * MESSAGE_BYTES];
    size_t at = 0;
    if (ok && in.job_ended) {
        int code = WIFSIGNALED(in.job_status) ? 128 + WTERMSIG(in.job_status) : WEXITSTATUS(in.job_status);
        at += (size_t)snprintf(record + at, sizeof record - at, "{\"code\": %d", code);
        if (exec_error[0] && code == EXEC_FAILED) {
            json_string(text, sizeof text, exec_error);
            at += (size_t)snprintf(record + at, sizeof record - at, ", \"exec_error\": %s", text);
        }
    } else {
        json_string(text, sizeof text, ok ? "the job's process was never reaped" : failure);
        at += (size_t)snprintf(record + at, sizeof record - at, "{\"code\": null, \"error\": %s", text);
    }
    at += (size_t)snprintf(record + at, sizeof record - at, ", \"dropped\": [%s%s%s]",
                           outputs[0].dropped ? "\"stdout\"" : "",
                           outputs[0].dropped && outputs[1].dropped ? ", " : "",
                           outputs[1].dropped ? "\"stderr\"" : "");
    if (in.deadline >= 0)
        at += (size_t)snprintf(record + at, sizeof record - at, ", \"timed_out\": %s",
                               in.timed_out ? "true" : "false");
    if (r.cgroup_count) {
        int oom = out_of_memory(r.memory_events);
        for (int i = 0; i < r.cgroup_count; i++) rmdir(r.cgroup_dirs[i]);
        at += (size_t)snprintf(record + at, sizeof record - at, ", \"out_of_memory\": %s", oom ? "true" : "false");
    }
    snprintf(record + at, sizeof record - at, "}");
    return write_end(record) == 0 ? 0 : 1;
}
