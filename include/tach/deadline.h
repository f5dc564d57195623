/* deadline - how long the item a test process runs may take, between the
 * harness (runtime/harness.py) and the C process that waits for the test
 * (tach-isolated, a sub-zygote of tach-hv).
 *
 * A timer in Python is no deadline: a test in one long C call (a sum over
 * a huge range) holds the GIL and the timer never runs. So the waiting
 * process enforces it, and the harness only says where it lies: before each
 * item it writes the absolute CLOCK_MONOTONIC time by which the item must be
 * done (its @pytest.mark.timeout, else default_ns from now) into a page it
 * shares with the waiting process, and after the item default_ns from
 * then. The waiting process reads the page whenever it wakes, at least every
 * TACH_DEADLINE_POLL_MS, and stops the test (SIGUSR2 for its traceback, then
 * SIGKILL) once the time in the page has passed, or, while the page holds
 * 0, once its own timeout has.
 *
 * The page: a new interpreter (tach-isolated) finds it as descriptor
 * TACH_DEADLINE_FD, named by $TACH_DEADLINE_FD, and maps it; a forked test
 * process of tach-hv inherits the mapping and writes it through _tach. A
 * test can move its own deadline (it is its own memory); that only harms
 * itself. */
#ifndef TACH_DEADLINE_H
#define TACH_DEADLINE_H

#include <stdint.h>

struct tach_deadline {
	uint64_t deadline_ns;   /* CLOCK_MONOTONIC; 0 until the harness writes it */
	uint64_t default_ns;    /* the runtime's timeout, for an item without a marker */
};

#define TACH_DEADLINE_FD 3
#define TACH_DEADLINE_POLL_MS 100

/* The deadline in seconds of CLOCK_MONOTONIC: the page's, or fallback
 * while the harness has written none. */
static inline double
tach_deadline_get(const struct tach_deadline *d, double fallback)
{
	uint64_t ns = __atomic_load_n(&d->deadline_ns, __ATOMIC_RELAXED);

	return ns ? (double)ns / 1e9 : fallback;
}

#endif
