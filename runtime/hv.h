/* hv - the parts of tach-hv, the hypervisor runtime: a tree of zygotes
 * serving one project root. A private header for runtime/hv_*.c; the wire
 * protocol that clients speak is include/tach/hv.h.
 *
 *   tach-hv --root DIR --python PATH --listen-fd N [--idle S] [--held C:E:T:NODEID]...
 *
 * Started by tach-run (runtime/hvclient.c) with the listening socket as fd N,
 * detached: its own session, stdin /dev/null, output to .tach/hv.log.
 *
 * The base zygote embeds CPython configured as PATH would be (its prefix,
 * so a virtualenv's site-packages are used), imports pytest and configures
 * it in ROOT (conftest.py files at the root, plugins, ini options;
 * runtime/zygote.py). For each test file it forks a sub-zygote that
 * collects that file with pytest's own machinery; the sub-zygote's
 * workers take its requests. A worker snapshots itself (runtime/reset.h),
 * loads the Iron Dome (runtime/sandbox.c), runs the node id's items
 * through pytest's runtest protocol, writing the harness's events straight
 * to the client's connection, is reset to its snapshot and says so to the
 * sub-zygote, which appends how the test ended, and takes the next
 * request; one that cannot be reset exits, and without reset (an old
 * kernel, TACH_HV_RESET=0) each test is a child that _exits. Neither
 * zygote runs test code, and a worker's death is only ever a result.
 *
 * Nothing stale is ever used. Each zygote reports the files it depends on
 * (the project's modules it imported, configuration, conftest.py, the test
 * file), and the base watches their directories with inotify. Before a
 * request is routed, the pending events are read: a sub-zygote whose files
 * changed is retired (it finishes what it runs, then exits) and the next
 * request for its file gets a new one; a change to the base's own files
 * re-executes tach-hv, keeping the listening socket and the requests it
 * holds (--held), so clients never notice. A file changed while a zygote
 * was importing it (its mtime falls inside the import) counts as changed.
 * Requests for a sub-zygote still collecting wait in the base, so none
 * reaches a zygote before its files are checked.
 *
 * Requests come from the uid of this process only (SO_PEERCRED). After
 * --idle seconds without a test request (HV_DEFAULT_IDLE; STATUS is no
 * activity), or a STOP request, the base removes the socket under
 * .tach/hv.lock (a client that connected before gets no answer and starts
 * a new zygote), lets the sub-zygotes finish, and exits.
 *
 * A stopped zygote (SIGSTOP, SIGTSTP, a debugger's stop) must never hang a
 * run: no zygote waits on one, nor on a silent client, without a deadline.
 * The base hears a sub-zygote stop (SIGCHLD, through a pipe its handler
 * writes to) and kills it with its test processes; a request's sub-zygote
 * is looked at before the request goes to it, and must take the request
 * (fork its test process, or answer it) within SUB_ANSWER seconds or be
 * killed: the requests lost with it come back from their clients, and a
 * new sub-zygote serves the file. Shutting down, the base waits for its
 * sub-zygotes to end their tests (each within its timeout) but kills
 * those that are stopped. The base cannot see itself stopped: its clients
 * do, and kill and replace it (include/tach/hv.h). A reply waits
 * CLIENT_WAIT at most for a client that reads nothing. A test is never
 * taken for a stopped zygote: its timeout is its own, enforced by its
 * sub-zygote.
 *
 * One binary runs three kinds of process; each has its file:
 *   hv_base.c   the base zygote: main, requests, routing, re-execution,
 *               shutdown
 *   hv_subz.c   the base's records of its sub-zygotes
 *   hv_sub.c    a sub-zygote: collects its file, runs and reaps test processes
 *   hv_child.c  a test process (a worker): its snapshot, the Iron Dome,
 *               then test after test, each followed by a reset
 * and the parts they share:
 *   hv_watch.c  the base's inotify watches over the files the zygotes read
 *   hv_py.c     the embedded CPython, the only file that includes Python.h:
 *               the others call tach_zygote through its py_* functions,
 *               with C strings in and out
 *   hv_util.c   the log, replies to a client, string vectors
 *   reset.c     a worker's snapshot and reset (no knowledge of tach-hv)
 *   fdpass.c    descriptors over sockets (shared with hvclient.c)
 *
 * Names say which process runs the code:
 *   base_   the base zygote's own work;
 *   subz_   the base keeping its record of a sub-zygote (struct sub):
 *           starting it, passing it requests, retiring it;
 *   sub_    the sub-zygote process itself;
 *   child_  a test process;
 *   watch_  the base's watches;
 *   py_     a call into Python, in whichever process makes it.
 * The global `base` is the base zygote's alone. Sub-zygotes and test
 * processes inherit a copy when they fork but never read it: what they need
 * is given to sub_main() and child_main(). */
#ifndef TACH_RUNTIME_HV_H
#define TACH_RUNTIME_HV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tach/hv.h"

struct tach_deadline;	/* include/tach/deadline.h */

#define CHUNK 16384		/* bytes of file list per message */
#define MAXSUBS 64		/* sub-zygotes kept; the least recently used goes */
/* Seconds a zygote waits for a client to take a reply (send_all): one
 * that reads nothing that long is stopped, and must not stop the zygote. */
#define CLIENT_WAIT 5
/* Seconds a sub-zygote has to take a request it was sent ('A'): it only
 * forks, from a poll loop, so this is ages even on a loaded machine, and
 * more than a reply to a stopped client may keep it; one that takes
 * longer is stopped or stuck, and is killed. */
#define SUB_ANSWER 10

struct htab;
struct sandbox;
struct wdir;

/* A request that waits in the base for its sub-zygote. */
struct held {
	int conn, errfd;
	uint32_t timeout_ms;
	char *nodeid;
	double deadline;	/* while it waits for a collecting sub-zygote; 0: none */
};

/* The base's record of a sub-zygote. */
struct sub {
	long id;
	char *file;		/* the test file, relative to the root */
	pid_t pid;
	int chan;		/* SOCK_SEQPACKET to the sub-zygote */
	int ready;		/* its files are checked: requests go through */
	int stale;
	struct held *held;
	size_t nheld, capheld;
	double used;
	unsigned long served;
	unsigned unanswered;	/* requests sent that it has not taken yet */
	double answer_by;	/* when it must have taken one more of them */
	int64_t t0;		/* when it started importing, ns since the epoch */
};

/* Message from the base to a sub-zygote, and from a sub-zygote to its
 * spare test process: 'Q', the timeout, the node id; with the connection
 * and the client's output file. */
struct qmsg {
	char type;
	uint32_t timeout_ms;
	char nodeid[65536];	/* the spec */
};

/* A test process of a sub-zygote. A spare is forked ahead of its request
 * and waits on sock for it, already sandboxed and warmed up. A worker
 * (runtime/reset.h) keeps sock: it says 'D' there when its test is over
 * and it is reset, and waits there for the next request. */
struct child {
	pid_t pid;
	int pidfd, conn, sock;	/* conn: the client's, once assigned */
	int worker;
	int finished;		/* a worker said its test is over ('F') */
	double hangup;		/* when a worker's client hung up; 0: it did not */
	double idle_since;	/* a worker between requests: since when */
	unsigned long served;
	/* the request waiting for this worker's reset (it said 'F'): its
	 * message and descriptors; NULL: none */
	void *nextq;
	size_t nextqlen;
	int next_conn, next_errfd;
	double deadline;	/* 0: none */
	int warned, timed_out;
	int killed;		/* its client is gone */
	struct tach_deadline *page;	/* where its harness writes its item's deadline */
};

/* The base zygote's state (runtime/hv_base.c). */
struct base {
	char *root, *python, *exe;
	char *args;		/* the options tach passes to pytest */
	char *cwd;		/* where the client that started us ran */
	uint64_t envhash;	/* of the environment we were started with */
	char *failure;		/* pytest could not start: every request's answer */
	char *unsafe;		/* the configuration left threads or processes: every
				 * test goes to the isolated runtime, and why */
	int clean;		/* --clean: the isolated runtime's zygote (see below) */
	int lfd, ifd, dirfd;
	int idle;
	struct sub **subs;
	size_t nsubs, capsubs;
	long next_id;
	struct htab *files;	/* path -> struct wfile (runtime/hv_watch.c) */
	struct htab *dirs;	/* path -> struct wdir */
	struct wdir **wds;	/* by watch descriptor */
	size_t capwds;
	int stale;		/* a file of the base's changed: re-execute */
	double started, last;
	unsigned long requests;
	struct sandbox *sb;
	struct held *pending;	/* requests not yet routed, kept by base_reexec() */
	size_t npending;
	ino_t sock_ino;
	int sigchld[2];		/* a pipe SIGCHLD's handler writes to: the wake */
};

extern struct base base;

/* hv_base.c: routes a request to the sub-zygote of its test file, starting
 * one when there is none. Takes the request. */
void base_route(struct held *h);

/* hv_subz.c: the base's records of its sub-zygotes */
/* Closes a held request's descriptors and frees it. */
void held_free(struct held *h);
/* Frees a record whose process is gone. */
void subz_free(struct sub *s);
/* Takes s out of base.subs. */
void subz_remove(struct sub *s);
/* Keeps a request in s until it is ready. Takes h. */
void subz_hold(struct sub *s, struct held *h);
/* Starts the sub-zygote of s->file. Its held requests must be in s already,
 * so that it does not inherit their descriptors. Returns 0 or -1. */
int subz_fork(struct sub *s);
/* Sends a held request on to a ready sub-zygote. Returns 0 or -1. */
int subz_forward(struct sub *s, struct held *h);
/* Retires a sub-zygote: it finishes its tests and exits when its channel
 * closes. Its held requests go back to be routed again. */
void subz_retire(struct sub *s);
/* A sub-zygote died or failed before it was ready: its held requests get
 * the reason. */
void subz_failed(struct sub *s, const char *why);
/* Kills a sub-zygote that is stopped or does not take its requests (why
 * says which), with its test processes, and retires it. */
void subz_kill(struct sub *s, const char *why);
/* Kills the sub-zygotes that have not taken a request by their answer_by. */
void subz_check_answers(void);
/* Handles what a sub-zygote sends: its files, then 'R', then 'A' for each
 * request it took; EOF when it is gone. */
void subz_message(struct sub *s);
/* The least recently used sub-zygote goes when there are too many. */
void subz_evict(void);
/* Retires the sub-zygotes whose files changed. */
void subz_retire_stale(void);

/* hv_util.c */
int64_t wall_ns(void);
/* After a zygote imported what (a file, "the configuration"): why nothing
 * may be forked from it (threads, child processes other than the known
 * ones, network sockets), naming who made them when Python saw it; NULL
 * when it is safe. A zygote is a child subreaper, so a process the import
 * left behind, detached or not, is its child. */
char *hv_unsafe_state(const char *what, const pid_t *known, size_t nknown);
/* Kills (with their process groups) and reaps the children not in known:
 * nothing an import started outlives the zygote's finding. */
void hv_kill_leftovers(const pid_t *known, size_t nknown);
/* Tells a client to run its request in the isolated runtime, and why:
 * {"event": "toxic", "reason": why}. */
void hv_reply_toxic(int conn, const char *why);
/* One line to the log (stderr), stamped with the pid; a format ending in
 * ':' appends strerror(errno). */
void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sends all of s to a client within CLIENT_WAIT; a client that is gone,
 * or takes nothing that long, is not an error. */
void send_all(int fd, const char *s, size_t n);
/* Sends a client {"event": name}, with key: value when key is not NULL. */
void hv_send_event(int conn, const char *name, const char *key, const char *value);
/* {"event": "exit", "status": S, "signal": null, "signo": null, "timeout": T}
 * for a test process that ended (ended: status is its wait status; a signal
 * gives status null and the signal's name and number), or with everything
 * null when none ran (a request that timed out waiting). */
void hv_send_exit(int conn, int ended, int status, int timed_out);
/* Tells a client its request could not be run at all. */
void reply_error(int conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees a NULL-terminated array of strings and the strings. */
void strv_free(char **v);

/* hv_watch.c: the owner of a file is a sub-zygote's id, or -1 for the base.
 * Watches path for owner. A file whose mtime falls at or after t0 (the
 * owner began importing) changed under it: the owner is stale at once. */
void watch_file(const char *path, long owner, int64_t t0);
/* Watches tach's own files: this binary and the Python beside it. */
void watch_self(int64_t t0);
/* Reads every pending inotify event and marks stale the zygotes that
 * depend on what changed (base.stale, struct sub's stale). */
void watch_read_changes(void);

/* hv_sub.c: the sub-zygote of file (relative to the root), talking to the
 * base on chan; its test processes load sb. With sb NULL, the clean
 * zygote's: it collects nothing, and each test process runs a whole pytest
 * session (tach_zygote.fresh) in a process group of its own. Never
 * returns. */
_Noreturn void sub_main(const char *file, int chan, const struct sandbox *sb);

/* hv_child.c: in a fresh child of a sub-zygote (parent), the dome sb, then
 * the test: the request (conn, errfd, nodeid), or when conn < 0 a spare,
 * which warms up and takes its request from sock. kids are the sub-zygote's
 * other test processes, whose descriptors it closes; page, its deadline
 * page, shared with the sub-zygote (or NULL). A worker (worker, with sock)
 * snapshots itself before the dome and, after each test, is reset to the
 * snapshot (runtime/reset.h), tells the sub-zygote 'D' on sock and takes
 * the next request from it. Never returns. */
_Noreturn void child_main(int conn, int errfd, const char *nodeid, int sock, int chan, pid_t parent,
    const struct child *kids, size_t nkids, const struct sandbox *sb, struct tach_deadline *page, int worker);

/* hv_py.c. Every char * returned is the caller's to free; an error is the
 * Python exception's text with its traceback. Starts the interpreter as
 * python would start, with tach's Python files beside exe importable, and
 * imports tach_zygote. Returns NULL, or the error. */
char *py_start(const char *python, const char *exe);
/* tach_zygote.init(root, args): the files the base depends on,
 * NULL-terminated (free with strv_free), or NULL with the error in *err. */
char **py_init(const char *root, const char *args, char **err);
/* tach_zygote.clean_init: the clean zygote's start (pytest configured, its
 * session started, no conftest.py loaded); the files it depends on, as
 * py_init. */
char **py_clean_init(const char *root, const char *args, char **err);
/* tach_zygote.collect(file): the files the sub-zygote depends on, as
 * py_init. */
char **py_collect(const char *file, char **err);
/* Why pytest could not start (tach_zygote.start_failure), or NULL when it
 * did; *by_project says whether the project is the cause. */
char *py_start_failure(int *by_project);
/* tach_zygote.files(): the paths pytest's whole collection makes collectors
 * for and the project files it imported to find them, each NULL-terminated
 * (free with strv_free). Returns NULL, or the error. */
char *py_files(char ***paths, char ***imported);
/* tach_zygote.answer(spec): the events of a request no test process needs
 * to run, or NULL; *err is set when the call failed. */
char *py_answer(const char *spec, char **err);
/* tach_zygote.FN(), and tach_zygote.run(spec, conn, errfd). Return NULL, or
 * the error. */
char *py_call(const char *fn);
/* tach_zygote.unsafe(): who started threads (processes) while this zygote
 * imported; a new string (maybe empty), or NULL with *err. */
char *py_unsafe(int threads, int processes, int sockets, char **err);
/* Whether the harness called _tach.retire() (a test the Iron Dome
 * stopped): the worker is not reset for another test. */
int py_retiring(void);
/* In a test process: the page _tach.deadline_page() gives the harness. */
void py_deadline_page(struct tach_deadline *page);
char *py_call_run(const char *spec, int conn, int errfd);
/* tach_zygote.fresh: in a test process of a clean zygote, the initial
 * conftests loaded, spec's file collected and its items run. */
char *py_call_fresh(const char *spec, int conn, int errfd);
/* In a worker, before its snapshot: pymalloc's arenas from a reserve, and
 * a heap grown, so that tests reuse memory instead of mapping it anew
 * after every reset. Returns 0, or -1 (no reserve: nothing changed). */
int py_headroom(void);
/* Around every fork of a process with the interpreter. */
void py_before_fork(void);
void py_after_fork_parent(void);
void py_after_fork_child(void);

#endif
