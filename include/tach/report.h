/* report - what the analyzer learns about one Python file, and the policy
 * that turns it into a verdict.
 *
 * A report depends only on the file's bytes and on the rules (the toxic
 * module table, tach/rules.h), so it can be cached by content hash. The
 * analyzer that makes reports is in tach/analyze.h. A report holds
 * *causes* (facts: "imports threading at line 3, at import time") apart
 * from the *verdict*; policy_is_toxic() is the one place that decides. */
#ifndef TACH_REPORT_H
#define TACH_REPORT_H

#include <stdbool.h>
#include <stddef.h>

enum cause_kind {
	CAUSE_THREADS,          /* threading, _thread, multiprocessing, concurrent.futures */
	CAUSE_NETWORK,          /* socket, grpc */
	CAUSE_SUBPROCESS,       /* subprocess, os.fork/system/popen/exec* /spawn* /posix_spawn* */
	CAUSE_FFI,              /* ctypes, cffi */
	CAUSE_SIGNALS,          /* signal */
	CAUSE_DYNAMIC_IMPORT,   /* __import__(), exec(), importlib.import_module() */
	CAUSE_POISON_FORK,      /* extensions unsafe across fork: pandas, torch, cv2, ... */
	CAUSE_MODULE_SCOPE_CALL,/* threading.Thread() etc. called while importing */
	CAUSE_PARSE_ERROR,      /* the file does not parse */
	CAUSE_CONFIGURED,       /* a module listed in [tool.tach] toxic-modules */
	CAUSE_UNREADABLE,       /* the file could not be read */
	CAUSE_NKINDS
};

/* Returns the stable lower-case name of a kind ("threads", "dynamic-import"). */
const char *cause_kind_name(enum cause_kind kind);

/* Whether a cause makes its module toxic under the policy it was found
 * with, and if not, why not. The strict policy counts every cause; the
 * precise one only what leaves fork-unsafe state behind when the module is
 * imported. */
enum cause_why {
	WHY_COUNTS,             /* it makes the module toxic */
	WHY_USE_TIME,           /* runs only when called: the Iron Dome stops it at run time */
	WHY_NO_STATE,           /* importing or calling it creates no thread, socket, process,
	                         * signal handler or native library */
	WHY_NOT_STARTED,        /* a thread, process or executor object that is never started */
	WHY_LITERAL_IMPORT,     /* a dynamic import of a literal name: followed as an import */
	WHY_NOT_HERE,           /* works only on another platform (a Windows DLL) */
	WHY_NKINDS
};

/* Says why a cause does not count, for people; "" for WHY_COUNTS. */
const char *cause_why_text(enum cause_why why);

struct cause {
	enum cause_kind kind;
	char *name;        /* what was matched: "threading", "os.fork", "exec" */
	char *reason;      /* for people: "Imports toxic module 'threading' (line 3)" */
	int line;          /* 1-based */
	bool import_time;  /* runs on import (module scope, a class body, or a function
	                    * of the module that import-time code calls) */
	unsigned char why; /* enum cause_why */
};

/* One imported name as written. `import a.b.c` gives {module "a.b.c", name
 * NULL}; `from a import b, c` gives two entries {a, b} and {a, c}; `from a
 * import *` gives {a, "*"}; `from ..c import y` gives {level 2, "c", "y"};
 * `from . import x` gives {level 1, "", "x"}. `__import__("x.y")` and
 * `importlib.import_module("x.y")` with a literal give {x.y, NULL, dynamic}. */
struct pyimport {
	char *module;
	char *name;
	int level;
	int line;
	bool import_time;
	bool dynamic;
};

enum all_kind {
	ALL_NONE,      /* no __all__ at module scope */
	ALL_LITERAL,   /* __all__ = [...] / (...) of string literals (and += of such) */
	ALL_DYNAMIC,   /* __all__ assigned or extended some other way */
};

/* The definitions pytest's collection looks at, recorded as written: the
 * generator applies python_functions / python_classes later, so a report
 * stays valid when that configuration changes. */
enum def_kind {
	DEF_FUNC,               /* def, async def */
	DEF_CLASS,
};

enum def_flag {
	DEF_ASYNC = 1 << 0,         /* async def */
	DEF_TOXIC_MARK = 1 << 1,    /* @pytest.mark.toxic (or a pytestmark holding it) */
	DEF_PARAMETRIZE = 1 << 2,   /* @pytest.mark.parametrize(...) (or a pytestmark holding it) */
	DEF_FIXTURE = 1 << 3,       /* @pytest.fixture: pytest never collects it as a test */
	DEF_NOT_TEST = 1 << 4,      /* `__test__ = False` in its body: pytest collects nothing in it */
	DEF_FORCE_TEST = 1 << 5,    /* `__test__ = True` in its body: collected whatever its name */
	DEF_ALL_FLAGS = (1 << 6) - 1,
};

/* One def or class at module scope, or in the body of such a class (and so
 * on down). Blocks of if/elif/else, try/except/finally, with, for, while
 * and match count as the scope they are in; def bodies and skipped blocks
 * (see pyparse.c) do not. Marks are the definition's own: a method does not
 * inherit its class's marks, nor a class the module's; the generator
 * combines them along `parent`. */
struct pydef {
	char *name;
	int line;               /* 1-based, of the `def`/`class` keyword (not the decorators) */
	int parent;             /* -1 at module scope, else the index in defs of its class */
	enum def_kind kind;
	unsigned flags;         /* enum def_flag */
	/* classes only */
	char **bases;           /* as written: dotted names normalized ("unittest.TestCase"),
	                         * anything else its source text ("Generic[T]", "*bases");
	                         * keyword arguments (metaclass=...) and **kw are left out */
	size_t nbases;
	bool has_init;          /* a def __init__ in its body */
	bool has_new;           /* a def __new__ in its body */
};

struct report {
	struct pyimport *imports;
	size_t nimports;
	struct cause *causes;
	size_t ncauses;
	int parse_error_line;   /* 0 when the file parsed */
	/* `from pkg import *` imports the submodules that pkg's __all__ names */
	enum all_kind all_kind;
	char **all;             /* the names, for ALL_LITERAL */
	size_t nall;
	/* definitions, in source order (a class before its methods); one
	 * allocation from pydefs_alloc() that also holds their names and bases */
	struct pydef *defs;
	size_t ndefs;
	/* DEF_TOXIC_MARK, DEF_PARAMETRIZE from a module-scope pytestmark;
	 * DEF_NOT_TEST, DEF_FORCE_TEST from a module-scope __test__ */
	unsigned module_flags;
};

void report_free(struct report *r);
/* One allocation for n definitions with nbases bases in all and nchars
 * bytes of strings (NULs included): the definitions (zeroed), then room for
 * their bases arrays, at *bases, then for their names and bases, at *chars.
 * Freeing the returned pointer frees it all. NULL when n is 0. */
struct pydef *pydefs_alloc(size_t n, size_t nbases, size_t nchars, char ***bases, char **chars);

/* The verdict: whether any cause counts (WHY_COUNTS). */
bool policy_is_toxic(const struct report *r);

/* The report for a file that could not be read (err is an errno value);
 * prints a warning naming path. */
struct report *report_unreadable(const char *path, int err);
/* Whether c is the cause report_unreadable() gives (CAUSE_UNREADABLE), as
 * opposed to one the analyzer found. */
bool cause_is_unreadable(const struct cause *c);

#endif
