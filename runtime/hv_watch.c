/* hv_watch - the base zygote's watches over the files its zygotes depend
 * on. Each file has owners: the ids of the sub-zygotes that read it, -1 for
 * the base itself. inotify watches the files' directories (a file replaced
 * by a rename keeps no watch of its own), and watch_read_changes() turns
 * each event into the owners' staleness: a sub-zygote's `stale`, which
 * retires it, or base.stale, which re-executes tach-hv. A change is never
 * missed silently: lost events (an overflowed queue) make everything
 * stale, and a directory that cannot be watched is logged. The state lives
 * in `base` (files, dirs, wds, ifd): only the base watches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/htab.h"
#include "lib/util.h"
#include "runtime/hv.h"

#define MTIME_SLACK 10000000	/* ns: file times come from a coarse clock */

/* A watched file and the zygotes that depend on it (-1: the base). */
struct wfile {
	char *path;
	long *owners;
	size_t n, cap;
};

/* A watched directory and the zygotes that depend on a file in it. */
struct wdir {
	int wd;
	char *path;
	long *owners;
	size_t n, cap;
};

/* Adds owner to a list of owners (-1 is the base). */
static long *
add_owner(long *owners, size_t *n, size_t *cap, long owner)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (owners[i] == owner)
			return owners;
	owners = xgrow(owners, cap, *n + 1, sizeof(*owners));
	owners[(*n)++] = owner;
	return owners;
}

static struct sub *
owner_sub(long id)
{
	size_t i;

	for (i = 0; i < base.nsubs; i++)
		if (base.subs[i]->id == id)
			return base.subs[i];
	return NULL;
}

static void
mark_stale(long owner, const char *why)
{
	struct sub *s;

	if (owner < 0) {
		if (!base.stale)
			logf_("%s changed: restarting", why);
		base.stale = 1;
		return;
	}
	s = owner_sub(owner);
	if (s && !s->stale) {
		logf_("%s changed: retiring the zygote of %s", why, s->file);
		s->stale = 1;
	}
}

void
watch_file(const char *path, long owner, int64_t t0)
{
	struct wfile *f;
	struct wdir *d;
	struct stat st;
	char *dir, *slash;
	int wd;

	f = htab_get(base.files, path);
	if (!f) {
		f = xcalloc(1, sizeof(*f));
		f->path = xstrdup(path);
		*htab_slot(base.files, f->path) = f;	/* keys are borrowed */
	}
	f->owners = add_owner(f->owners, &f->n, &f->cap, owner);

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	d = htab_get(base.dirs, dir);
	if (!d) {
		d = xcalloc(1, sizeof(*d));
		d->wd = -1;
		d->path = dir;
		*htab_slot(base.dirs, d->path) = d;
		dir = NULL;
	}
	if (d->wd < 0) {
		wd = inotify_add_watch(base.ifd, d->path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM
		    | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF
		    | IN_ONLYDIR);
		d->wd = wd;
		if (wd >= 0) {
			base.wds = xgrow(base.wds, &base.capwds, (size_t)wd + 1, sizeof(*base.wds));
			base.wds[wd] = d;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			/* ENOSPC: out of watches; changes there would go unseen */
			logf_("cannot watch %s (%s): raise fs.inotify.max_user_watches", d->path,
			    strerror(errno));
		}
	}
	d->owners = add_owner(d->owners, &d->n, &d->cap, owner);
	free(dir);
	if (stat(path, &st) == 0) {
		int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		int64_t c = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		int64_t t1 = wall_ns();

		if ((m >= t0 - MTIME_SLACK && m <= t1) || (c >= t0 - MTIME_SLACK && c <= t1))
			mark_stale(owner, path);
	}
}

static int
ignored_name(const char *name)
{
	return name[0] == '.' || strcmp(name, "__pycache__") == 0;
}

static int
config_name(const char *name)
{
	static const char *const names[] = {
		"pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", NULL,
	};
	size_t i, n = strlen(name);

	for (i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return n > 3 && strcmp(name + n - 3, ".py") == 0;
}

/* Reads every pending inotify event and marks the zygotes that depend on
 * what changed. A file appearing, going or moving in a watched directory
 * may change what an import finds, so it retires every owner of the
 * directory. */
void
watch_read_changes(void)
{
	char data[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct wfile *f;
	struct wdir *d;
	ssize_t n;
	char *path, *p;
	size_t i;

	for (;;) {
		n = read(base.ifd, data, sizeof(data));
		if (n <= 0)
			return;
		for (p = data; p < data + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* events were lost: trust nothing */
				mark_stale(-1, "(inotify overflow)");
				continue;
			}
			if (ev->wd < 0 || (size_t)ev->wd >= base.capwds || !(d = base.wds[ev->wd]))
				continue;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				path = xstrdup(d->path);
				if (ev->mask & IN_IGNORED) {
					/* the watch is gone with its directory: a directory
					 * made again under that name needs a new one */
					base.wds[ev->wd] = NULL;
					d->wd = -1;
				}
			} else {
				if (!ev->len || ignored_name(ev->name))
					continue;
				path = path_join(d->path, ev->name);
			}
			f = htab_get(base.files, path);
			if (f) {
				for (i = 0; i < f->n; i++)
					mark_stale(f->owners[i], path);
			}
			if (!f && (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM
			    | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) && (!ev->len || (ev->mask & IN_ISDIR)
			    || config_name(ev->name))) {
				/* a module or package appearing or going: every owner
				 * of a file in this directory (a file replaced by a
				 * rename concerns only its own owners, above) */
				for (i = 0; i < d->n; i++)
					mark_stale(d->owners[i], path);
			}
			free(path);
		}
	}
}

void
watch_self(int64_t t0)
{
	static const char *const mine[] = {"tach_harness.py", "tach_zygote.py", "tach_compat.py", NULL};
	char *dir = xstrdup(base.exe), *slash = strrchr(dir, '/'), *path;
	size_t i;

	watch_file(base.exe, -1, t0);
	if (slash) {
		*slash = 0;
		for (i = 0; mine[i]; i++) {
			path = path_join(dir, mine[i]);
			watch_file(path, -1, t0);
			free(path);
		}
	}
	free(dir);
}
