/* pyparse.h - the analyzer's parts and the state they share (private to gen/).
 *
 * The analyzer is gen/analyze/pyparse.c, which owns the parser and the tree walk,
 * and the modules the walk hands statements and calls to: py_imports.c
 * (import statements, pytest_plugins), py_calls.c (aliases and toxic
 * calls), py_all.c (__all__) and py_defs.c (definitions and marks for
 * discovery); py_decode.c (source decoding) needs no tree, and so has a
 * header of its own, py_decode.h, which this one includes.
 * They all work on one struct analyzer, whose scratch arrays keep their
 * capacity from one file to the next, and add to the report through it.
 * The only tree-sitter users are gen/pyparse*.c and gen/py_*.c; a TSNode
 * they are handed is valid only while the walk's tree lives, and nothing
 * of tree-sitter leaves them (tach/analyze.h is the public API). */
#ifndef TACH_PYPARSE_H
#define TACH_PYPARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "gen/analyze/py_decode.h"
#include "gen/analyze/rules.h"
#include "tach/report.h"
#include "lib/util.h"

/* A piece of the source; not terminated. */
struct span {
	const char *s;
	size_t n;
};

/* What the walk needs to know about a node type. */
enum kind {
	K_OTHER,
	K_IMPORT,       /* import_statement */
	K_FROM,         /* import_from_statement */
	K_FUTURE,       /* future_import_statement */
	K_ALIASED,      /* aliased_import */
	K_DOTTED,       /* dotted_name */
	K_RELATIVE,     /* relative_import */
	K_PREFIX,       /* import_prefix */
	K_WILDCARD,     /* wildcard_import */
	K_IDENT,
	K_CALL,
	K_ATTRIBUTE,
	K_FUNC,         /* function_definition */
	K_LAMBDA,
	K_IF,           /* if_statement */
	K_ELIF,         /* elif_clause */
	K_EXEC,         /* exec_statement (Python 2) */
	K_COMPARE,      /* comparison_operator */
	K_NOT,          /* not_operator */
	K_PAREN,        /* parenthesized_expression */
	K_STRING,
	K_COMMENT,
	K_ARGS,         /* argument_list */
	K_CLASS,        /* class_definition */
	K_EXPRSTMT,     /* expression_statement */
	K_ASSIGN,       /* assignment */
	K_AUGASSIGN,    /* augmented_assignment */
	K_LIST,
	K_TUPLE,
	K_EXPRLIST,     /* expression_list: an unparenthesized tuple */
	K_BINOP,        /* binary_operator */
	K_CONCAT,       /* concatenated_string */
	K_EQ,           /* the "==" token */
	K_PATTERNS,     /* pattern_list, tuple_pattern, list_pattern: several targets */
	K_SPLAT,        /* list_splat, list_splat_pattern */
	K_DECORATED,    /* decorated_definition */
	K_DECORATOR,
	K_KEYWORD,      /* keyword_argument, dictionary_splat: not a base class */
	K_BOOLOP,       /* boolean_operator: and, or */
	K_TRUE,
	K_FALSE,
	K_WITHITEM,     /* with_item */
	K_LEAF,         /* nothing of interest below: tokens, names, numbers */
	K_STMTS,        /* may hold statements: blocks, compound statements, ERROR */
};

/* How a node's children are treated, chosen when the node is visited. */
enum mode {
	M_NONE,
	M_FUNC,         /* the "body" child runs later, not at import */
	M_SKIPBODY,     /* skip the "consequence" child */
	M_SKIPALT,      /* skip the "alternative" children */
	M_CLASS,        /* the "body" child is a class body */
	M_DECO,         /* the "definition" child gets the decorators' flags */
	M_IF,           /* an if_statement's: one of the three above, or M_NONE, */
	M_ELIF,         /* or an elif_clause's, chosen at the "condition" child */
};

/* The walk's state for the node at one depth. */
struct frame {
	uint32_t end;           /* the node's end byte */
	int32_t scope;          /* the class (index in defs) whose body holds the node, or -1 */
	int32_t arg;            /* on entry, the flags of the node's decorators; after visit(),
	                         * for M_CLASS the class's index in defs (-1: not recorded),
	                         * for M_DECO the decorators' flags */
	int32_t func;           /* the function (index in funcs) whose body holds the node;
	                         * -1: import-time code; -2: a lambda's body at import time */
	unsigned char infunc;   /* inside a def or lambda body */
	unsigned char inclass;  /* inside a class body */
	unsigned char mode;     /* enum mode, for the children */
	unsigned char guided;   /* visit only the children holding a '(' */
};

/* A call seen by the walk, resolved after it. Valid while the tree lives. */
struct pcall {
	TSNode node;
	int32_t func;           /* as in struct frame */
	bool infunc;
};

struct alias {
	const char *local;      /* into the source; not terminated */
	size_t len;
	char *qual;
	bool assigned;          /* from `local = qual`, not from an import */
};

/* One node on the way down from the root, and its field in its parent. */
struct step {
	TSNode node;
	TSFieldId field;
};

struct ximport {
	struct pyimport imp;
	uint32_t pos, seq;
};

struct xcause {
	struct cause c;
	uint32_t seq;
	int32_t func;           /* as in struct frame: where the code that is the cause is */
	unsigned char itwhy;    /* enum cause_why, were it run at import */
};

/* The precise policy's view of the functions of a module: the module's
 * defs and the methods of its classes, "f" or "Class.f". */
struct xfunc {
	char *name;
	int called;             /* the line of the import-time call that runs it; 0: none */
	int32_t via;            /* the function that call is in, or -1 */
};

/* `TARGET = CALL(...)` or `with CALL(...) as TARGET`: what .start() and
 * friends may be called on (the precise policy). */
struct xbind {
	struct span target;
	TSNode call;
	int32_t func;           /* as in struct frame */
};

/* A call that makes a thread, process, executor or FFI object, and its
 * cause (the precise policy): upgraded when the object is started. */
struct xobj {
	TSNode call;
	size_t cause;           /* index in causes */
	enum call_kind kind;    /* CALL_STARTABLE, CALL_EXECUTOR or CALL_FFI_OBJ */
};

/* A call's spelling up to its first '(' (see py_flow.c). */
struct xspell {
	struct span first, last; /* the first and the last name */
	int ndots;              /* -1: not names joined by dots */
};

/* A module-scope name bound to a platform test (see py_cond.c). */
struct pname {
	struct span name;
	int value;              /* 1 true, 0 false, -1 unknown */
};

/* A definition while the walk runs: its strings are kept in the analyzer
 * until finish() packs them with it. */
struct xdef {
	struct pydef d;         /* name and bases not set */
	size_t name;            /* offset in defstr */
	size_t base;            /* index in baseoffs of its first base */
};

struct analyzer {
	const struct rules *rules;
	TSParser *parser;
	unsigned char *kind;
	uint32_t nsym;
	TSFieldId f_alias, f_alternative, f_argument, f_arguments, f_attribute, f_body;
	TSFieldId f_condition, f_consequence, f_definition, f_function, f_left, f_name, f_object, f_operator;
	TSFieldId f_right, f_superclasses;
	TSTreeCursor cursor;
	TSTreeCursor lcursor;   /* over the items of a literal list */
	bool have_cursor, have_lcursor;
	struct step *path;      /* the way from the root to a node, see py_all_bindings() */
	size_t pathcap;

	/* per run; the arrays keep their capacity from one run to the next */
	const char *src;
	bool guide;             /* the tree has no error: guide the walk by '(' */
	struct frame *frames;
	size_t framecap;
	struct pcall *calls;
	size_t ncalls, callcap;
	struct alias *aliases;
	size_t naliases, aliascap;
	char **stars;
	size_t nstars, starcap;
	struct ximport *imps;
	size_t nimps, impcap;
	struct xcause *causes;
	size_t ncauses, causecap;
	bool precise;           /* the precise policy: the fields below are used */
	int32_t curfunc;        /* the frame's func while the walk is at a node */
	struct xfunc *funcs;
	size_t nfuncs, funccap;
	struct xbind *binds;
	size_t nbinds, bindcap;
	struct xobj *objs;
	size_t nobjs, objcap;
	struct pname *pnames;
	size_t npnames, pnamecap;
	struct pcall *decos;    /* bare-name decorators: calls at definition */
	size_t ndecos, decocap;
	struct xspell *spells;  /* of each call, made by py_flow_finish() */
	size_t spellcap;
	struct htab *fnames, *fclasses; /* py_flow.c's tables, emptied after each run */
	enum all_kind allkind;
	char **alls;            /* the names in __all__ */
	size_t nalls, allcap;
	struct xdef *defs;
	size_t ndefs, defcap;
	struct buf defstr;      /* the names and bases, each ended by a NUL */
	size_t *baseoffs;       /* the offsets of the bases in defstr */
	size_t nbaseoffs, baseoffcap;
	unsigned module_flags;
	struct buf mod, name, tmp;
	char *conv;             /* decoded source, see py_decode() */
	size_t convcap;
};

enum { MAXCOMP = 8 };

static inline void
buf_reset(struct buf *b)
{
	b->len = 0;
	buf_add(b, "", 0);
}

static inline enum kind
kindof(const struct analyzer *a, TSNode n)
{
	TSSymbol sym;

	if (ts_node_is_null(n))
		return K_OTHER;
	sym = ts_node_symbol(n);
	return sym < a->nsym ? (enum kind)a->kind[sym] : K_OTHER;
}

static inline struct span
text(const struct analyzer *a, TSNode n)
{
	uint32_t start;

	if (ts_node_is_null(n))
		return (struct span){"", 0};
	start = ts_node_start_byte(n);
	return (struct span){a->src + start, ts_node_end_byte(n) - start};
}

static inline bool
span_is(struct span t, const char *s)
{
	size_t n = strlen(s);

	return t.n == n && memcmp(t.s, s, n) == 0;
}

static inline int
lineof(TSNode n)
{
	return (int)ts_node_start_point(n).row + 1;
}

static inline TSNode
field(TSNode n, TSFieldId id)
{
	return ts_node_child_by_field_id(n, id);
}

static inline TSNode
unparen(const struct analyzer *a, TSNode n)
{
	while (kindof(a, n) == K_PAREN)
		n = ts_node_named_child(n, 0);
	return n;
}

static inline bool
is_sequence(enum kind k)
{
	return k == K_PATTERNS || k == K_TUPLE || k == K_LIST || k == K_EXPRLIST;
}

/* The next named child at or after n that is not a comment. */
static inline TSNode
skip_comments(const struct analyzer *a, TSNode n)
{
	while (!ts_node_is_null(n) && kindof(a, n) == K_COMMENT)
		n = ts_node_next_named_sibling(n);
	return n;
}

/* pyparse.c: the walk and what it shares */

/* Records a cause in the current function (a->curfunc), counting when it
 * runs at import; takes ownership of reason. Returns its index in causes,
 * where itwhy may be changed. */
size_t py_add_cause(struct analyzer *a, enum cause_kind kind, const char *name, int line, bool itime,
                    char *reason);
/* The body of a plain string literal (a u or r prefix at most, no b or f)
 * and whether it is raw; false for anything else. */
bool py_string_body(struct span t, struct span *body, bool *raw);
/* How the walk treats the children of an if_statement (is_if) or an
 * elif_clause: M_SKIPBODY, M_SKIPALT or M_NONE. */
enum mode py_if_mode(const struct analyzer *a, TSNode n, bool is_if);

/* py_cond.c */

/* A condition at import time on this platform: 1 true, 0 false, -1 unknown. */
int py_cond_eval(const struct analyzer *a, TSNode n);
/* A module-scope assignment: remembers a name bound to a platform test. */
void py_cond_binding(struct analyzer *a, TSNode assign);

/* py_flow.c: what runs at import (the precise policy) */

/* Records the def named name met in frame f as a function of the module;
 * its index in funcs, or f->func for a def inside a function. */
int32_t py_add_func(struct analyzer *a, TSNode name, const struct frame *f);
/* An assignment or with_item: remembers TARGET = CALL(...). */
void py_add_binding(struct analyzer *a, TSNode target, TSNode call, int32_t func);
/* A decorator under the cursor's decorated_definition that is a bare name
 * (or dotted): a call at definition time. */
void py_add_deco(struct analyzer *a, TSNode expr, int32_t func, bool infunc);
/* After the calls are resolved: objects started, functions that run at
 * import, and the causes they make count. */
void py_flow_finish(struct analyzer *a);
/* Frees the per-run state. */
void py_flow_reset(struct analyzer *a);
/* Frees what py_flow keeps from one run to the next. */
void py_flow_free(struct analyzer *a);

/* py_imports.c */

/* Records an import (struct pyimport; copies the strings); pos orders it. */
void py_add_import(struct analyzer *a, const char *module, const char *name, int level, int line, bool itime,
                   bool dynamic, uint32_t pos);
/* Adds a cause when the absolute module name matches the toxic table. */
bool py_toxic_import(struct analyzer *a, const char *dotted, int line, bool itime);
/* The import_statement stmt under the cursor. modscope: at module scope. */
void py_import_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope);
/* import_from_statement and future_import_statement under the cursor. */
void py_from_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope,
                       bool future);
/* `pytest_plugins = ...` at module scope. */
void py_plugins_statement(struct analyzer *a, TSNode stmt);
/* Moves the imports into r, in source order. */
void py_imports_finish(struct analyzer *a, struct report *r);

/* py_calls.c */

/* local (into the source) stands for qual; copies qual. */
void py_add_alias(struct analyzer *a, struct span local, const char *qual, bool assigned);
/* The assignment n, spanning [s, e): the aliases it makes. */
void py_assignment_aliases(struct analyzer *a, TSNode n, const char *s, const char *e);
/* After the walk: resolves assigned aliases through the import aliases. */
void py_expand_aliases(struct analyzer *a);
/* Remembers the call n for py_resolve_call() after the walk. */
void py_add_call(struct analyzer *a, TSNode n, bool infunc);
/* Adds the causes of a call that resolves to a toxic call. */
void py_resolve_call(struct analyzer *a, const struct pcall *pc);
/* The entry of the call table the call pc resolves to whose kind under the
 * precise policy is kind, or NULL. */
const struct toxic_call *py_call_entry(struct analyzer *a, const struct pcall *pc, enum call_kind kind);
/* The same for a dotted name as written in the module ("Thread",
 * "threading.Thread"), resolved through the import aliases. */
const struct toxic_call *py_name_entry(struct analyzer *a, const char *dotted, enum call_kind kind);

/* py_all.c */

/* A module-scope expression statement starting with __all__. */
void py_all_statement(struct analyzer *a, TSNode stmt);
/* After the walk: the bindings of __all__ the walk does not read. */
void py_all_bindings(struct analyzer *a, TSNode root, size_t len);
/* Moves __all__ into r. */
void py_all_finish(struct analyzer *a, struct report *r);

/* py_defs.c */

/* Records the def or class n, its "name" field name, met in frame f; its
 * index in defs, or -1. */
int32_t py_add_def(struct analyzer *a, TSNode n, TSNode name, enum def_kind kind, const struct frame *f);
/* The flags of the decorators of the decorated_definition under the cursor. */
unsigned py_decorator_flags(struct analyzer *a, TSTreeCursor *c);
/* `pytestmark = ...` or (test) `__test__ = ...` in frame f. */
void py_mark_statement(struct analyzer *a, TSNode stmt, const struct frame *f, bool test);
/* Packs the definitions into r->defs; call while the tree lives. */
void py_defs_finish(struct analyzer *a, struct report *r);

#endif
