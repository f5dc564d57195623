/* Unit tests for runtime/reset.c: in a child process, a snapshot, a
 * "test" that changes the process, a reset, and checks that everything is
 * as it was (and reset_verify() finds no page that differs). Each case
 * runs in a fork of its own; the child's exit status says which check
 * failed (0: all held). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/reset.h"

#define FDBASE 700

static int global = 7;
static char *heap;
static char *region;		/* an anonymous mapping made before the snapshot */
static const size_t region_len = 64 * 4096;

static void
on_usr1(int sig)
{
	(void)sig;
}

/* The child's checks: a failed one exits with its line number. */
#define CHECK(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #c); \
			_exit(__LINE__ % 250 + 1); \
		} \
	} while (0)

static void
verified(void)
{
	char msg[256];
	long n = reset_verify(msg, sizeof(msg));

	if (n != 0)
		fprintf(stderr, "verify: %s\n", msg);
	CHECK(n == 0);
}

/* Runs fn in a child after a snapshot; returns its exit status. */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void
setup(void)
{
	heap = malloc(1 << 20);
	memset(heap, 'h', 1 << 20);
	region = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(region != MAP_FAILED);
	memset(region, 'r', region_len);
}

static void
snapshot(void)
{
	const char *why;

	setup();
	if (reset_snapshot(__builtin_frame_address(0), FDBASE, &why) < 0) {
		fprintf(stderr, "snapshot: %s: %s\n", why, strerror(errno));
		_exit(250);
	}
}

static void
restore(void)
{
	const char *why;

	if (reset_restore(&why) < 0) {
		fprintf(stderr, "restore: %s\n", why);
		_exit(251);
	}
}

static void
memory_case(void)
{
	char *big, *small;
	int round;

	snapshot();
	for (round = 0; round < 3; round++) {
		global = 99;
		memset(heap, 'x', 1 << 20);
		memset(region + 4096, 'y', 4096);
		big = malloc(64 << 20);		/* a mapping of its own */
		memset(big, 1, 64 << 20);
		small = malloc(100);		/* the heap grows */
		strcpy(small, "left behind");
		free(heap);			/* freed, as a test would */
		restore();
		verified();
		CHECK(global == 7);
		CHECK(heap[0] == 'h' && heap[(1 << 20) - 1] == 'h');
		CHECK(region[4096] == 'r');
	}
}

/* Resident pages of [p, p + len). */
static size_t
resident(char *p, size_t len)
{
	unsigned char v[8192];
	size_t n = 0, i, pages = len / 4096;

	CHECK(pages <= sizeof(v) && mincore(p, len, v) == 0);
	for (i = 0; i < pages; i++)
		n += v[i] & 1;
	return n;
}

/* Pages that are 0 in the snapshot (mapped, never written): made 0 again
 * and kept, but given back when a test newly wrote more than 16 MiB of
 * them. The mapping is made just before the snapshot with the flags of
 * the reset's own bookkeeping, which the kernel then merges with it: it
 * is tracked all the same. */
static void
zero_case(void)
{
	const size_t len = 32 << 20, page = 4096;
	const char *why;
	char *z;
	size_t i;

	setup();
	z = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(z != MAP_FAILED);
	z[0] = 'q';
	if (reset_snapshot(__builtin_frame_address(0), FDBASE, &why) < 0) {
		fprintf(stderr, "snapshot: %s: %s\n", why, strerror(errno));
		_exit(250);
	}
	/* a few pages, twice: kept */
	for (i = 0; i < 2; i++) {
		z[0] = 'w';
		memset(z + page, 'a', 100 * page);
		restore();
		verified();
		CHECK(z[0] == 'q' && z[page] == 0 && z[101 * page - 1] == 0);
		CHECK(resident(z + page, 100 * page) == 100);
	}
	/* 20 MiB newly written: given back, but the pages written before */
	memset(z + page, 'b', 20 << 20);
	restore();
	/* (before anything reads them: a read maps the zero page) */
	CHECK(resident(z + page, 100 * page) == 100);
	CHECK(resident(z + 101 * page, 5000 * page) == 0);
	verified();
	CHECK(z[page] == 0 && z[(20 << 20) - 1] == 0);
}

static void
mappings_case(void)
{
	void *fresh;
	unsigned char vec;

	snapshot();
	/* what the snapshot had, unmapped and mapped over; a new mapping left */
	CHECK(munmap(region, region_len / 2) == 0);
	CHECK(mmap(region + region_len / 2, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
	fresh = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(fresh != MAP_FAILED);
	memset(fresh, 1, 1 << 20);
	restore();
	verified();
	CHECK(region[0] == 'r' && region[region_len / 2] == 'r' && region[region_len - 1] == 'r');
	region[0] = 'w';	/* writable again */
	CHECK(mincore(fresh, 4096, &vec) < 0 && errno == ENOMEM);
	restore();
	verified();
	CHECK(region[0] == 'r');
}

static void
descriptors_case(void)
{
	struct stat before, after;
	int p[2], fd;

	CHECK(fstat(1, &before) == 0);
	snapshot();
	CHECK(pipe(p) == 0);
	CHECK(dup2(p[1], 1) == 1);
	fd = open("/dev/null", O_RDONLY);
	CHECK(fd >= 0);
	restore();
	verified();
	CHECK(fstat(1, &after) == 0);
	CHECK(before.st_ino == after.st_ino && before.st_dev == after.st_dev);
	CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	CHECK(fcntl(p[0], F_GETFD) < 0 && errno == EBADF);
}

static void
kernel_case(void)
{
	char cwd[4096], now[4096];
	struct itimerval it;
	struct sigaction sa;
	struct rlimit rl, rl2;
	sigset_t mask;
	mode_t m;

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	snapshot();
	CHECK(chdir("/") == 0);
	umask(0077);
	signal(SIGUSR1, on_usr1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	it = (struct itimerval){{0, 0}, {1000, 0}};
	setitimer(ITIMER_REAL, &it, NULL);
	rl2 = rl;
	rl2.rlim_cur = rl.rlim_cur / 2;
	setrlimit(RLIMIT_NOFILE, &rl2);
	restore();
	verified();
	CHECK(getcwd(now, sizeof(now)) != NULL && strcmp(now, cwd) == 0);
	m = umask(0);
	CHECK(m != 0077);
	CHECK(sigaction(SIGUSR1, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &mask) == 0 && !sigismember(&mask, SIGUSR2));
	CHECK(getitimer(ITIMER_REAL, &it) == 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl2) == 0 && rl2.rlim_cur == rl.rlim_cur);
}

static void *
sleeper(void *arg)
{
	(void)arg;
	sleep(60);
	return NULL;
}

static void
thread_case(void)
{
	pthread_t t;
	const char *why;

	snapshot();
	CHECK(pthread_create(&t, NULL, sleeper, NULL) == 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "thread") != NULL);
}

static void
child_case(void)
{
	const char *why;
	pid_t pid;

	snapshot();
	pid = fork();
	if (pid == 0) {
		sleep(60);
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "process") != NULL);
	kill(pid, SIGKILL);
}

static void
pending_case(void)
{
	const char *why;
	sigset_t mask;

	snapshot();
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	raise(SIGUSR1);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "signal is pending") != NULL);
}

static char *readonly;

static void
gone_case(void)
{
	const char *why;

	readonly = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(readonly != MAP_FAILED);
	snapshot();
	/* not tracked (read-only), so nothing to copy it back from: gone */
	CHECK(munmap(readonly, 4096) == 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "mapping of the snapshot is gone") != NULL);
}

static void
limit_case(void)
{
	const char *why;
	struct rlimit rl, low;

	CHECK(getrlimit(RLIMIT_CORE, &rl) == 0);
	snapshot();
	low = (struct rlimit){0, 0};
	CHECK(setrlimit(RLIMIT_CORE, &low) == 0);
	if (reset_restore(&why) == 0) {
		/* allowed to raise it again (CAP_SYS_RESOURCE): raised */
		CHECK(getrlimit(RLIMIT_CORE, &low) == 0 && low.rlim_max == rl.rlim_max);
	} else {
		CHECK(rl.rlim_max == 0 || strstr(why, "limit") != NULL);
	}
}

static void
session_case(void)
{
	const char *why;

	snapshot();
	CHECK(setsid() > 0 || setpgid(0, 0) == 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "session or process group") != NULL);
}

static void
dumpable_case(void)
{
	const char *why;
	int was;

	snapshot();
	was = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	CHECK(prctl(PR_SET_DUMPABLE, !was, 0, 0, 0) == 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "dumpable") != NULL);
}

static void
deathsig_case(void)
{
	int sig = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	snapshot();
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	restore();
	CHECK(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig == SIGKILL);
}

static void
verify_case(void)
{
	char msg[256];

	snapshot();
	restore();
	/* written after the reset: the comparison must see it */
	global = 12345;
	CHECK(reset_verify(msg, sizeof(msg)) == 1);
	CHECK(strstr(msg, "1 pages differ") != NULL);
}

static void
own_fd_case(void)
{
	const char *why;

	snapshot();
	/* closing the reset's own descriptors: it cannot go on */
	close_range(FDBASE, ~0U, 0);
	CHECK(reset_restore(&why) < 0);
	CHECK(strstr(why, "descriptor") != NULL);
}

static void
twin_case(void)
{
	pid_t twin;

	snapshot();
	twin = reset_twin();
	CHECK(twin > 0);
	CHECK(kill(twin, 0) == 0);
	/* the twin does not outlive its process: checked by the parent */
	printf("%d\n", (int)twin);
}

static void
test_memory(void **state)
{
	(void)state;
	assert_int_equal(in_child(memory_case), 0);
}

static void
test_zero_pages(void **state)
{
	(void)state;
	assert_int_equal(in_child(zero_case), 0);
}

static void
test_mappings(void **state)
{
	(void)state;
	assert_int_equal(in_child(mappings_case), 0);
}

static void
test_descriptors(void **state)
{
	(void)state;
	assert_int_equal(in_child(descriptors_case), 0);
}

static void
test_kernel(void **state)
{
	(void)state;
	assert_int_equal(in_child(kernel_case), 0);
}

static void
test_thread_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(thread_case), 0);
}

static void
test_child_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(child_case), 0);
}

static void
test_pending_signal_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(pending_case), 0);
}

static void
test_mapping_gone_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(gone_case), 0);
}

static void
test_limit_lowered(void **state)
{
	(void)state;
	assert_int_equal(in_child(limit_case), 0);
}

static void
test_session_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(session_case), 0);
}

static void
test_dumpable_retires(void **state)
{
	(void)state;
	assert_int_equal(in_child(dumpable_case), 0);
}

static void
test_deathsig_restored(void **state)
{
	(void)state;
	assert_int_equal(in_child(deathsig_case), 0);
}

static void
test_verify_finds(void **state)
{
	(void)state;
	assert_int_equal(in_child(verify_case), 0);
}

static void
test_own_descriptors(void **state)
{
	(void)state;
	assert_int_equal(in_child(own_fd_case), 0);
}

static void
test_twin_dies_with_it(void **state)
{
	int p[2], status, saved;
	char buf[32] = {0};
	pid_t pid, twin;
	int i;

	(void)state;
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		twin_case();
		fflush(NULL);
		_exit(0);
	}
	close(p[1]);
	saved = (int)read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(saved > 0);
	twin = (pid_t)atoi(buf);
	/* re-parented to init or a subreaper, and killed */
	for (i = 0; i < 200 && kill(twin, 0) == 0; i++) {
		char path[64], st[256];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)twin);
		f = fopen(path, "r");
		if (f && fgets(st, sizeof(st), f) && strstr(st, ") Z "))
			i = 1000;	/* a zombie: dead */
		if (f)
			fclose(f);
		if (i < 1000)
			usleep(10000);
	}
	assert_true(i >= 1000 || kill(twin, 0) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_zero_pages),
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_kernel),
		cmocka_unit_test(test_thread_retires),
		cmocka_unit_test(test_child_retires),
		cmocka_unit_test(test_pending_signal_retires),
		cmocka_unit_test(test_mapping_gone_retires),
		cmocka_unit_test(test_limit_lowered),
		cmocka_unit_test(test_session_retires),
		cmocka_unit_test(test_dumpable_retires),
		cmocka_unit_test(test_deathsig_restored),
		cmocka_unit_test(test_verify_finds),
		cmocka_unit_test(test_own_descriptors),
		cmocka_unit_test(test_twin_dies_with_it),
	};

	if (reset_supported()) {
		printf("1..0 # SKIP %s\n", reset_supported());
		return 0;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
