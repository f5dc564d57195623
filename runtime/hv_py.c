/* hv_py - tach-hv's embedded CPython: the only file of tach-hv that
 * includes Python.h. It starts the interpreter as the project's python
 * would start, registers the _tach module (the Iron Dome's denials, for
 * the harness) and imports tach_zygote (runtime/zygote.py); the base
 * zygote, the sub-zygotes and the test processes call tach_zygote through
 * the py_* functions here, which take and return C strings: no PyObject
 * leaves this file, and a Python error comes back as its text, for the
 * caller to report. Strings cross as os.fsdecode() and os.fsencode() would
 * take them: a path's bytes that are not UTF-8 (a file named in Latin-1)
 * become lone surrogates in Python, as in pytest's own paths and node ids,
 * and the same bytes again on the way out. Sub-zygotes and test processes are forks of the base
 * and share its interpreter; whoever forks brackets fork() with
 * py_before_fork() and py_after_fork_*(), as CPython requires. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tach/deadline.h"
#include "tach/sandbox.h"
#include "lib/util.h"
#include "runtime/hv.h"

static PyObject *zygote;	/* tach_zygote */

/* s as a str, decoded as os.fsdecode() does (a converter for "O&"). */
static PyObject *
fs_str(void *s)
{
	return PyUnicode_DecodeFSDefault(s);
}

/* A copy of the bytes object b's content, b released; NULL when b is
 * NULL (the exception that made it so cleared). */
static char *
take_bytes(PyObject *b)
{
	char *ret;

	if (!b) {
		PyErr_Clear();
		return NULL;
	}
	ret = xstrdup(PyBytes_AS_STRING(b));
	Py_DECREF(b);
	return ret;
}

/* The bytes of the str s, as os.fsencode() gives them back, or NULL when
 * s is not a str or cannot be encoded so (no exception left pending). */
static char *
fs_bytes(PyObject *s)
{
	return PyUnicode_Check(s) ? take_bytes(PyUnicode_EncodeFSDefault(s)) : NULL;
}

/* Text for a message: fs_bytes(), else UTF-8 with any other surrogate
 * written as an escape; NULL when s is not a str. */
static char *
text_of(PyObject *s)
{
	char *ret = fs_bytes(s);

	if (ret || !PyUnicode_Check(s))
		return ret;
	return take_bytes(PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace"));
}

/* The pending Python exception as text (with its traceback), cleared. */
static char *
py_error(void)
{
	PyObject *type, *value, *tb, *mod = NULL, *lines = NULL, *text = NULL, *empty = NULL;
	char *ret;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (!type)
		return xstrdup("unknown Python error");
	mod = PyImport_ImportModule("traceback");
	if (mod)
		lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
		    value ? value : Py_None, tb ? tb : Py_None);
	empty = PyUnicode_FromString("");
	if (lines && empty)
		text = PyUnicode_Join(empty, lines);
	ret = text ? text_of(text) : NULL;
	if (!ret)
		ret = xstrdup("Python error (its traceback could not be formatted)");
	PyErr_Clear();
	Py_XDECREF(mod);
	Py_XDECREF(lines);
	Py_XDECREF(text);
	Py_XDECREF(empty);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return ret;
}

static PyObject *
tach_take_denied(PyObject *self, PyObject *args)
{
	const char *name;
	int nr;

	(void)self;
	(void)args;
	nr = sandbox_take_denied(NULL);
	name = nr >= 0 ? sandbox_denied_name(nr) : NULL;
	if (nr >= 0 && !name)
		return PyUnicode_FromFormat("syscall %d", nr);
	if (!name)
		Py_RETURN_NONE;
	return PyUnicode_FromString(name);
}

/* Set when the harness asks this test process to end after its test
 * (py_retiring()). */
static int retiring;

static PyObject *
tach_retire(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	retiring = 1;
	Py_RETURN_NONE;
}

int
py_retiring(void)
{
	return retiring;
}

/* The deadline page of this test process (include/tach/deadline.h), or
 * NULL: set by py_deadline_page() after the fork. */
static struct tach_deadline *deadline_page;

void
py_deadline_page(struct tach_deadline *page)
{
	deadline_page = page;
}

static PyObject *
tach_deadline_page(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	if (!deadline_page)
		Py_RETURN_NONE;
	return PyMemoryView_FromMemory((char *)deadline_page, sizeof(*deadline_page), PyBUF_WRITE);
}

static PyMethodDef tach_methods[] = {
	{"take_denied", tach_take_denied, METH_NOARGS,
	    "The name of the first system call the Iron Dome denied since the last call, or None."},
	{"retire", tach_retire, METH_NOARGS,
	    "Asks that this test process end after its test: it is not reset for another."},
	{"deadline_page", tach_deadline_page, METH_NOARGS,
	    "The page where the harness writes the running item's deadline (a writable memoryview), or None."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef tach_module = {
	PyModuleDef_HEAD_INIT, "_tach", "tach's hypervisor.", -1, tach_methods,
	NULL, NULL, NULL, NULL,
};

static PyObject *
init_tach_module(void)
{
	return PyModule_Create(&tach_module);
}

char *
py_start(const char *python, const char *exe)
{
	PyConfig config;
	PyStatus st;
	PyObject *path, *dir;
	char *exedir, *slash;

	if (PyImport_AppendInittab("_tach", init_tach_module) < 0)
		return xstrdup("cannot register the _tach module");
	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	st = PyConfig_SetBytesString(&config, &config.program_name, python);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&config, &config.executable, python);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesArgv(&config, 1, (char *const[]){(char *)python, NULL});
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st))
		return xasprintf("cannot start Python as %s: %s", python,
		    st.err_msg ? st.err_msg : "unknown error");
	exedir = xstrdup(exe);
	slash = strrchr(exedir, '/');
	if (slash)
		*slash = 0;
	path = PySys_GetObject("path");
	dir = PyUnicode_DecodeFSDefault(exedir);
	free(exedir);
	if (!path || !dir || PyList_Insert(path, 0, dir) < 0) {
		Py_XDECREF(dir);
		return py_error();
	}
	Py_DECREF(dir);
	zygote = PyImport_ImportModule("tach_zygote");
	if (!zygote)
		return py_error();
	return NULL;
}

/* The items of list as NULL-terminated strings (paths, fs_bytes()): an
 * item that is not one becomes other, or is left out when other is NULL. */
static char **
strv_of(PyObject *list, const char *other)
{
	Py_ssize_t i, n = PyList_Check(list) ? PyList_GET_SIZE(list) : 0;
	char **v = xcalloc((size_t)n + 1, sizeof(*v)), *s;
	size_t k = 0;

	for (i = 0; i < n; i++) {
		s = fs_bytes(PyList_GET_ITEM(list, i));
		if (s || other)
			v[k++] = s ? s : xstrdup(other);
	}
	PyErr_Clear();
	return v;
}

/* The list of files tach_zygote.FN returned (res), or NULL with the error
 * in *err. */
static char **
files_of(PyObject *res, const char *fn, char **err)
{
	char **files;

	fflush(stdout);
	fflush(stderr);
	if (!res || !PyList_Check(res)) {
		Py_XDECREF(res);
		*err = PyErr_Occurred() ? py_error() : xasprintf("tach_zygote.%s: not a list", fn);
		return NULL;
	}
	files = strv_of(res, "");
	Py_DECREF(res);
	return files;
}

char **
py_init(const char *root, const char *args, char **err)
{
	return files_of(PyObject_CallMethod(zygote, "init", "O&O&", fs_str, root, fs_str, args), "init", err);
}

char **
py_clean_init(const char *root, const char *args, char **err)
{
	return files_of(PyObject_CallMethod(zygote, "clean_init", "O&O&", fs_str, root, fs_str,
	    args), "clean_init", err);
}

char **
py_collect(const char *file, char **err)
{
	return files_of(PyObject_CallMethod(zygote, "collect", "O&", fs_str, file), "collect", err);
}

char *
py_start_failure(int *by_project)
{
	PyObject *f = PyObject_GetAttrString(zygote, "start_failure");
	char *ret = NULL;

	if (f && f != Py_None && PyTuple_Check(f) && PyTuple_GET_SIZE(f) == 2) {
		ret = text_of(PyTuple_GET_ITEM(f, 0));
		if (!ret)
			ret = xstrdup("unknown error");
		*by_project = PyObject_IsTrue(PyTuple_GET_ITEM(f, 1)) == 1;
	}
	Py_XDECREF(f);
	PyErr_Clear();
	return ret;
}

char *
py_files(char ***paths, char ***imported)
{
	PyObject *res = PyObject_CallMethod(zygote, "files", NULL);
	char *err;

	*paths = *imported = NULL;
	if (!res || !PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
		err = PyErr_Occurred() ? py_error() : xstrdup("tach_zygote.files: not a pair");
		Py_XDECREF(res);
		return err;
	}
	*paths = strv_of(PyTuple_GET_ITEM(res, 0), NULL);
	*imported = strv_of(PyTuple_GET_ITEM(res, 1), NULL);
	Py_DECREF(res);
	return NULL;
}

char *
py_answer(const char *spec, char **err)
{
	PyObject *ans = PyObject_CallMethod(zygote, "answer", "O&", fs_str, spec);
	char *ret = ans ? text_of(ans) : NULL;

	*err = ans ? NULL : py_error();
	Py_XDECREF(ans);
	PyErr_Clear();
	return ret;
}

/* NULL when res is a result, else the error. */
static char *
call_error(PyObject *res)
{
	if (!res)
		return py_error();
	Py_DECREF(res);
	return NULL;
}

char *
py_unsafe(int threads, int processes, int sockets, char **err)
{
	PyObject *ans = PyObject_CallMethod(zygote, "unsafe", "iii", threads, processes, sockets);
	char *ret = ans ? text_of(ans) : NULL;

	*err = ans ? NULL : py_error();
	Py_XDECREF(ans);
	PyErr_Clear();
	return ret;
}

char *
py_call(const char *fn)
{
	return call_error(PyObject_CallMethod(zygote, fn, NULL));
}

char *
py_call_fresh(const char *spec, int conn, int errfd)
{
	return call_error(PyObject_CallMethod(zygote, "fresh", "O&ii", fs_str, spec, conn, errfd));
}

char *
py_call_run(const char *spec, int conn, int errfd)
{
	return call_error(PyObject_CallMethod(zygote, "run", "O&ii", fs_str, spec, conn, errfd));
}

void
py_before_fork(void)
{
	PyOS_BeforeFork();
}

void
py_after_fork_parent(void)
{
	PyOS_AfterFork_Parent();
}

void
py_after_fork_child(void)
{
	PyOS_AfterFork_Child();
}

/* A worker's headroom: memory that the tests' allocations reuse, already
 * there when the worker takes its snapshot. A reset puts back the state
 * of the allocators, so without it every test of a worker would map fresh
 * memory as if it were the first (an arena of pymalloc, a program break
 * grown again): one fault a page, ~4-6 us each here, ~1,000 for a test that
 * makes a few MB of objects. With it the pages a test wrote are in the
 * tracked memory, and stay mapped: the reset makes them 0 again (they
 * were not written before the snapshot), and once written by two tests
 * running they stay writable too. pymalloc's arenas come from a reserve of
 * HEADROOM_ARENAS bytes (then from mmap, as before); malloc() serves from
 * the heap what pymalloc does not, grown by HEADROOM_HEAP and never
 * trimmed. The allocator's bookkeeping is in this file's bss, tracked and
 * reset with the rest. Every tracked page costs each reset's scan a little
 * (~3.5 us a MiB here), hence sizes for a unit test's objects, not more. */
#define HEADROOM_ARENAS ((size_t)16 << 20)
#define HEADROOM_HEAP ((size_t)8 << 20)
#define HEADROOM_ALIGN ((size_t)1 << 20)	/* pymalloc's arena size (3.10+) */
#define HEADROOM_MAX 1024			/* arenas in the reserve */

static struct {
	char *base;
	size_t len, top, size;			/* bytes handed out; an arena's size */
	size_t nfree;
	uint32_t free[HEADROOM_MAX];		/* arenas given back, by index */
	PyObjectArenaAllocator old;
} hr;

static void *
hr_alloc(void *ctx, size_t size)
{
	(void)ctx;
	if (!hr.size && size && hr.len / size <= HEADROOM_MAX)
		hr.size = size;
	if (size == hr.size) {
		if (hr.nfree)
			return hr.base + (size_t)hr.free[--hr.nfree] * size;
		if (hr.len - hr.top >= size) {
			hr.top += size;
			return hr.base + hr.top - size;
		}
	}
	return hr.old.alloc(hr.old.ctx, size);
}

static void
hr_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	if ((char *)p >= hr.base && (char *)p < hr.base + hr.len) {
		hr.free[hr.nfree++] = (uint32_t)(((char *)p - hr.base) / hr.size);
		return;
	}
	hr.old.free(hr.old.ctx, p, size);
}

int
py_headroom(void)
{
	PyObjectArenaAllocator a = {NULL, hr_alloc, hr_free};
	size_t len = HEADROOM_ARENAS + HEADROOM_ALIGN;
	uintptr_t at;
	char *m;
	void *p;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	/* aligned as pymalloc's pools would be in an arena of mmap's */
	at = ((uintptr_t)m + HEADROOM_ALIGN - 1) & ~(uintptr_t)(HEADROOM_ALIGN - 1);
	if (at > (uintptr_t)m)
		munmap(m, at - (uintptr_t)m);
	munmap((char *)at + HEADROOM_ARENAS, (uintptr_t)m + len - at - HEADROOM_ARENAS);
	hr.base = (char *)at;
	hr.len = HEADROOM_ARENAS;
	PyObject_GetArenaAllocator(&hr.old);
	PyObject_SetArenaAllocator(&a);
	/* what pymalloc does not serve comes from the heap up to 32 MiB, and
	 * the heap keeps what it grew to */
	mallopt(M_TRIM_THRESHOLD, INT32_MAX);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	p = malloc(HEADROOM_HEAP);
	free(p);
	return 0;
}
