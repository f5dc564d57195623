/* hv - the hypervisor's wire protocol and its client side
 * (runtime/hvclient.c), used by tach-run and `tach hv`.
 *
 * One zygote serves a project root. It listens on ROOT/.tach/hv.sock
 * (directory 0700, socket 0600) and refuses peers of another uid
 * (SO_PEERCRED). ROOT/.tach/hv.lock serialises "connect, or start a zygote":
 * the client holding it binds and listens on the socket itself and hands the
 * listening descriptor to the new tach-hv, so every client that comes after
 * connects at once and waits in the backlog while the zygote starts; there is
 * never more than one zygote, however many clients start together.
 * ROOT/.tach/hv.pid holds the zygote's pid, ROOT/.tach/hv.log its output
 * (the names: TACH_HV_* in tach/statedir.h).
 *
 * A request is one message on a stream connection: struct hv_req followed
 * by len bytes of payload, with SCM_RIGHTS carrying one descriptor for RUN
 * (a file the test process's stdout and stderr go to, so a crash's last
 * words reach the client). The payload is NUL-terminated strings:
 *   RUN     nodeid, python, claims, pytest options, working directory,
 *           then the client's environment, one "NAME=value" a string
 *   STATUS  (none)
 *   STOP    (none)
 * Replies are JSON objects one a line. RUN gets the harness's events
 * (runtime/harness.py), then {"event": "exit", ...} with how the test
 * process ended: "status" (exit status or null), "signal" (name or null),
 * "timeout" (true when killed at the deadline) — or {"event": "exit",
 * "error": "..."} when the zygote could not run it at all. STATUS gets one
 * object describing the zygote; STOP gets {"event": "stopping"}.
 *
 * claims is "" for a node id asked for directly, "-" for an edge of a
 * manifest that is not its file's first, and for the first edge the file
 * naming every edge of the file: that edge runs the items no edge claimed
 * too (see tach-run --claims). A zygote runs tests as the user's pytest would in the
 * client's shell, so a request whose interpreter, pytest options, working
 * directory or environment differ from the zygote's makes it start again
 * with the request's (a relative PYTHONPATH resolves from the directory).
 * Inside the zygote a request's node id and claims travel as one spec,
 * "NODEID" HV_CLAIMS_SEP "CLAIMS". */
#ifndef TACH_HV_H
#define TACH_HV_H

#include <stdint.h>
#include <sys/types.h>

#define HV_MAGIC 0x54484831u	/* "THH1" */
#define HV_VERSION 2
#define HV_MAXPAYLOAD (4u << 20)
#define HV_RUN_FIELDS 5		/* RUN's strings before the environment */
#define HV_CLAIMS_SEP "\x1f"
/* RUN's node id that asks instead for the files pytest's collection of the
 * whole session would make collectors for: the reply is one line,
 * {"event": "files", "paths": [PATH relative to the root, ...]} */
#define HV_FILES_SPEC HV_CLAIMS_SEP "files"
#define HV_DEFAULT_IDLE 600	/* seconds a zygote waits for work */
#define TACH_DEFAULT_TIMEOUT 300	/* seconds a test may run (tach-run --timeout) */

enum hv_kind {
	HV_RUN = 1,
	HV_STATUS = 2,
	HV_STOP = 3,
};

struct hv_req {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;
	uint32_t timeout_ms;	/* RUN: 0 for none */
	uint32_t len;		/* payload bytes */
};

/* Opens ROOT/.tach (creating it 0700) as a directory descriptor; sockets
 * are named through /proc/self/fd/N/hv.sock, so a long ROOT never exceeds
 * sun_path. Returns the descriptor, or -1 with errno set. */
int hv_dir(const char *root, int create);
/* Opens ROOT/.tach/clean, the directory of the clean zygote, which serves
 * the isolated runtime (tach-hv --clean: an interpreter that has imported
 * pytest and its plugins and nothing of the project; each test process
 * runs a whole pytest session over its file, without the dome, and leaves
 * no process behind). Its files have the same names as the hypervisor's,
 * there. Returns the descriptor, or -1 with errno set. */
int hv_clean_dir(const char *root, int create);
/* Fills *addr for the socket of the zygote under dirfd. Returns its length. */
int hv_addr(int dirfd, void *addr);

/* Connects to the zygote of dirfd's project. Returns a descriptor, or -1
 * with errno set (ENOENT or ECONNREFUSED: no zygote). Connecting, and
 * sending on the descriptor, wait HV_SEND_WAIT seconds at most (EAGAIN). */
int hv_connect(int dirfd);

/* A zygote that is stopped (SIGSTOP, SIGTSTP, a debugger's stop) answers
 * no one, while a running one always answers in time: its base is a poll
 * loop, which only starting (importing pytest and the conftest files) or
 * listing files for a client keeps busy, and then it is not stopped.
 * Clients wait in slices of HV_TICK_MS and look at the zygote after each:
 * a stopped one is killed (it runs as their own uid) and replaced, as a
 * zygote that is gone is. A long test is never taken for a stopped zygote:
 * once the test process answers, the zygote is no part of the reply. */
#define HV_SEND_WAIT 30		/* s: room in a zygote's backlog or socket */
#define HV_LOCK_WAIT 10		/* s: hv.lock, which a client holds for a fork */
#define HV_TICK_MS 500		/* ms between looks at a silent zygote */
#define HV_STOPPED_MS 500	/* ms it stays stopped: not a profiler's pause */

/* Whether the process pid is a zygote serving root (tach-hv --root ROOT)
 * that is stopped, and still is HV_STOPPED_MS later. */
int hv_is_stopped(long pid, const char *root);
/* Waits for sock to be readable until deadline (monotime()): 1 when it is,
 * 0 at the deadline, -1 when the zygote is stopped (hv_is_stopped). With
 * dirfd >= 0 the zygote is the pid in its hv.pid, else *pid; *pid is kept
 * as the last pid seen there, for hv_kill(). */
int hv_wait(int sock, int dirfd, const char *root, double deadline, long *pid);
/* Kills the stopped zygote pid under dirfd and those of its sub-zygotes
 * that are stopped too (the others end their tests and exit when they see
 * it gone), waits a moment for it to be gone and removes its hv.pid. */
void hv_kill(int dirfd, long pid);
/* hv_kill(), saying on stderr that the (clean, with clean) zygote of root
 * was stopped and is replaced. */
void hv_replace_stopped(int dirfd, const char *root, int clean, long pid);
/* Kills a zygote process after its children and their process groups (a
 * clean zygote's test processes lead one each), stopping it first so that
 * it reaps none of them meanwhile. SIGKILL ends a stopped process too. */
void hv_kill_zygote(pid_t pid);

struct hv_spawn {
	const char *root;
	const char *python;
	const char *args;	/* pytest options */
	const char *hv;		/* the tach-hv binary */
	int idle;		/* seconds; 0 for HV_DEFAULT_IDLE */
	int clean;		/* the clean zygote (tach-hv --clean), see hv_clean_dir() */
};

/* Connects to the zygote, starting one when there is none (see above).
 * Returns a connected descriptor, or -1 with a message in *err (freed by
 * the caller). */
int hv_connect_or_spawn(int dirfd, const struct hv_spawn *sp, char **err);

/* A hash of an environment (NULL-terminated "NAME=value" strings), the
 * same whatever their order. */
uint64_t hv_env_hash(const char *const *env);
/* Appends a RUN payload to b: the fields (NULL reads as ""), then this
 * process's working directory and environment. */
struct buf;
void hv_run_payload(struct buf *b, const char *nodeid, const char *python, const char *claims,
    const char *args);

/* Sends a request, with fd (>= 0) attached. Returns 0, or -1 with errno. */
int hv_send(int sock, enum hv_kind kind, uint32_t timeout_ms, const char *payload, uint32_t len, int fd);

/* The pid in ROOT/.tach/hv.pid, or 0. */
long hv_pid(int dirfd);

/* `tach hv status|stop` for the project at root (runtime/hvctl.c).
 * Returns the exit status. */
int hv_command(const char *what, const char *root);

#endif
