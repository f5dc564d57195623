/* pyparse - the analyzer: parses one Python file with tree-sitter-python and
 * turns the tree into a report (imports and causes, see tach/report.h).
 *
 * This file owns the parser and the walk; the rules below are kept by the
 * modules it hands statements and calls to (gen/analyze/pyparse.h): py_imports.c,
 * py_calls.c, py_all.c, py_defs.c and py_decode.c. With them it is the only
 * code that knows the tree-sitter-python grammar. The contract, rule by
 * rule:
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
 * with one cursor moving forward. The precise policy's passes after the
 * walk (conditions, objects started, functions run at import) likewise
 * read a call's or a condition's bytes first and ask the tree only when
 * those may matter. Scratch arrays live in the analyzer and are reused
 * from one file to the next. Over the CPython stdlib the analysis costs
 * about 8% more instructions than a bare parse (docs/benchmarks.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "gen/analyze/pyparse.h"
#include "gen/analyze/analyze.h"
#include "lib/util.h"

const TSLanguage *tree_sitter_python(void);

/* The symbol of ERROR nodes (ts_builtin_sym_error in tree_sitter/parser.h). */
#define SYM_ERROR ((TSSymbol)-1)

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
	{"true", K_TRUE},
	{"false", K_FALSE},
	{"boolean_operator", K_BOOLOP},
	{"with_item", K_WITHITEM},
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

size_t
py_add_cause(struct analyzer *a, enum cause_kind kind, const char *name, int line, bool itime, char *reason)
{
	struct xcause *x;

	a->causes = xgrow(a->causes, &a->causecap, a->ncauses + 1, sizeof(a->causes[0]));
	x = &a->causes[a->ncauses];
	x->c.kind = kind;
	x->c.name = xstrdup(name);
	x->c.reason = reason;
	x->c.line = line;
	x->c.import_time = itime;
	x->c.why = WHY_COUNTS;
	x->itwhy = WHY_COUNTS;
	x->func = a->curfunc;
	x->seq = (uint32_t)a->ncauses;
	return a->ncauses++;
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
bool
py_string_body(struct span t, struct span *body, bool *raw)
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

	return kindof(a, n) == K_STRING && py_string_body(text(a, n), &body, &raw) &&
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

/* py_if_mode() for the condition cond. */
static enum mode
cond_mode(const struct analyzer *a, TSNode cond, bool is_if)
{
	cond = unparen(a, cond);
	if (a->precise) {
		/* this platform's view, __main__ guards in any form */
		switch (py_cond_eval(a, cond)) {
		case 0: return M_SKIPBODY;
		case 1: return is_if ? M_SKIPALT : M_NONE;
		default: return M_NONE;
		}
	}
	if (is_type_checking(a, cond) || is_main_guard(a, cond))
		return M_SKIPBODY;
	/* under `if not TYPE_CHECKING:` the elif/else branches never run */
	if (is_if && kindof(a, cond) == K_NOT && is_type_checking(a, unparen(a, field(cond, a->f_argument))))
		return M_SKIPALT;
	return M_NONE;
}

enum mode
py_if_mode(const struct analyzer *a, TSNode n, bool is_if)
{
	return cond_mode(a, field(n, a->f_condition), is_if);
}


/* [s, e) starts with the word w of n bytes. */
static bool
starts_word(const char *s, const char *e, const char *w, size_t n)
{
	return (size_t)(e - s) >= n && memcmp(s, w, n) == 0 && ((size_t)(e - s) == n || !is_word(s[n]));
}

static void
expression_statement(struct analyzer *a, TSNode n, const struct frame *f)
{
	const char *s = a->src + ts_node_start_byte(n), *e = a->src + f->end;
	TSNode first;

	if (starts_word(s, e, "__all__", 7)) {
		if (!f->infunc && !f->inclass)
			py_all_statement(a, n);
		return;
	}
	if (!f->infunc && !f->inclass && starts_word(s, e, "pytest_plugins", 14))
		py_plugins_statement(a, n);
	else if (!f->infunc && starts_word(s, e, "pytestmark", 10))
		py_mark_statement(a, n, f, false);
	else if (!f->infunc && starts_word(s, e, "__test__", 8))
		py_mark_statement(a, n, f, true);
	/* an assignment with a value has a '=' */
	if (!memchr(s, '=', e - s))
		return;
	first = ts_node_named_child(n, 0);
	if (kindof(a, first) != K_ASSIGN)
		return;
	py_assignment_aliases(a, first, s, e);
	if (a->precise) {
		TSNode right;

		if (!f->infunc && !f->inclass)
			py_cond_binding(a, first);
		/* `TARGET = CALL(...)` ends with the call's ')' */
		if (e > s && e[-1] == ')' && kindof(a, right = field(first, a->f_right)) == K_CALL)
			py_add_binding(a, field(first, a->f_left), right, f->func);
	}
}

/* `with CALL(...) as NAME`: what .start() and friends may be called on. */
static void
with_item(struct analyzer *a, TSNode n, const struct frame *f)
{
	TSNode v = ts_node_named_child(n, 0), call, target;

	if (ts_node_is_null(v) || strcmp(ts_node_type(v), "as_pattern") != 0)
		return;
	call = unparen(a, ts_node_named_child(v, 0));
	target = ts_node_named_child(v, ts_node_named_child_count(v) - 1);
	if (strcmp(ts_node_type(target), "as_pattern_target") == 0)
		target = ts_node_named_child(target, 0);
	if (kindof(a, call) == K_CALL && kindof(a, target) == K_IDENT)
		py_add_binding(a, target, call, f->func);
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
	a->curfunc = f->func;
	switch (k) {
	case K_TRUE:
	case K_FALSE:
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
		py_add_call(a, n, f->infunc);
		break;
	case K_LAMBDA:
		f->arg = f->infunc ? f->func : -2;
		f->mode = M_FUNC;
		break;
	case K_FUNC:
		if (f->infunc) {
			f->arg = f->func;
		} else {
			TSNode name = field(n, a->f_name);

			py_add_def(a, n, name, DEF_FUNC, f);
			f->arg = a->precise ? py_add_func(a, name, f) : f->func;
		}
		f->mode = M_FUNC;
		return a->src;
	case K_IF:
	case K_ELIF:
		/* decided when the walk reaches the condition, which comes
		 * before the branches */
		f->mode = k == K_IF ? M_IF : M_ELIF;
		return a->src;
	case K_IMPORT:
		py_import_statement(a, c, n, !f->infunc, !f->infunc && !f->inclass);
		return NULL;
	case K_FROM:
	case K_FUTURE:
		py_from_statement(a, c, n, !f->infunc, !f->infunc && !f->inclass, k == K_FUTURE);
		return NULL;
	case K_CLASS:
		f->arg = f->infunc ? -1 : py_add_def(a, n, field(n, a->f_name), DEF_CLASS, f);
		f->mode = M_CLASS;
		return a->src;
	case K_DECORATED:
		f->arg = f->infunc ? 0 : (int32_t)py_decorator_flags(a, c);
		f->mode = M_DECO;
		return a->src;
	case K_EXPRSTMT:
		expression_statement(a, n, f);
		break;
	case K_WITHITEM:
		if (a->precise)
			with_item(a, n, f);
		break;
	case K_DECORATOR:
		if (a->precise)
			py_add_deco(a, unparen(a, ts_node_named_child(n, 0)), f->func, f->infunc);
		break;
	case K_EXEC:
		line = lineof(n);
		py_add_cause(a, CAUSE_DYNAMIC_IMPORT, "exec", line, !f->infunc,
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

/* Sets up frame d for the child n under the cursor; false to skip it. The
 * mode of an if or elif is chosen here, at its condition. */
static bool
enter(struct analyzer *a, TSTreeCursor *c, TSNode n, size_t d)
{
	struct frame *p = &a->frames[d - 1];
	struct frame *f = &a->frames[d];
	TSFieldId id;

	f->end = ts_node_end_byte(n);
	f->func = p->func;
	f->infunc = p->infunc;
	f->inclass = p->inclass;
	f->scope = p->scope;
	f->arg = 0;
	if (p->mode == M_NONE)
		return true;
	id = ts_tree_cursor_current_field_id(c);
	switch (p->mode) {
	case M_FUNC:
		if (id == a->f_body) {
			f->infunc = 1;
			f->func = p->arg;
		}
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
	case M_IF:
	case M_ELIF:
		if (id == a->f_condition)
			p->mode = cond_mode(a, n, p->mode == M_IF);
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

/* Nothing but blanks and line breaks in [from, end): a node after from in
 * it has no bytes, and nothing to visit. Read from the end, where the
 * last line of a block stops it soon. */
static bool
only_space(const struct analyzer *a, uint32_t from, uint32_t end)
{
	for (; end > from; end--) {
		switch (a->src[end - 1]) {
		case ' ': case '\t': case '\n': case '\r': case '\f':
			break;
		default:
			return false;
		}
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
	a->frames[0] = (struct frame){ts_node_end_byte(n), -1, 0, -1, 0, 0, M_NONE, 0};
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
				if (!only_space(a, a->frames[d].end, up->end) && ts_tree_cursor_goto_next_sibling(c)) {
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

static int
causecmp(const void *x, const void *y)
{
	const struct xcause *a = x, *b = y;

	if (a->c.line != b->c.line)
		return a->c.line < b->c.line ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Moves what the walk collected into r: imports in source order, causes
 * by line without repeats of a line and name, __all__ and the module
 * flags. */
static void
finish(struct analyzer *a, struct report *r)
{
	size_t i, j, first = 0;
	bool dup;

	py_imports_finish(a, r);
	if (a->ncauses) {
		qsort(a->causes, a->ncauses, sizeof(a->causes[0]), causecmp);
		r->causes = xmalloc(a->ncauses * sizeof(r->causes[0]));
	}
	for (i = 0; i < a->ncauses; i++) {
		struct cause *c = &a->causes[i].c;

		c->why = c->import_time ? a->causes[i].itwhy : a->precise ? WHY_USE_TIME : WHY_COUNTS;
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

	py_all_finish(a, r);

	r->module_flags = a->module_flags;
	a->module_flags = 0;
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
	free(a->funcs);
	free(a->binds);
	free(a->objs);
	free(a->pnames);
	free(a->decos);
	py_flow_free(a);
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
	char why[128];
	size_t i;
	int line = 0;

	(void)path;
	a->precise = rules_policy(a->rules) == POLICY_PRECISE;
	a->curfunc = -1;
	if (!src)
		len = 0;
	src = py_decode(src ? src : "", &len, &a->conv, &a->convcap, &line, why, sizeof(why));
	if (!src) {
		/* never parsed as bytes Python would read otherwise */
		py_add_cause(a, CAUSE_PARSE_ERROR, "encoding", line, true,
		             xasprintf("could not decode: %s (line %d)", why, line));
		r->parse_error_line = line;
		line = 0;
		goto out;
	}
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
		py_all_bindings(a, root, len);
	if (a->naliases)
		py_expand_aliases(a);
	for (i = 0; i < a->ncalls; i++)
		py_resolve_call(a, &a->calls[i]);
	if (a->precise)
		py_flow_finish(a);
	if (ts_node_has_error(root)) {
		ts_tree_cursor_reset(&a->cursor, root);
		line = error_line(&a->cursor);
		if (line == 0)
			line = 1;
	}
	py_defs_finish(a, r);
	ts_tree_delete(tree);
out:
	if (line) {
		r->parse_error_line = line;
		py_add_cause(a, CAUSE_PARSE_ERROR, "syntax", line, true,
		             xasprintf("could not parse: line %d", line));
	}
	finish(a, r);
	a->ncalls = 0;
	py_flow_reset(a);
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
