/* pyparse - the analyzer: parses one Python file with tree-sitter-python and
 * turns the tree into a report (imports and causes, see tach/report.h).
 *
 * This is the only file that knows the tree-sitter-python grammar. The
 * contract, rule by rule:
 *
 * - Every import is recorded in source order with its line, its level and
 *   whether it runs at import time (module scope or a class body, as opposed
 *   to inside a def or lambda body). Imports count wherever they are, except
 *   in the body of `if TYPE_CHECKING:` (any `x.TYPE_CHECKING` too; the elif
 *   and else branches count) and in the body of `if __name__ == "__main__":`,
 *   which is skipped entirely: no imports, no calls, no dynamic code.
 * - An absolute import whose dotted name matches the toxic table is a cause.
 *   `from a import b` is checked as `a`, then as the submodule `a.b`. A star
 *   import from a toxic module is a cause of its own.
 * - Calls are matched by their qualified name after substituting the first
 *   component through the file's import aliases (flow-insensitive; the name
 *   as written is tried too, and a bare name may come from a star import, so
 *   the analysis errs on the toxic side): exec() (also the Python 2 exec
 *   statement), __import__() and importlib.import_module() anywhere are
 *   dynamic code, and a string literal first argument is also recorded as a
 *   dynamic import; os.fork/forkpty/system/popen/exec* /spawn* /posix_spawn*,
 *   pty.fork/spawn and asyncio.create_subprocess_exec/shell anywhere spawn
 *   processes; threading.Thread, multiprocessing.Pool and
 *   ssl.create_default_context are causes only when called at import time.
 * - An assignment (any scope) of a name or a dotted name whose last name is
 *   one a target ends with, such as `run = exec` or `load =
 *   il.import_module`, makes the target name one more alias, its first
 *   component resolved through the import aliases; calls through it are
 *   matched like the rest. Annotations, parentheses, spacing and line
 *   continuations aside; every target of a chain (`x = run = exec`) is
 *   bound, and tuples pairwise (`run, x = exec, 1`) up to a starred item.
 * - __all__ is read where the file binds it at module scope (blocks of
 *   if/try/for/with included; def and class bodies not; skipped blocks as
 *   above): `__all__ = ` or `+=` a list or tuple of string literals (or a
 *   `+` of such), `__all__.extend(<that>)` and `__all__.append("x")` give
 *   ALL_LITERAL and the names in source order, without repeats; every
 *   binding is taken, so names from both arms of an if are kept. Any other
 *   binding or change of __all__ (a name, a call, a comprehension, `from m
 *   import __all__`, __all__[i] = ...) makes it ALL_DYNAMIC for good, the
 *   names read so far kept: so do a module-scope __all__ as any other
 *   target (`x = __all__ = `, `(__all__) =`, `__all__, x =`, `for __all__
 *   in`, `with ... as __all__`, `except ... as __all__`, `(__all__ :=
 *   ...)`, `del __all__`, `def __all__`) and `global __all__` anywhere.
 * - Definitions, for test discovery (struct pydef), with no name pattern
 *   applied: every def, async def and class at module scope, and in the
 *   body of a recorded class, nested classes to any depth with the index of
 *   their class as parent. Blocks of if/elif/else, try, with, for, while
 *   and match count as the scope they are in (both arms of an if are kept);
 *   def bodies and skipped blocks (as above) hold none. Each gets its name,
 *   the line of its `def`/`class` keyword and its flags: DEF_ASYNC; from
 *   its decorators, DEF_TOXIC_MARK for X.mark.toxic or mark.toxic,
 *   DEF_PARAMETRIZE for the same of parametrize (called or not, X any
 *   name, so an alias of pytest counts) and DEF_FIXTURE for X.fixture or
 *   fixture. A class has its bases (a dotted name normalized, anything
 *   else as its source text; keyword arguments left out), has_init and
 *   has_new for a def __init__/__new__ in its body, and the marks of a
 *   `pytestmark = ` (or +=) in its body: one mark, a list or tuple of
 *   them, or a `+` of such. `__test__ = False|True` there gives
 *   DEF_NOT_TEST|DEF_FORCE_TEST, the last binding winning. The same two
 *   statements at module scope give report->module_flags. Only a statement
 *   that starts with the name counts (`x = pytestmark = ...` does not).
 * - A file that does not parse gets a "could not parse: line N" cause, N
 *   being the line of the first error (the innermost ERROR or MISSING node
 *   on the way to it); whatever parsed is still analyzed.
 * - Input may start with a UTF-8 BOM or declare a PEP 263 coding on line 1
 *   or 2; other encodings are converted to UTF-8 with iconv(3). Line numbers
 *   do not change. Unknown encodings and undecodable bytes are parsed as is.
 * - Causes are sorted by line; one cause per line and name.
 *
 * Cost: one parse and one pass of a tree cursor per file. The pass enters
 * every statement but goes into an expression only toward its next '(',
 * since a call needs one, so most expression nodes are never visited. It
 * copies out imports as it meets them and remembers calls as nodes, which
 * are resolved against the aliases before the tree is deleted; only call
 * names that may matter are looked at. Definitions are copied out as the
 * walk meets them, their decorators read at the decorated_definition above
 * them. An expression statement is looked at further only when its first
 * bytes spell `__all__`, `pytestmark`, `__test__` or `pytest_plugins`
 * (whose module names are imports), or when it is an
 * assignment some word of which is a name a target ends with. Where else
 * a file spells __all__ as a word is looked up in the tree after the walk,
 * with one cursor moving forward. Scratch arrays live in the analyzer and
 * are reused from one file to the next. Over the CPython stdlib the
 * analysis costs about 6-8% more than a bare parse. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "tach/report.h"
#include "tach/util.h"

const TSLanguage *tree_sitter_python(void);

/* The symbol of ERROR nodes (ts_builtin_sym_error in tree_sitter/parser.h). */
#define SYM_ERROR ((TSSymbol)-1)

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
	K_LEAF,         /* nothing of interest below: tokens, names, numbers */
	K_STMTS,        /* may hold statements: blocks, compound statements, ERROR */
};

static const struct {
	const char *name;
	enum kind kind;
} named_kinds[] = {
	{"import_statement", K_IMPORT},
	{"import_from_statement", K_FROM},
	{"future_import_statement", K_FUTURE},
	{"aliased_import", K_ALIASED},
	{"dotted_name", K_DOTTED},
	{"relative_import", K_RELATIVE},
	{"import_prefix", K_PREFIX},
	{"wildcard_import", K_WILDCARD},
	{"identifier", K_IDENT},
	{"call", K_CALL},
	{"attribute", K_ATTRIBUTE},
	{"function_definition", K_FUNC},
	{"lambda", K_LAMBDA},
	{"if_statement", K_IF},
	{"elif_clause", K_ELIF},
	{"exec_statement", K_EXEC},
	{"comparison_operator", K_COMPARE},
	{"not_operator", K_NOT},
	{"parenthesized_expression", K_PAREN},
	{"string", K_STRING},
	{"comment", K_COMMENT},
	{"argument_list", K_ARGS},
	{"class_definition", K_CLASS},
	{"expression_statement", K_EXPRSTMT},
	{"assignment", K_ASSIGN},
	{"augmented_assignment", K_AUGASSIGN},
	{"list", K_LIST},
	{"tuple", K_TUPLE},
	{"expression_list", K_EXPRLIST},
	{"binary_operator", K_BINOP},
	{"concatenated_string", K_CONCAT},
	{"pattern_list", K_PATTERNS},
	{"tuple_pattern", K_PATTERNS},
	{"list_pattern", K_PATTERNS},
	{"list_splat", K_SPLAT},
	{"list_splat_pattern", K_SPLAT},
	{"module", K_STMTS},
	{"block", K_STMTS},
	{"else_clause", K_STMTS},
	{"for_statement", K_STMTS},
	{"while_statement", K_STMTS},
	{"try_statement", K_STMTS},
	{"except_clause", K_STMTS},
	{"except_group_clause", K_STMTS},
	{"finally_clause", K_STMTS},
	{"with_statement", K_STMTS},
	{"decorated_definition", K_DECORATED},
	{"decorator", K_DECORATOR},
	{"keyword_argument", K_KEYWORD},
	{"dictionary_splat", K_KEYWORD},
	{"match_statement", K_STMTS},
	{"case_clause", K_STMTS},
	{"integer", K_LEAF},
	{"float", K_LEAF},
	{"true", K_LEAF},
	{"false", K_LEAF},
	{"none", K_LEAF},
	{"ellipsis", K_LEAF},
	{"string_start", K_LEAF},
	{"string_content", K_LEAF},
	{"string_end", K_LEAF},
	{"escape_sequence", K_LEAF},
	{"line_continuation", K_LEAF},
	{"type_conversion", K_LEAF},
	{"keyword_separator", K_LEAF},
	{"positional_separator", K_LEAF},
};

/* How a node's children are treated, chosen when the node is visited. */
enum mode {
	M_NONE,
	M_FUNC,         /* the "body" child runs later, not at import */
	M_SKIPBODY,     /* skip the "consequence" child */
	M_SKIPALT,      /* skip the "alternative" children */
	M_CLASS,        /* the "body" child is a class body */
	M_DECO,         /* the "definition" child gets the decorators' flags */
};

/* The walk's state for the node at one depth. */
struct frame {
	uint32_t end;           /* the node's end byte */
	int32_t scope;          /* the class (index in defs) whose body holds the node, or -1 */
	int32_t arg;            /* on entry, the flags of the node's decorators; after visit(),
	                         * for M_CLASS the class's index in defs (-1: not recorded),
	                         * for M_DECO the decorators' flags */
	unsigned char infunc;   /* inside a def or lambda body */
	unsigned char inclass;  /* inside a class body */
	unsigned char mode;     /* enum mode, for the children */
	unsigned char guided;   /* visit only the children holding a '(' */
};

/* A call seen by the walk, resolved after it. Valid while the tree lives. */
struct pcall {
	TSNode node;
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
	struct step *path;      /* the way from the root to a node, see all_bindings() */
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
	char *conv;
	size_t convcap;
};

/* The calls worth a cause, by qualified name. */
enum target_kind { T_EXEC, T_IMPORT, T_MODSCOPE, T_SPAWN };

static const struct target {
	const char *qual;
	enum target_kind kind;
	const char *name;       /* cause name; NULL means qual */
} targets[] = {
	{"exec", T_EXEC, NULL},
	{"builtins.exec", T_EXEC, "exec"},
	{"__import__", T_IMPORT, NULL},
	{"builtins.__import__", T_IMPORT, "__import__"},
	{"importlib.import_module", T_IMPORT, NULL},
	{"threading.Thread", T_MODSCOPE, NULL},
	{"multiprocessing.Pool", T_MODSCOPE, NULL},
	{"multiprocessing.pool.Pool", T_MODSCOPE, NULL},
	{"ssl.create_default_context", T_MODSCOPE, NULL},
	{"os.fork", T_SPAWN, NULL},
	{"os.forkpty", T_SPAWN, NULL},
	{"os.system", T_SPAWN, NULL},
	{"os.popen", T_SPAWN, NULL},
	{"os.execl", T_SPAWN, NULL},
	{"os.execle", T_SPAWN, NULL},
	{"os.execlp", T_SPAWN, NULL},
	{"os.execlpe", T_SPAWN, NULL},
	{"os.execv", T_SPAWN, NULL},
	{"os.execve", T_SPAWN, NULL},
	{"os.execvp", T_SPAWN, NULL},
	{"os.execvpe", T_SPAWN, NULL},
	{"os.spawnl", T_SPAWN, NULL},
	{"os.spawnle", T_SPAWN, NULL},
	{"os.spawnlp", T_SPAWN, NULL},
	{"os.spawnlpe", T_SPAWN, NULL},
	{"os.spawnv", T_SPAWN, NULL},
	{"os.spawnve", T_SPAWN, NULL},
	{"os.spawnvp", T_SPAWN, NULL},
	{"os.spawnvpe", T_SPAWN, NULL},
	{"os.posix_spawn", T_SPAWN, NULL},
	{"os.posix_spawnp", T_SPAWN, NULL},
	{"pty.fork", T_SPAWN, NULL},
	{"pty.spawn", T_SPAWN, NULL},
	{"asyncio.create_subprocess_exec", T_SPAWN, NULL},
	{"asyncio.create_subprocess_shell", T_SPAWN, NULL},
	{"asyncio.subprocess.create_subprocess_exec", T_SPAWN, NULL},
	{"asyncio.subprocess.create_subprocess_shell", T_SPAWN, NULL},
};

enum { MAXCOMP = 8 };

struct span {
	const char *s;
	size_t n;
};

static bool interesting(struct span t);

/* [A-Za-z0-9_]: what \w matches in a bytes pattern */
static bool
is_word(unsigned char ch)
{
	return ch == '_' || (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static void
buf_reset(struct buf *b)
{
	b->len = 0;
	buf_add(b, "", 0);
}

static enum kind
kindof(const struct analyzer *a, TSNode n)
{
	TSSymbol sym;

	if (ts_node_is_null(n))
		return K_OTHER;
	sym = ts_node_symbol(n);
	return sym < a->nsym ? (enum kind)a->kind[sym] : K_OTHER;
}

static struct span
text(const struct analyzer *a, TSNode n)
{
	uint32_t start;

	if (ts_node_is_null(n))
		return (struct span){"", 0};
	start = ts_node_start_byte(n);
	return (struct span){a->src + start, ts_node_end_byte(n) - start};
}

static bool
span_is(struct span t, const char *s)
{
	size_t n = strlen(s);

	return t.n == n && memcmp(t.s, s, n) == 0;
}

static int
lineof(TSNode n)
{
	return (int)ts_node_start_point(n).row + 1;
}

static TSNode
field(TSNode n, TSFieldId id)
{
	return ts_node_child_by_field_id(n, id);
}

static TSNode
unparen(const struct analyzer *a, TSNode n)
{
	while (kindof(a, n) == K_PAREN)
		n = ts_node_named_child(n, 0);
	return n;
}

/* Records a cause; takes ownership of reason. */
static void
add_cause(struct analyzer *a, enum cause_kind kind, const char *name, int line, bool itime, char *reason)
{
	struct xcause *x;

	a->causes = xgrow(a->causes, &a->causecap, a->ncauses + 1, sizeof(a->causes[0]));
	x = &a->causes[a->ncauses];
	x->c.kind = kind;
	x->c.name = xstrdup(name);
	x->c.reason = reason;
	x->c.line = line;
	x->c.import_time = itime;
	x->seq = (uint32_t)a->ncauses++;
}

static void
add_import(struct analyzer *a, const char *module, const char *name, int level, int line, bool itime,
           bool dynamic, uint32_t pos)
{
	struct ximport *x;

	a->imps = xgrow(a->imps, &a->impcap, a->nimps + 1, sizeof(a->imps[0]));
	x = &a->imps[a->nimps];
	x->imp.module = xstrdup(module);
	x->imp.name = name ? xstrdup(name) : NULL;
	x->imp.level = level;
	x->imp.line = line;
	x->imp.import_time = itime;
	x->imp.dynamic = dynamic;
	x->pos = pos;
	x->seq = (uint32_t)a->nimps++;
}

/* Adds a cause when the absolute module name matches the toxic table. */
static bool
toxic_import(struct analyzer *a, const char *dotted, int line, bool itime)
{
	enum cause_kind kind;

	if (!*dotted || !rules_match(a->rules, dotted, &kind))
		return false;
	add_cause(a, kind, dotted, line, itime,
	          xasprintf("Imports toxic module '%s' (line %d)", dotted, line));
	return true;
}

static void
add_alias(struct analyzer *a, struct span local, const char *qual, bool assigned)
{
	struct alias *al;

	if (!local.n || !*qual || (local.n == strlen(qual) && memcmp(local.s, qual, local.n) == 0))
		return;
	a->aliases = xgrow(a->aliases, &a->aliascap, a->naliases + 1, sizeof(a->aliases[0]));
	al = &a->aliases[a->naliases++];
	al->local = local.s;
	al->len = local.n;
	al->qual = xstrdup(qual);
	al->assigned = assigned;
}

/* Sets b to the dotted name under the cursor, components joined by '.'
 * whatever the spacing in the source. Leaves the cursor where it was. */
static void
dotted_name(struct analyzer *a, TSTreeCursor *c, struct buf *b)
{
	TSNode n = ts_tree_cursor_current_node(c);
	struct span t;

	buf_reset(b);
	if (kindof(a, n) == K_IDENT) {
		t = text(a, n);
		buf_add(b, t.s, t.n);
		return;
	}
	if (!ts_tree_cursor_goto_first_child(c))
		return;
	do {
		n = ts_tree_cursor_current_node(c);
		if (kindof(a, n) != K_IDENT)
			continue;
		if (b->len)
			buf_putc(b, '.');
		t = text(a, n);
		buf_add(b, t.s, t.n);
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
}

/* `a.b as x` under the cursor: sets b to "a.b" and returns the span of x. */
static struct span
aliased_import(struct analyzer *a, TSTreeCursor *c, struct buf *b)
{
	struct span alias = {NULL, 0};
	TSNode n;

	buf_reset(b);
	if (!ts_tree_cursor_goto_first_child(c))
		return alias;
	do {
		n = ts_tree_cursor_current_node(c);
		switch (kindof(a, n)) {
		case K_DOTTED:
			dotted_name(a, c, b);
			break;
		case K_IDENT:
			alias = text(a, n);
			break;
		default:
			break;
		}
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
	return alias;
}

/* `..a.b` under the cursor: returns the level and sets b to "a.b". */
static int
relative_import(struct analyzer *a, TSTreeCursor *c, struct buf *b)
{
	struct span t;
	int level = 0;
	size_t i;
	TSNode n;

	buf_reset(b);
	if (!ts_tree_cursor_goto_first_child(c))
		return 0;
	do {
		n = ts_tree_cursor_current_node(c);
		switch (kindof(a, n)) {
		case K_PREFIX:
			t = text(a, n);
			for (i = 0; i < t.n; i++)
				level += t.s[i] == '.';
			break;
		case K_DOTTED:
			dotted_name(a, c, b);
			break;
		default:
			break;
		}
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
	return level;
}

static void
import_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope)
{
	uint32_t pos = ts_node_start_byte(stmt);
	int line = lineof(stmt);
	struct span alias;
	TSNode n;

	if (!ts_tree_cursor_goto_first_child(c))
		return;
	do {
		n = ts_tree_cursor_current_node(c);
		switch (kindof(a, n)) {
		case K_DOTTED:
			/* `import a.b` binds a to a: nothing to alias */
			dotted_name(a, c, &a->mod);
			break;
		case K_ALIASED:
			alias = aliased_import(a, c, &a->mod);
			add_alias(a, alias, a->mod.data, false);
			if (modscope && span_is(alias, "__all__"))
				a->allkind = ALL_DYNAMIC;
			break;
		default:
			continue;
		}
		if (!a->mod.len)
			continue;
		add_import(a, a->mod.data, NULL, 0, line, itime, false, pos);
		toxic_import(a, a->mod.data, line, itime);
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
}

/* One name of `from module import name [as alias]`: a->mod and a->name hold
 * the two, alias is the name bound in the source (the alias, or the name).
 * modscope: the statement is at module scope, where it may bind __all__. */
static void
from_name(struct analyzer *a, int level, struct span alias, int line, bool itime, bool modscope,
          uint32_t pos)
{
	const char *module = a->mod.data, *name = a->name.data;

	add_import(a, module, name, level, line, itime, false, pos);
	if (modscope && span_is(alias, "__all__"))
		a->allkind = ALL_DYNAMIC;
	if (level > 0)
		return;
	buf_reset(&a->tmp);
	buf_printf(&a->tmp, "%s.%s", module, name);
	if (!toxic_import(a, module, line, itime))
		toxic_import(a, a->tmp.data, line, itime);
	add_alias(a, alias, a->tmp.data, false);
}

static void
star_import(struct analyzer *a, int level, int line, bool itime, uint32_t pos)
{
	const char *module = a->mod.data;
	enum cause_kind kind;

	add_import(a, module, "*", level, line, itime, false, pos);
	if (level > 0 || !*module)
		return;
	if (rules_match(a->rules, module, &kind))
		add_cause(a, kind, module, line, itime,
		          xasprintf("Star import from toxic module '%s' (line %d)", module, line));
	a->stars = xgrow(a->stars, &a->starcap, a->nstars + 1, sizeof(a->stars[0]));
	a->stars[a->nstars++] = xstrdup(module);
}

/* import_from_statement and future_import_statement. */
static void
from_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope, bool future)
{
	uint32_t pos = ts_node_start_byte(stmt);
	int line = lineof(stmt), level = 0;
	bool have_module = future;
	struct span alias;
	TSNode n;

	buf_reset(&a->mod);
	if (future)
		buf_puts(&a->mod, "__future__");
	if (!ts_tree_cursor_goto_first_child(c))
		return;
	do {
		n = ts_tree_cursor_current_node(c);
		switch (kindof(a, n)) {
		case K_DOTTED:
			if (!have_module) {
				dotted_name(a, c, &a->mod);
				have_module = true;
				break;
			}
			dotted_name(a, c, &a->name);
			if (a->name.len)
				from_name(a, level, text(a, n), line, itime, modscope, pos);
			break;
		case K_RELATIVE:
			level = relative_import(a, c, &a->mod);
			have_module = true;
			break;
		case K_ALIASED:
			alias = aliased_import(a, c, &a->name);
			if (!alias.n)
				alias = text(a, n);
			if (a->name.len)
				from_name(a, level, alias, line, itime, modscope, pos);
			break;
		case K_WILDCARD:
			star_import(a, level, line, itime, pos);
			break;
		default:
			break;
		}
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
}

/* TYPE_CHECKING or x.TYPE_CHECKING */
static bool
is_type_checking(const struct analyzer *a, TSNode n)
{
	switch (kindof(a, n)) {
	case K_IDENT:
		return span_is(text(a, n), "TYPE_CHECKING");
	case K_ATTRIBUTE:
		return kindof(a, field(n, a->f_object)) == K_IDENT &&
		       span_is(text(a, field(n, a->f_attribute)), "TYPE_CHECKING");
	default:
		return false;
	}
}

/* The body of a plain string literal (a u or r prefix at most, no b or f)
 * and whether it is raw; false for anything else. */
static bool
string_body(struct span t, struct span *body, bool *raw)
{
	size_t q;

	*raw = false;
	while (t.n && strchr("uUrR", *t.s)) {
		*raw |= (*t.s | 0x20) == 'r';
		t.s++;
		t.n--;
	}
	if (t.n < 2 || (*t.s != '"' && *t.s != '\''))
		return false;
	q = t.n >= 6 && t.s[1] == t.s[0] && t.s[2] == t.s[0] ? 3 : 1;
	if (t.n < 2 * q)
		return false;
	body->s = t.s + q;
	body->n = t.n - 2 * q;
	return true;
}

/* A plain (u/r prefixed at most) string literal spelling __main__. */
static bool
is_main_string(const struct analyzer *a, TSNode n)
{
	struct span body;
	bool raw;

	return kindof(a, n) == K_STRING && string_body(text(a, n), &body, &raw) &&
	       span_is(body, "__main__");
}

/* __name__ == "__main__", either way round */
static bool
is_main_guard(const struct analyzer *a, TSNode n)
{
	TSNode l, r;

	if (kindof(a, n) != K_COMPARE || ts_node_child_count(n) != 3 ||
	    kindof(a, ts_node_child(n, 1)) != K_EQ)
		return false;
	l = ts_node_child(n, 0);
	r = ts_node_child(n, 2);
	if (kindof(a, l) != K_IDENT) {
		TSNode t = l;
		l = r;
		r = t;
	}
	return kindof(a, l) == K_IDENT && span_is(text(a, l), "__name__") && is_main_string(a, r);
}

static enum mode
if_mode(const struct analyzer *a, TSNode n, bool is_if)
{
	TSNode cond = unparen(a, field(n, a->f_condition));

	if (is_type_checking(a, cond) || is_main_guard(a, cond))
		return M_SKIPBODY;
	/* under `if not TYPE_CHECKING:` the elif/else branches never run */
	if (is_if && kindof(a, cond) == K_NOT && is_type_checking(a, unparen(a, field(cond, a->f_argument))))
		return M_SKIPALT;
	return M_NONE;
}


/* Appends the value of a string literal, or of adjacent ones, to b. False
 * when one is not plain or would need its escapes decoded. */
static bool
string_value(const struct analyzer *a, TSNode n, struct buf *b)
{
	struct span body;
	uint32_t i, count;
	TSNode c;
	bool raw;

	if (kindof(a, n) == K_CONCAT) {
		count = ts_node_named_child_count(n);
		for (i = 0; i < count; i++) {
			c = ts_node_named_child(n, i);
			if (kindof(a, c) != K_COMMENT && !string_value(a, c, b))
				return false;
		}
		return count > 0;
	}
	if (kindof(a, n) != K_STRING || !string_body(text(a, n), &body, &raw))
		return false;
	if (!raw && memchr(body.s, '\\', body.n))
		return false;
	buf_add(b, body.s, body.n);
	return true;
}

/* Adds a name to __all__ unless it is there already. */
static void
all_add(struct analyzer *a, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < a->nalls; i++)
		if (a->alls[i][0] == s[0] && strncmp(a->alls[i], s, n) == 0 && a->alls[i][n] == '\0')
			return;
	a->alls = xgrow(a->alls, &a->allcap, a->nalls + 1, sizeof(a->alls[0]));
	a->alls[a->nalls++] = xstrndup(s, n);
}

/* A string literal naming one entry of __all__. */
static bool
all_string(struct analyzer *a, TSNode n)
{
	buf_reset(&a->tmp);
	if (!string_value(a, unparen(a, n), &a->tmp))
		return false;
	all_add(a, a->tmp.data, a->tmp.len);
	return true;
}

/* Adds the names of a list or tuple of string literals, or of a `+` of
 * such; false at the first part that is something else. */
static bool
all_names(struct analyzer *a, TSNode n, int depth)
{
	TSTreeCursor *c = &a->lcursor;
	TSNode item;
	bool ok = true;

	n = unparen(a, n);
	switch (kindof(a, n)) {
	case K_BINOP:
		if (depth > 64 || !span_is(text(a, field(n, a->f_operator)), "+"))
			return false;
		return all_names(a, field(n, a->f_left), depth + 1) &&
		       all_names(a, field(n, a->f_right), depth + 1);
	case K_LIST:
	case K_TUPLE:
	case K_EXPRLIST:
		break;
	default:
		return false;
	}
	/* ts_node_named_child() starts over from the first child: a cursor
	 * keeps long lists linear */
	if (a->have_lcursor)
		ts_tree_cursor_reset(c, n);
	else
		*c = ts_tree_cursor_new(n);
	a->have_lcursor = true;
	if (!ts_tree_cursor_goto_first_child(c))
		return true;
	do {
		item = ts_tree_cursor_current_node(c);
		if (ts_node_is_named(item) && kindof(a, item) != K_COMMENT)
			ok = all_string(a, item);
	} while (ok && ts_tree_cursor_goto_next_sibling(c));
	return ok;
}

static bool
is_all(const struct analyzer *a, TSNode n)
{
	return kindof(a, n) == K_IDENT && span_is(text(a, n), "__all__");
}

/* The one argument of a call, or a null node. */
static TSNode
only_argument(const struct analyzer *a, TSNode args)
{
	TSNode n, arg = {0};
	uint32_t i, count;

	if (kindof(a, args) != K_ARGS)
		return arg;
	count = ts_node_named_child_count(args);
	for (i = 0; i < count; i++) {
		n = ts_node_named_child(args, i);
		if (kindof(a, n) == K_COMMENT)
			continue;
		if (!ts_node_is_null(arg))
			return (TSNode){0};
		arg = n;
	}
	return arg;
}

/* A module-scope expression statement starting with __all__. */
static void
all_statement(struct analyzer *a, TSNode stmt)
{
	TSNode n = ts_node_named_child(stmt, 0), fn, arg;
	struct span method;
	bool ok = false;

	switch (kindof(a, n)) {
	case K_ASSIGN:
		/* not __all__ itself: __all__[i] = x, __all__, b = ... */
		if (!is_all(a, field(n, a->f_left)))
			break;
		/* `__all__: list[str]` binds nothing */
		if (ts_node_is_null(field(n, a->f_right)))
			return;
		while (kindof(a, n) == K_ASSIGN && !ts_node_is_null(field(n, a->f_right)))
			n = field(n, a->f_right);
		ok = all_names(a, n, 0);
		break;
	case K_AUGASSIGN:
		ok = is_all(a, field(n, a->f_left)) && span_is(text(a, field(n, a->f_operator)), "+=") &&
		     all_names(a, field(n, a->f_right), 0);
		break;
	case K_CALL:
		fn = field(n, a->f_function);
		if (kindof(a, fn) != K_ATTRIBUTE || !is_all(a, field(fn, a->f_object)))
			return;
		method = text(a, field(fn, a->f_attribute));
		arg = only_argument(a, field(n, a->f_arguments));
		if (span_is(method, "extend"))
			ok = !ts_node_is_null(arg) && all_names(a, arg, 0);
		else if (span_is(method, "append"))
			ok = !ts_node_is_null(arg) && all_string(a, arg);
		else if (span_is(method, "sort") || span_is(method, "reverse") || span_is(method, "copy") ||
		         span_is(method, "count") || span_is(method, "index"))
			return;
		break;
	default:
		/* read, not changed */
		return;
	}
	if (!ok)
		a->allkind = ALL_DYNAMIC;
	else if (a->allkind == ALL_NONE)
		a->allkind = ALL_LITERAL;
}

/* Sets b to the dotted name of an identifier or of a chain of attributes
 * of one, parentheses and spacing aside, when its last name is one a target
 * ends with; false for anything else. */
static bool
value_name(struct analyzer *a, TSNode n, struct buf *b)
{
	struct span comps[MAXCOMP];
	size_t k = 0;
	TSNode attr;

	for (n = unparen(a, n); kindof(a, n) == K_ATTRIBUTE; n = unparen(a, field(n, a->f_object))) {
		attr = field(n, a->f_attribute);
		if (k == MAXCOMP || kindof(a, attr) != K_IDENT)
			return false;
		comps[k++] = text(a, attr);
		if (k == 1 && !interesting(comps[0]))
			return false;
	}
	if (k == MAXCOMP || kindof(a, n) != K_IDENT)
		return false;
	comps[k++] = text(a, n);
	if (k == 1 && !interesting(comps[0]))
		return false;
	buf_reset(b);
	while (k--) {
		if (b->len)
			buf_putc(b, '.');
		buf_add(b, comps[k].s, comps[k].n);
	}
	return true;
}

static bool
is_sequence(enum kind k)
{
	return k == K_PATTERNS || k == K_TUPLE || k == K_LIST || k == K_EXPRLIST;
}

/* The next named child at or after n that is not a comment. */
static TSNode
skip_comments(const struct analyzer *a, TSNode n)
{
	while (!ts_node_is_null(n) && kindof(a, n) == K_COMMENT)
		n = ts_node_next_named_sibling(n);
	return n;
}

/* Target left is bound to value: a name bound to a.b, where b is a name a
 * target ends with, becomes an alias of a.b; targets and values of the same
 * shape are paired up to the first starred one. */
static void
bind_alias(struct analyzer *a, TSNode left, TSNode value, int depth)
{
	TSNode l, v;
	int i;

	left = unparen(a, left);
	value = unparen(a, value);
	if (kindof(a, left) == K_IDENT) {
		if (value_name(a, value, &a->tmp))
			add_alias(a, text(a, left), a->tmp.data, true);
		return;
	}
	if (depth > 8 || !is_sequence(kindof(a, left)) || !is_sequence(kindof(a, value)))
		return;
	l = skip_comments(a, ts_node_named_child(left, 0));
	v = skip_comments(a, ts_node_named_child(value, 0));
	for (i = 0; i < 64 && !ts_node_is_null(l) && !ts_node_is_null(v); i++) {
		if (kindof(a, l) == K_SPLAT || kindof(a, v) == K_SPLAT)
			return;
		bind_alias(a, l, v, depth + 1);
		l = skip_comments(a, ts_node_next_named_sibling(l));
		v = skip_comments(a, ts_node_next_named_sibling(v));
	}
}

/* Some word of [s, e) is a name a target ends with. */
static bool
spells_target(const char *s, const char *e)
{
	const char *w;

	while (s < e) {
		if (!is_word(*s)) {
			s++;
			continue;
		}
		for (w = s; s < e && is_word(*s); s++)
			;
		if (interesting((struct span){w, (size_t)(s - w)}))
			return true;
	}
	return false;
}

/* `NAME = a.b`, where b is a name a target ends with, in any form: with
 * a type annotation, parentheses around the value, chained (`x = NAME =
 * a.b`) or in tuples (`NAME, x = a.b, 1`). Most assignments name no
 * target anywhere, and their bytes say so before the tree is asked. */
static void
assignment_aliases(struct analyzer *a, TSNode n, const char *s, const char *e)
{
	TSNode lefts[16], value = n;
	size_t k = 0, i;

	if (!spells_target(s, e))
		return;
	while (kindof(a, value) == K_ASSIGN && k < LEN(lefts)) {
		lefts[k++] = field(value, a->f_left);
		value = field(value, a->f_right);
	}
	if (ts_node_is_null(value) || kindof(a, value) == K_ASSIGN)
		return;
	for (i = 0; i < k; i++)
		bind_alias(a, lefts[i], value, 0);
}

/* [s, e) starts with the word w of n bytes. */
static bool
starts_word(const char *s, const char *e, const char *w, size_t n)
{
	return (size_t)(e - s) >= n && memcmp(s, w, n) == 0 && ((size_t)(e - s) == n || !is_word(s[n]));
}

/* Appends to b the dotted name an identifier or a chain of attributes of
 * one spells, parentheses, spacing and comments aside; false for anything
 * else. */
static bool
dotted_expr(const struct analyzer *a, TSNode n, struct buf *b, int depth)
{
	struct span t;
	TSNode attr;

	switch (kindof(a, n)) {
	case K_IDENT:
		t = text(a, n);
		buf_add(b, t.s, t.n);
		return true;
	case K_ATTRIBUTE:
		attr = field(n, a->f_attribute);
		if (depth > 64 || kindof(a, attr) != K_IDENT ||
		    !dotted_expr(a, unparen(a, field(n, a->f_object)), b, depth + 1))
			return false;
		buf_putc(b, '.');
		t = text(a, attr);
		buf_add(b, t.s, t.n);
		return true;
	default:
		return false;
	}
}

/* The base classes of a class: a dotted name as a dotted name, anything
 * else as its source text; keyword arguments and **kw are no bases. */
static void
class_bases(struct analyzer *a, struct xdef *x, TSNode args)
{
	struct buf *b = &a->defstr;
	uint32_t i, count;
	struct span t;
	size_t start;
	TSNode n;

	if (kindof(a, args) != K_ARGS)
		return;
	count = ts_node_named_child_count(args);
	for (i = 0; i < count; i++) {
		n = ts_node_named_child(args, i);
		if (kindof(a, n) == K_COMMENT || kindof(a, n) == K_KEYWORD)
			continue;
		n = unparen(a, n);
		start = b->len;
		if (!dotted_expr(a, n, b, 0)) {
			b->len = start;
			t = text(a, n);
			buf_add(b, t.s, t.n);
		}
		if (b->len == start)
			continue;
		buf_putc(b, '\0');
		a->baseoffs = xgrow(a->baseoffs, &a->baseoffcap, a->nbaseoffs + 1, sizeof(a->baseoffs[0]));
		a->baseoffs[a->nbaseoffs++] = start;
		x->d.nbases++;
	}
}

/* Records the def or class n, met by the walk in frame f outside any def
 * body. Returns its index in defs, or -1 when it has no name or sits in
 * the body of a class that was not recorded. */
static int32_t
add_def(struct analyzer *a, TSNode n, enum def_kind kind, const struct frame *f)
{
	TSNode name = field(n, a->f_name);
	struct xdef *x;
	struct span t;

	if (kindof(a, name) != K_IDENT || (f->inclass && f->scope < 0) || a->ndefs >= INT32_MAX)
		return -1;
	a->defs = xgrow(a->defs, &a->defcap, a->ndefs + 1, sizeof(a->defs[0]));
	x = &a->defs[a->ndefs];
	t = text(a, name);
	x->d = (struct pydef){.line = lineof(n), .parent = f->scope, .kind = kind, .flags = (unsigned)f->arg};
	x->name = a->defstr.len;
	x->base = a->nbaseoffs;
	buf_add(&a->defstr, t.s, t.n);
	buf_putc(&a->defstr, '\0');
	if (kind == DEF_CLASS) {
		class_bases(a, x, field(n, a->f_superclasses));
	} else {
		/* a function_definition starts with `async` or `def` */
		if (a->src[ts_node_start_byte(n)] == 'a')
			x->d.flags |= DEF_ASYNC;
		if (f->scope >= 0 && span_is(t, "__init__"))
			a->defs[f->scope].d.has_init = true;
		else if (f->scope >= 0 && span_is(t, "__new__"))
			a->defs[f->scope].d.has_new = true;
	}
	return (int32_t)a->ndefs++;
}

/* What a decorator or an item of pytestmark is: X.mark.toxic, mark.toxic
 * (DEF_TOXIC_MARK) and the same of parametrize (DEF_PARAMETRIZE); X.fixture
 * or fixture (DEF_FIXTURE). Called or not; X is any name, so an alias of
 * pytest counts. */
static unsigned
mark_flags(const struct analyzer *a, TSNode n)
{
	struct span last;
	unsigned flag;
	TSNode obj;

	n = unparen(a, n);
	if (kindof(a, n) == K_CALL)
		n = unparen(a, field(n, a->f_function));
	if (kindof(a, n) == K_IDENT)
		return span_is(text(a, n), "fixture") ? DEF_FIXTURE : 0;
	if (kindof(a, n) != K_ATTRIBUTE)
		return 0;
	last = text(a, field(n, a->f_attribute));
	obj = unparen(a, field(n, a->f_object));
	if (span_is(last, "fixture"))
		return kindof(a, obj) == K_IDENT ? DEF_FIXTURE : 0;
	if (span_is(last, "toxic"))
		flag = DEF_TOXIC_MARK;
	else if (span_is(last, "parametrize"))
		flag = DEF_PARAMETRIZE;
	else
		return 0;
	if (kindof(a, obj) == K_IDENT)
		return span_is(text(a, obj), "mark") ? flag : 0;
	if (kindof(a, obj) == K_ATTRIBUTE && span_is(text(a, field(obj, a->f_attribute)), "mark") &&
	    kindof(a, unparen(a, field(obj, a->f_object))) == K_IDENT)
		return flag;
	return 0;
}

/* The flags of the decorators of the decorated_definition under the
 * cursor. Leaves the cursor where it was. */
static unsigned
decorator_flags(struct analyzer *a, TSTreeCursor *c)
{
	unsigned flags = 0;
	TSNode n;

	if (!ts_tree_cursor_goto_first_child(c))
		return 0;
	do {
		n = ts_tree_cursor_current_node(c);
		if (kindof(a, n) == K_DECORATOR)
			flags |= mark_flags(a, skip_comments(a, ts_node_named_child(n, 0)));
	} while (ts_tree_cursor_goto_next_sibling(c));
	ts_tree_cursor_goto_parent(c);
	return flags;
}

/* The marks in the value of pytestmark: one mark, or a list or tuple of
 * them, or a `+` of such. */
static unsigned
marks_of(struct analyzer *a, TSNode n, int depth)
{
	TSTreeCursor *c = &a->lcursor;
	unsigned flags = 0;

	n = unparen(a, n);
	switch (kindof(a, n)) {
	case K_BINOP:
		if (depth > 64)
			return 0;
		return marks_of(a, field(n, a->f_left), depth + 1) | marks_of(a, field(n, a->f_right), depth + 1);
	case K_LIST:
	case K_TUPLE:
	case K_EXPRLIST:
		if (a->have_lcursor)
			ts_tree_cursor_reset(c, n);
		else
			*c = ts_tree_cursor_new(n);
		a->have_lcursor = true;
		if (!ts_tree_cursor_goto_first_child(c))
			return 0;
		do
			flags |= mark_flags(a, ts_tree_cursor_current_node(c));
		while (ts_tree_cursor_goto_next_sibling(c));
		break;
	default:
		flags = mark_flags(a, n);
		break;
	}
	return flags & (DEF_TOXIC_MARK | DEF_PARAMETRIZE);
}

/* `pytestmark = ...` (or +=) and `__test__ = True|False` (test) at module
 * scope or in a class body: flags of the module or of the class. Marks
 * add up over every binding; __test__ is its last binding. */
static void
mark_statement(struct analyzer *a, TSNode stmt, const struct frame *f, bool test)
{
	TSNode n = ts_node_named_child(stmt, 0), value;
	unsigned flags, *to;
	struct span t;

	if (kindof(a, field(n, a->f_left)) != K_IDENT)
		return;
	switch (kindof(a, n)) {
	case K_ASSIGN:
		for (value = n; kindof(a, value) == K_ASSIGN;)
			value = field(value, a->f_right);
		break;
	case K_AUGASSIGN:
		if (test)
			return;
		value = field(n, a->f_right);
		break;
	default:
		return;
	}
	if (ts_node_is_null(value))
		return;
	if (f->scope >= 0)
		to = &a->defs[f->scope].d.flags;
	else if (!f->inclass)
		to = &a->module_flags;
	else
		return;
	if (!test) {
		*to |= marks_of(a, value, 0);
		return;
	}
	t = text(a, unparen(a, value));
	flags = span_is(t, "False") ? DEF_NOT_TEST : span_is(t, "True") ? DEF_FORCE_TEST : 0;
	*to = (*to & ~(unsigned)(DEF_NOT_TEST | DEF_FORCE_TEST)) | flags;
}

/* `pytest_plugins = "mod"` or a list or tuple of such strings at module
 * scope: pytest imports those modules for the tests under this file, so
 * they are imports (and may make it toxic). */
static void
plugins_statement(struct analyzer *a, TSNode stmt)
{
	TSNode n = ts_node_named_child(stmt, 0), value, item;
	uint32_t i, count;
	struct span t;
	bool raw;
	int line = (int)ts_node_start_point(stmt).row + 1;

	if (kindof(a, n) != K_ASSIGN || kindof(a, field(n, a->f_left)) != K_IDENT)
		return;
	value = unparen(a, field(n, a->f_right));
	count = is_sequence(kindof(a, value)) ? ts_node_named_child_count(value) : 1;
	for (i = 0; i < count; i++) {
		item = is_sequence(kindof(a, value)) ? ts_node_named_child(value, i) : value;
		if (kindof(a, item) != K_STRING || !string_body(text(a, item), &t, &raw) || !t.n)
			continue;
		buf_reset(&a->tmp);
		buf_add(&a->tmp, t.s, t.n);
		add_import(a, a->tmp.data, NULL, 0, line, true, false, ts_node_start_byte(item));
		toxic_import(a, a->tmp.data, line, true);
	}
}

static void
expression_statement(struct analyzer *a, TSNode n, const struct frame *f)
{
	const char *s = a->src + ts_node_start_byte(n), *e = a->src + f->end;
	TSNode first;

	if (starts_word(s, e, "__all__", 7)) {
		if (!f->infunc && !f->inclass)
			all_statement(a, n);
		return;
	}
	if (!f->infunc && !f->inclass && starts_word(s, e, "pytest_plugins", 14))
		plugins_statement(a, n);
	else if (!f->infunc && starts_word(s, e, "pytestmark", 10))
		mark_statement(a, n, f, false);
	else if (!f->infunc && starts_word(s, e, "__test__", 8))
		mark_statement(a, n, f, true);
	first = ts_node_named_child(n, 0);
	if (kindof(a, first) == K_ASSIGN)
		assignment_aliases(a, first, s, e);
}

/* Parts of a target that bind each name in them: `(x)`, `x, y`, `[x, *y]`,
 * `as x`. */
static bool
is_target_part(const struct analyzer *a, TSNode n)
{
	enum kind k = kindof(a, n);

	return k == K_PAREN || k == K_SPLAT || is_sequence(k) ||
	       strcmp(ts_node_type(n), "as_pattern_target") == 0;
}

/* a->path[d] is an identifier __all__: makes __all__ dynamic when it is
 * bound there, at module scope, other than by a statement all_statement()
 * reads, or declared global anywhere. Skipped blocks are skipped, as in
 * the walk. */
static void
all_binding(struct analyzer *a, size_t d)
{
	const struct step *path = a->path;
	bool binds = false, global = false, local = false, handled;
	const char *type;
	TSFieldId id;
	size_t i = d, j;
	enum mode m;
	TSNode p;

	while (i > 1 && is_target_part(a, path[i - 1].node))
		i--;
	if (i == 0)
		return;
	p = path[i - 1].node;
	id = path[i].field;
	type = ts_node_type(p);
	/* `__all__ = ...` and `__all__ += ...` opening a statement */
	handled = i == d && i >= 2 && kindof(a, path[i - 2].node) == K_EXPRSTMT &&
	          ts_node_start_byte(path[i - 2].node) == ts_node_start_byte(path[d].node);
	switch (kindof(a, p)) {
	case K_ASSIGN:
		/* `__all__: list[str]` binds nothing */
		binds = id == a->f_left && !handled && !ts_node_is_null(field(p, a->f_right));
		break;
	case K_AUGASSIGN:
		binds = id == a->f_left && !handled;
		break;
	case K_FUNC:
	case K_CLASS:
		binds = id == a->f_name;
		break;
	default:
		if (strcmp(type, "for_statement") == 0)
			binds = id == a->f_left;
		else if (strcmp(type, "named_expression") == 0)
			binds = id == a->f_name;
		else if (strcmp(type, "as_pattern") == 0 || strcmp(type, "except_clause") == 0)
			binds = id == a->f_alias;
		else if (strcmp(type, "delete_statement") == 0)
			binds = true;
		else if (strcmp(type, "global_statement") == 0)
			global = true;
		break;
	}
	if (!binds && !global)
		return;
	for (j = 0; j < d; j++) {
		id = path[j + 1].field;
		switch (kindof(a, path[j].node)) {
		case K_FUNC:
		case K_LAMBDA:
		case K_CLASS:
			local |= id == a->f_body;
			break;
		case K_IF:
			m = if_mode(a, path[j].node, true);
			if ((m == M_SKIPBODY && id == a->f_consequence) || (m == M_SKIPALT && id == a->f_alternative))
				return;
			break;
		case K_ELIF:
			if (if_mode(a, path[j].node, false) == M_SKIPBODY && id == a->f_consequence)
				return;
			break;
		default:
			break;
		}
	}
	if (global || !local)
		a->allkind = ALL_DYNAMIC;
}

/* Moves the cursor, from a node that starts at or before pos, to the
 * innermost node holding the byte at pos, keeping a->path and *depth to
 * match. Returns that node when it is the identifier __all__ starting
 * there, else a null node. */
static TSNode
seek(struct analyzer *a, TSTreeCursor *c, uint32_t pos, size_t *depth)
{
	TSNode n = ts_tree_cursor_current_node(c), none = {0};
	size_t d = *depth;

	/* right, and up when a node's children run out */
	while (ts_node_end_byte(n) <= pos) {
		if (!ts_tree_cursor_goto_next_sibling(c)) {
			if (d == 0 || !ts_tree_cursor_goto_parent(c))
				return none;
			d--;
		}
		n = ts_tree_cursor_current_node(c);
		a->path[d] = (struct step){n, ts_tree_cursor_current_field_id(c)};
	}
	/* down */
	while (ts_node_start_byte(n) <= pos && ts_tree_cursor_goto_first_child(c)) {
		d++;
		a->path = xgrow(a->path, &a->pathcap, d + 1, sizeof(a->path[0]));
		n = ts_tree_cursor_current_node(c);
		while (ts_node_end_byte(n) <= pos && ts_tree_cursor_goto_next_sibling(c))
			n = ts_tree_cursor_current_node(c);
		a->path[d] = (struct step){n, ts_tree_cursor_current_field_id(c)};
	}
	*depth = d;
	if (kindof(a, n) != K_IDENT || ts_node_start_byte(n) != pos || ts_node_end_byte(n) != pos + 7)
		return none;
	return n;
}

/* __all__ may be bound in ways the walk does not look for: `x = __all__ =
 * ...`, `for __all__ in ...`, `(__all__ := ...)`, `with ... as __all__`,
 * `global __all__` in a def. Few files spell __all__ often, so each place
 * it is spelled as a word is looked up in the tree, in source order, with
 * one cursor going forward. */
static void
all_bindings(struct analyzer *a, TSNode root, size_t len)
{
	const char *s = a->src, *e = s + len, *p;
	TSTreeCursor *c = &a->cursor;
	size_t depth = 0;

	p = memmem(s, len, "__all__", 7);
	if (!p)
		return;
	ts_tree_cursor_reset(c, root);
	a->path = xgrow(a->path, &a->pathcap, 1, sizeof(a->path[0]));
	a->path[0] = (struct step){root, 0};
	for (; p; p = memmem(p + 7, e - p - 7, "__all__", 7)) {
		if ((p > s && is_word(p[-1])) || (p + 7 < e && is_word(p[7])))
			continue;
		if (!ts_node_is_null(seek(a, c, (uint32_t)(p - s), &depth)))
			all_binding(a, depth);
	}
}

/* `load = il.import_module`: il may be an import alias, so NAME is also an
 * alias of what il stands for. One level, after the walk, since the import
 * may come later in the file. */
static void
expand_aliases(struct analyzer *a)
{
	size_t n = a->naliases, i, j, first;
	const char *q, *dot;
	struct span local;

	for (i = 0; i < n; i++) {
		if (!a->aliases[i].assigned)
			continue;
		q = a->aliases[i].qual;
		local = (struct span){a->aliases[i].local, a->aliases[i].len};
		dot = strchr(q, '.');
		first = dot ? (size_t)(dot - q) : strlen(q);
		for (j = 0; j < n; j++) {
			if (a->aliases[j].assigned || a->aliases[j].len != first ||
			    memcmp(a->aliases[j].local, q, first) != 0)
				continue;
			buf_reset(&a->tmp);
			buf_puts(&a->tmp, a->aliases[j].qual);
			buf_puts(&a->tmp, q + first);
			add_alias(a, local, a->tmp.data, true);
		}
	}
}

static void
add_call(struct analyzer *a, TSNode n, bool infunc)
{
	a->calls = xgrow(a->calls, &a->callcap, a->ncalls + 1, sizeof(a->calls[0]));
	a->calls[a->ncalls].node = n;
	a->calls[a->ncalls].infunc = infunc;
	a->ncalls++;
}

/* The first '(' of a node after its first byte, or NULL. Every call has
 * one: the '(' of its arguments, which is never the first byte of a node
 * holding the call. So a node without one holds no call, and the walk goes
 * through expressions from one '(' to the next, skipping everything else. */
static const char *
next_paren(const struct analyzer *a, uint32_t from, uint32_t end)
{
	return from < end ? memchr(a->src + from, '(', end - from) : NULL;
}

/* Only f-strings have code inside. */
static bool
is_fstring(const struct analyzer *a, TSNode n, uint32_t end)
{
	const char *s = a->src + ts_node_start_byte(n), *e = a->src + end;

	for (; s < e && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'z'; s++)
		if ((*s | 0x20) == 'f')
			return true;
	return false;
}

/* Visits node n under the cursor. Returns NULL to skip its children, or
 * where to go in them: the first child (when f->guided is 0) or the child
 * holding that '('. */
static const char *
visit(struct analyzer *a, TSTreeCursor *c, TSNode n, struct frame *f)
{
	TSSymbol sym = ts_node_symbol(n);
	enum kind k = sym < a->nsym ? (enum kind)a->kind[sym] : K_STMTS;
	int line;

	f->mode = M_NONE;
	f->guided = 0;
	switch (k) {
	case K_LEAF:
	case K_IDENT:
	case K_COMMENT:
	case K_DOTTED:
	case K_EQ:
		return NULL;
	case K_STRING:
		if (!is_fstring(a, n, f->end))
			return NULL;
		break;
	case K_CALL:
		add_call(a, n, f->infunc);
		break;
	case K_LAMBDA:
		f->mode = M_FUNC;
		break;
	case K_FUNC:
		if (!f->infunc)
			add_def(a, n, DEF_FUNC, f);
		f->mode = M_FUNC;
		return a->src;
	case K_IF:
	case K_ELIF:
		f->mode = if_mode(a, n, k == K_IF);
		return a->src;
	case K_IMPORT:
		import_statement(a, c, n, !f->infunc, !f->infunc && !f->inclass);
		return NULL;
	case K_FROM:
	case K_FUTURE:
		from_statement(a, c, n, !f->infunc, !f->infunc && !f->inclass, k == K_FUTURE);
		return NULL;
	case K_CLASS:
		f->arg = f->infunc ? -1 : add_def(a, n, DEF_CLASS, f);
		f->mode = M_CLASS;
		return a->src;
	case K_DECORATED:
		f->arg = f->infunc ? 0 : (int32_t)decorator_flags(a, c);
		f->mode = M_DECO;
		return a->src;
	case K_EXPRSTMT:
		expression_statement(a, n, f);
		break;
	case K_EXEC:
		line = lineof(n);
		add_cause(a, CAUSE_DYNAMIC_IMPORT, "exec", line, !f->infunc,
		          xasprintf("Dynamic code: exec() (line %d)", line));
		return a->src;
	case K_STMTS:
		return a->src;
	default:
		break;
	}
	/* in a tree with errors, statements may hide in ERROR nodes anywhere */
	if (!a->guide)
		return a->src;
	f->guided = 1;
	return next_paren(a, ts_node_start_byte(n) + 1, f->end);
}

/* Sets up frame d for the child n under the cursor; false to skip it. */
static bool
enter(struct analyzer *a, TSTreeCursor *c, TSNode n, size_t d)
{
	const struct frame *p = &a->frames[d - 1];
	struct frame *f = &a->frames[d];
	TSFieldId id;

	f->end = ts_node_end_byte(n);
	f->infunc = p->infunc;
	f->inclass = p->inclass;
	f->scope = p->scope;
	f->arg = 0;
	if (p->mode == M_NONE)
		return true;
	id = ts_tree_cursor_current_field_id(c);
	switch (p->mode) {
	case M_FUNC:
		if (id == a->f_body)
			f->infunc = 1;
		return true;
	case M_SKIPBODY:
		return id != a->f_consequence;
	case M_SKIPALT:
		return id != a->f_alternative;
	case M_CLASS:
		if (id == a->f_body) {
			f->inclass = 1;
			f->scope = p->arg;
		}
		return true;
	case M_DECO:
		if (id == a->f_definition)
			f->arg = p->arg;
		return true;
	default:
		return true;
	}
}

/* Goes to the first child, or to the child holding the byte at p. A '('
 * is never in a node's padding, so some child holds it. In tree-sitter
 * 0.20.7 ts_tree_cursor_goto_first_child_for_byte() counts a child's padding
 * into its end and may stop a child early; it is only a first guess here,
 * checked and corrected by stepping. */
static bool
descend(struct analyzer *a, TSTreeCursor *c, const char *p, bool guided)
{
	uint32_t at = (uint32_t)(p - a->src);
	TSNode n;

	if (!guided)
		return ts_tree_cursor_goto_first_child(c);
	if (ts_tree_cursor_goto_first_child_for_byte(c, at) >= 0) {
		n = ts_tree_cursor_current_node(c);
		if (ts_node_start_byte(n) > at) {
			ts_tree_cursor_goto_parent(c);
			if (!ts_tree_cursor_goto_first_child(c))
				return false;
			n = ts_tree_cursor_current_node(c);
		}
	} else if (ts_tree_cursor_goto_first_child(c)) {
		n = ts_tree_cursor_current_node(c);
	} else {
		return false;
	}
	while (ts_node_end_byte(n) <= at) {
		if (!ts_tree_cursor_goto_next_sibling(c)) {
			ts_tree_cursor_goto_parent(c);
			return false;
		}
		n = ts_tree_cursor_current_node(c);
	}
	return true;
}

/* One pass over the tree, depth first, in source order. */
static void
walk(struct analyzer *a, TSTreeCursor *c)
{
	const struct frame *up;
	const char *p;
	size_t d = 0;
	TSNode n = ts_tree_cursor_current_node(c);

	a->frames = xgrow(a->frames, &a->framecap, 1, sizeof(a->frames[0]));
	a->frames[0] = (struct frame){ts_node_end_byte(n), -1, 0, 0, 0, M_NONE, 0};
	for (;;) {
		p = visit(a, c, n, &a->frames[d]);
		if (p && descend(a, c, p, a->frames[d].guided)) {
			if (++d == a->framecap)
				a->frames = xgrow(a->frames, &a->framecap, d + 1, sizeof(a->frames[0]));
			n = ts_tree_cursor_current_node(c);
			if (enter(a, c, n, d))
				continue;
		}
		/* on to the next node: a sibling, or a sibling of an ancestor */
		for (;;) {
			if (d == 0)
				return;
			up = &a->frames[d - 1];
			if (!up->guided) {
				if (ts_tree_cursor_goto_next_sibling(c)) {
					n = ts_tree_cursor_current_node(c);
					if (enter(a, c, n, d))
						break;
					continue;
				}
			} else if ((p = next_paren(a, a->frames[d].end, up->end))) {
				ts_tree_cursor_goto_parent(c);
				if (descend(a, c, p, true)) {
					n = ts_tree_cursor_current_node(c);
					if (enter(a, c, n, d))
						break;
					continue;
				}
				d--;
				continue;
			}
			if (!ts_tree_cursor_goto_parent(c))
				return;
			d--;
		}
	}
}

/* Line of the first error: follows the first child that has an error down
 * from the root and returns the line of the deepest ERROR or MISSING node
 * on that path. An ERROR node often wraps the good statements before the
 * bad one; the ERROR or MISSING node inside it is the better line. */
static int
error_line(TSTreeCursor *c)
{
	TSNode n = ts_tree_cursor_current_node(c);
	int line = 0;

	for (;;) {
		if (ts_node_symbol(n) == SYM_ERROR || ts_node_is_missing(n))
			line = lineof(n);
		if (!ts_tree_cursor_goto_first_child(c))
			break;
		while (!ts_node_has_error(n = ts_tree_cursor_current_node(c)))
			if (!ts_tree_cursor_goto_next_sibling(c))
				return line;
	}
	return line;
}

/* The last component of a call is one a target ends with. */
static bool
interesting(struct span t)
{
#define N(s) {s, sizeof(s) - 1}
	static const struct {
		const char *s;
		size_t n;
	} names[] = {
		N("exec"), N("__import__"), N("import_module"), N("Thread"), N("Pool"),
		N("create_default_context"), N("fork"), N("forkpty"), N("system"), N("popen"),
		N("execl"), N("execle"), N("execlp"), N("execlpe"), N("execv"), N("execve"), N("execvp"),
		N("execvpe"), N("spawnl"), N("spawnle"), N("spawnlp"), N("spawnlpe"), N("spawnv"),
		N("spawnve"), N("spawnvp"), N("spawnvpe"), N("posix_spawn"), N("posix_spawnp"),
		N("spawn"), N("create_subprocess_exec"), N("create_subprocess_shell"),
	};
#undef N
	size_t i;

	if (t.n < 4 || t.n > 23 || !memchr("e_iTPcfsp", t.s[0], 9))
		return false;
	for (i = 0; i < LEN(names); i++)
		if (names[i].n == t.n && memcmp(names[i].s, t.s, t.n) == 0)
			return true;
	return false;
}

/* The first argument of an __import__/import_module call, when it is a
 * plain string literal naming a module, is a dynamic import. */
static void
literal_import(struct analyzer *a, const struct pcall *pc, int line)
{
	TSNode args = field(pc->node, a->f_arguments), s = args;
	uint32_t i, n;
	struct span t;
	size_t j;
	int level = 0;
	bool raw;

	if (kindof(a, args) != K_ARGS)
		return;
	n = ts_node_named_child_count(args);
	for (i = 0; i < n; i++) {
		s = ts_node_named_child(args, i);
		if (kindof(a, s) != K_COMMENT)
			break;
	}
	if (i == n || kindof(a, s) != K_STRING || !string_body(text(a, s), &t, &raw))
		return;
	while (t.n && *t.s == '.') {
		level++;
		t.s++;
		t.n--;
	}
	if (!t.n && !level)
		return;
	for (j = 0; j < t.n; j++) {
		unsigned char ch = t.s[j];
		if (ch == '.' ? j == 0 || j + 1 == t.n || t.s[j - 1] == '.' : !is_word(ch) && ch < 0x80)
			return;
	}
	buf_reset(&a->tmp);
	buf_add(&a->tmp, t.s, t.n);
	add_import(a, a->tmp.data, NULL, level, line, !pc->infunc, true, ts_node_start_byte(pc->node));
	if (!level)
		toxic_import(a, a->tmp.data, line, !pc->infunc);
}

/* Adds the cause for a call whose qualified name is qual, if it is a target. */
static void
match_target(struct analyzer *a, const struct pcall *pc, const char *qual)
{
	const struct target *t = NULL;
	const char *name;
	bool itime = !pc->infunc;
	size_t i;
	int line;

	for (i = 0; i < LEN(targets); i++) {
		if (strcmp(targets[i].qual, qual) == 0) {
			t = &targets[i];
			break;
		}
	}
	if (!t)
		return;
	name = t->name ? t->name : t->qual;
	line = lineof(pc->node);
	switch (t->kind) {
	case T_EXEC:
		add_cause(a, CAUSE_DYNAMIC_IMPORT, name, line, itime,
		          xasprintf("Dynamic code: %s() (line %d)", name, line));
		break;
	case T_IMPORT:
		add_cause(a, CAUSE_DYNAMIC_IMPORT, name, line, itime,
		          xasprintf("Dynamic import: %s() (line %d)", name, line));
		literal_import(a, pc, line);
		break;
	case T_MODSCOPE:
		if (pc->infunc)
			break;
		add_cause(a, CAUSE_MODULE_SCOPE_CALL, name, line, itime,
		          xasprintf("Calls %s() at module scope (line %d)", name, line));
		break;
	case T_SPAWN:
		add_cause(a, CAUSE_SUBPROCESS, name, line, itime,
		          xasprintf("Spawns a process: %s() (line %d)", name, line));
		break;
	}
}

/* Sets a->name to first + comps[1..n). */
static void
qualify(struct analyzer *a, const char *first, size_t firstlen, const struct span *comps, size_t n)
{
	size_t i;

	buf_reset(&a->name);
	buf_add(&a->name, first, firstlen);
	for (i = 1; i < n; i++) {
		buf_putc(&a->name, '.');
		buf_add(&a->name, comps[i].s, comps[i].n);
	}
}

static bool
is_alias(const struct analyzer *a, struct span t)
{
	size_t i;

	for (i = 0; i < a->naliases; i++)
		if (a->aliases[i].len == t.n && memcmp(a->aliases[i].local, t.s, t.n) == 0)
			return true;
	return false;
}

/* A look at the source before the tree: most calls are spelled `a.b(`
 * and their last name says they are no target. False when the call
 * cannot be one; true when it may be, or when the spelling is unusual. */
static bool
may_match(const struct analyzer *a, TSNode call)
{
	const char *start = a->src + ts_node_start_byte(call), *s, *e = a->src + ts_node_end_byte(call);
	struct span last;

	for (s = last.s = start; s < e; s++) {
		unsigned char ch = *s;

		if (ch == '.')
			last.s = s + 1;
		else if (!is_word(ch))
			break;
	}
	if (s == e || *s != '(' || s == last.s)
		return true;
	last.n = s - last.s;
	if (interesting(last))
		return true;
	return last.s == start && is_alias(a, last);
}

static void
resolve_call(struct analyzer *a, const struct pcall *pc)
{
	TSNode fn, obj, attr;
	struct span comps[MAXCOMP], t;
	size_t n = 0, i;
	const char *last;

	if (!may_match(a, pc->node))
		return;
	fn = unparen(a, ts_node_child(pc->node, 0));
	switch (kindof(a, fn)) {
	case K_IDENT:
		comps[n++] = text(a, fn);
		break;
	case K_ATTRIBUTE:
		/* object, ".", [comments,] attribute */
		for (;;) {
			attr = ts_node_child(fn, ts_node_child_count(fn) - 1);
			if (n == MAXCOMP || kindof(a, attr) != K_IDENT)
				return;
			comps[n++] = text(a, attr);
			if (n == 1 && !interesting(comps[0]))
				return;
			obj = unparen(a, ts_node_child(fn, 0));
			if (kindof(a, obj) == K_IDENT) {
				if (n == MAXCOMP)
					return;
				comps[n++] = text(a, obj);
				break;
			}
			if (kindof(a, obj) != K_ATTRIBUTE)
				return;
			fn = obj;
		}
		for (i = 0; i < n / 2; i++) {
			t = comps[i];
			comps[i] = comps[n - 1 - i];
			comps[n - 1 - i] = t;
		}
		break;
	default:
		return;
	}
	/* as written */
	if (interesting(comps[n - 1])) {
		qualify(a, comps[0].s, comps[0].n, comps, n);
		match_target(a, pc, a->name.data);
	}
	/* through the aliases: the last component changes only for a bare name */
	for (i = 0; i < a->naliases; i++) {
		const struct alias *al = &a->aliases[i];

		if (al->len != comps[0].n || memcmp(al->local, comps[0].s, al->len) != 0)
			continue;
		if (n == 1) {
			last = strrchr(al->qual, '.');
			last = last ? last + 1 : al->qual;
			if (!interesting((struct span){last, strlen(last)}))
				continue;
		}
		qualify(a, al->qual, strlen(al->qual), comps, n);
		match_target(a, pc, a->name.data);
	}
	/* a bare name may come from a star import */
	if (n == 1 && interesting(comps[0])) {
		for (i = 0; i < a->nstars; i++) {
			buf_reset(&a->name);
			buf_printf(&a->name, "%s.", a->stars[i]);
			buf_add(&a->name, comps[0].s, comps[0].n);
			match_target(a, pc, a->name.data);
		}
	}
}

static int
impcmp(const void *x, const void *y)
{
	const struct ximport *a = x, *b = y;

	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
causecmp(const void *x, const void *y)
{
	const struct xcause *a = x, *b = y;

	if (a->c.line != b->c.line)
		return a->c.line < b->c.line ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Packs the definitions into r->defs, one allocation. Called while the
 * tree still lives: a large request just after ts_tree_delete() freed the
 * tree's nodes makes glibc consolidate them, and the next parse, which
 * would have reused them, pays (2% of the analysis over the stdlib). */
static void
finish_defs(struct analyzer *a, struct report *r)
{
	char **bases, *chars;
	size_t i, j;

	r->defs = pydefs_alloc(a->ndefs, a->nbaseoffs, a->defstr.len, &bases, &chars);
	r->ndefs = a->ndefs;
	if (a->ndefs)
		memcpy(chars, a->defstr.data, a->defstr.len);
	for (i = 0; i < a->ndefs; i++) {
		struct pydef *d = &r->defs[i];
		const struct xdef *x = &a->defs[i];

		*d = x->d;
		d->name = chars + x->name;
		if (!d->nbases)
			continue;
		d->bases = bases + x->base;
		for (j = 0; j < d->nbases; j++)
			d->bases[j] = chars + a->baseoffs[x->base + j];
	}
	a->ndefs = 0;
	a->nbaseoffs = 0;
	a->defstr.len = 0;
}

/* Moves the collected imports, causes, __all__ and module flags into r:
 * imports in source order, causes by line without repeats of a line and
 * name. */
static void
finish(struct analyzer *a, struct report *r)
{
	size_t i, j, first = 0;
	bool sorted = true, dup;

	for (i = 1; i < a->nimps && sorted; i++)
		sorted = a->imps[i - 1].pos <= a->imps[i].pos;
	if (!sorted)
		qsort(a->imps, a->nimps, sizeof(a->imps[0]), impcmp);
	if (a->nimps) {
		r->imports = xmalloc(a->nimps * sizeof(r->imports[0]));
		for (i = 0; i < a->nimps; i++)
			r->imports[i] = a->imps[i].imp;
		r->nimports = a->nimps;
	}
	a->nimps = 0;

	if (a->ncauses) {
		qsort(a->causes, a->ncauses, sizeof(a->causes[0]), causecmp);
		r->causes = xmalloc(a->ncauses * sizeof(r->causes[0]));
	}
	for (i = 0; i < a->ncauses; i++) {
		struct cause *c = &a->causes[i].c;

		if (r->ncauses == 0 || r->causes[r->ncauses - 1].line != c->line)
			first = r->ncauses;
		dup = false;
		for (j = first; j < r->ncauses && !dup; j++)
			dup = strcmp(r->causes[j].name, c->name) == 0;
		if (dup) {
			free(c->name);
			free(c->reason);
			continue;
		}
		r->causes[r->ncauses++] = *c;
	}
	a->ncauses = 0;

	r->all_kind = a->allkind;
	if (a->nalls) {
		r->all = xmalloc(a->nalls * sizeof(r->all[0]));
		memcpy(r->all, a->alls, a->nalls * sizeof(r->all[0]));
		r->nall = a->nalls;
	}
	a->nalls = 0;
	a->allkind = ALL_NONE;

	r->module_flags = a->module_flags;
	a->module_flags = 0;
}

/* PEP 263: the encoding named by a coding comment on line [s, s+n), as
 * `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)` finds it. */
static bool
coding_cookie(const char *s, size_t n, char *enc, size_t encsz)
{
	size_t i = 0, j, k;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i == n || s[i] != '#')
		return false;
	for (j = i + 1; j + 7 <= n; j++) {
		if (memcmp(s + j, "coding", 6) != 0 || (s[j + 6] != ':' && s[j + 6] != '='))
			continue;
		k = j + 7;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		for (i = 0; k < n && i + 1 < encsz; k++) {
			unsigned char ch = s[k];
			if (!is_word(ch) && ch != '-' && ch != '.')
				break;
			enc[i++] = (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch == '_' ? '-' : ch;
		}
		enc[i] = '\0';
		if (i > 0)
			return true;
	}
	return false;
}

/* Line 1, and line 2 when line 1 is blank or a comment (tokenize.py). */
static bool
find_cookie(const char *s, size_t len, char *enc, size_t encsz)
{
	const char *nl = memchr(s, '\n', len);
	size_t n = nl ? (size_t)(nl - s) : len, i = 0;

	if (coding_cookie(s, n, enc, encsz))
		return true;
	if (!nl)
		return false;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i < n && s[i] != '#' && s[i] != '\r')
		return false;
	s = nl + 1;
	len -= n + 1;
	nl = memchr(s, '\n', len);
	return coding_cookie(s, nl ? (size_t)(nl - s) : len, enc, encsz);
}

static bool
has_prefix(const char *s, const char *p)
{
	size_t n = strlen(p);

	return strncmp(s, p, n) == 0 && (s[n] == '\0' || s[n] == '-');
}

/* Converts src from enc to UTF-8 into a->conv. Returns false when the
 * encoding is unknown or the bytes do not decode. */
static bool
convert(struct analyzer *a, const char *enc, const char *src, size_t len, size_t *outlen)
{
	iconv_t cd = iconv_open("UTF-8", enc);
	char *in = (char *)src, *out;
	size_t inleft = len, outleft, done;
	bool ok = true;

	if (cd == (iconv_t)-1)
		return false;
	a->conv = xgrow(a->conv, &a->convcap, len * 2 + 16, 1);
	out = a->conv;
	outleft = a->convcap;
	/* convert, then flush: stateful encodings end in their initial shift
	 * state; either step may ask for more room */
	for (bool flushing = false;;) {
		size_t r = flushing ? iconv(cd, NULL, NULL, &out, &outleft)
		                    : iconv(cd, &in, &inleft, &out, &outleft);

		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = inleft == 0;
			continue;
		}
		if (errno != E2BIG) {
			ok = false;
			break;
		}
		done = out - a->conv;
		a->conv = xgrow(a->conv, &a->convcap, a->convcap * 2, 1);
		out = a->conv + done;
		outleft = a->convcap - done;
	}
	iconv_close(cd);
	*outlen = out - a->conv;
	return ok;
}

/* Returns the UTF-8 bytes to parse and sets *len. */
static const char *
decode(struct analyzer *a, const char *src, size_t *len)
{
	char enc[64] = "";
	size_t n;

	if (*len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
		*len -= 3;
		return src + 3;
	}
	if (!*len || !find_cookie(src, *len, enc, sizeof(enc)))
		return src;
	if (has_prefix(enc, "utf-8") || strcmp(enc, "utf8") == 0 || strcmp(enc, "ascii") == 0 ||
	    strcmp(enc, "us-ascii") == 0)
		return src;
	if (has_prefix(enc, "latin-1") || has_prefix(enc, "iso-8859-1") || has_prefix(enc, "iso-latin-1"))
		strcpy(enc, "ISO-8859-1");
	if (!convert(a, enc, src, *len, &n))
		return src;
	*len = n;
	return a->conv;
}

struct analyzer *
analyzer_new(const struct rules *rules)
{
	struct analyzer *a = xcalloc(1, sizeof(*a));
	const TSLanguage *lang = tree_sitter_python();
	TSSymbol sym;
	size_t i;

	a->rules = rules;
	a->parser = ts_parser_new();
	if (!ts_parser_set_language(a->parser, lang))
		fatal("tree-sitter-python: incompatible grammar version %u", ts_language_version(lang));
	a->nsym = ts_language_symbol_count(lang);
	a->kind = xcalloc(a->nsym, 1);
	for (sym = 0; sym < a->nsym; sym++) {
		const char *name = ts_language_symbol_name(lang, sym);

		if (!name)
			continue;
		switch (ts_language_symbol_type(lang, sym)) {
		case TSSymbolTypeRegular:
			for (i = 0; i < LEN(named_kinds); i++)
				if (strcmp(name, named_kinds[i].name) == 0)
					a->kind[sym] = named_kinds[i].kind;
			break;
		case TSSymbolTypeAnonymous:
			/* tokens have no children */
			a->kind[sym] = strcmp(name, "==") == 0 ? K_EQ : K_LEAF;
			break;
		default:
			break;
		}
	}
#define FIELD(f) a->f_##f = ts_language_field_id_for_name(lang, #f, sizeof(#f) - 1)
	FIELD(alias);
	FIELD(alternative);
	FIELD(argument);
	FIELD(arguments);
	FIELD(attribute);
	FIELD(body);
	FIELD(condition);
	FIELD(consequence);
	FIELD(definition);
	FIELD(function);
	FIELD(left);
	FIELD(name);
	FIELD(object);
	FIELD(operator);
	FIELD(right);
	FIELD(superclasses);
#undef FIELD
	return a;
}

void
analyzer_free(struct analyzer *a)
{
	if (!a)
		return;
	if (a->have_cursor)
		ts_tree_cursor_delete(&a->cursor);
	if (a->have_lcursor)
		ts_tree_cursor_delete(&a->lcursor);
	ts_parser_delete(a->parser);
	free(a->kind);
	free(a->frames);
	free(a->path);
	free(a->calls);
	free(a->aliases);
	free(a->stars);
	free(a->imps);
	free(a->causes);
	free(a->alls);
	free(a->defs);
	free(a->baseoffs);
	buf_free(&a->defstr);
	buf_free(&a->mod);
	buf_free(&a->name);
	buf_free(&a->tmp);
	free(a->conv);
	free(a);
}

struct report *
analyzer_run(struct analyzer *a, const char *src, size_t len, const char *path)
{
	struct report *r = xcalloc(1, sizeof(*r));
	TSTree *tree = NULL;
	TSNode root;
	size_t i;
	int line = 0;

	(void)path;
	if (!src)
		len = 0;
	src = decode(a, src ? src : "", &len);
	a->src = src;
	if (len <= UINT32_MAX)
		tree = ts_parser_parse_string(a->parser, NULL, src, (uint32_t)len);
	if (!tree) {
		line = 1;
		goto out;
	}
	root = ts_tree_root_node(tree);
	if (a->have_cursor)
		ts_tree_cursor_reset(&a->cursor, root);
	else
		a->cursor = ts_tree_cursor_new(root);
	a->have_cursor = true;
	a->guide = !ts_node_has_error(root);
	walk(a, &a->cursor);
	if (a->allkind != ALL_DYNAMIC)
		all_bindings(a, root, len);
	if (a->naliases)
		expand_aliases(a);
	for (i = 0; i < a->ncalls; i++)
		resolve_call(a, &a->calls[i]);
	if (ts_node_has_error(root)) {
		ts_tree_cursor_reset(&a->cursor, root);
		line = error_line(&a->cursor);
		if (line == 0)
			line = 1;
	}
	finish_defs(a, r);
	ts_tree_delete(tree);
out:
	if (line) {
		r->parse_error_line = line;
		add_cause(a, CAUSE_PARSE_ERROR, "syntax", line, true,
		          xasprintf("could not parse: line %d", line));
	}
	finish(a, r);
	a->ncalls = 0;
	for (i = 0; i < a->naliases; i++)
		free(a->aliases[i].qual);
	a->naliases = 0;
	for (i = 0; i < a->nstars; i++)
		free(a->stars[i]);
	a->nstars = 0;
	a->src = NULL;
	return r;
}

struct report *
analyze_file(const struct rules *rules, const char *src, size_t len, const char *path)
{
	struct analyzer *a = analyzer_new(rules);
	struct report *r = analyzer_run(a, src, len, path);

	analyzer_free(a);
	return r;
}
