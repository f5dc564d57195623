/* py_imports - the analyzer's imports: import and from-import statements,
 * `pytest_plugins`, and the toxic module check on each.
 *
 * Every import is recorded as written (struct pyimport): the module name is
 * resolved only within the statement (dotted names normalized, the level
 * of a relative import counted), never against the project, which is the
 * generator's job. An absolute name that matches the toxic module table is
 * a cause; `from a import b` is checked as a, then as a.b. The names an
 * import binds become aliases for py_calls.c, and binding __all__ at module
 * scope makes it dynamic. py_imports_finish() hands the imports over in
 * source order. */
#include <stdlib.h>

#include "gen/analyze/pyparse.h"
#include "gen/analyze/rules.h"

void
py_add_import(struct analyzer *a, const char *module, const char *name, int level, int line, bool itime,
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
bool
py_toxic_import(struct analyzer *a, const char *dotted, int line, bool itime)
{
	enum cause_kind kind;
	size_t i;

	if (!*dotted || !rules_match(a->rules, dotted, &kind))
		return false;
	/* precise: importing threading, socket, ... starts nothing; a
	 * poison-fork package or a module the project names does harm */
	if (a->precise && kind != CAUSE_POISON_FORK && kind != CAUSE_CONFIGURED) {
		i = py_add_cause(a, kind, dotted, line, itime, xasprintf("Imports %s (line %d)", dotted, line));
		a->causes[i].itwhy = WHY_NO_STATE;
	} else {
		py_add_cause(a, kind, dotted, line, itime,
		             xasprintf("Imports toxic module '%s' (line %d)", dotted, line));
	}
	return true;
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

void
py_import_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope)
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
			py_add_alias(a, alias, a->mod.data, false);
			if (modscope && span_is(alias, "__all__"))
				a->allkind = ALL_DYNAMIC;
			break;
		default:
			continue;
		}
		if (!a->mod.len)
			continue;
		py_add_import(a, a->mod.data, NULL, 0, line, itime, false, pos);
		py_toxic_import(a, a->mod.data, line, itime);
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

	py_add_import(a, module, name, level, line, itime, false, pos);
	if (modscope && span_is(alias, "__all__"))
		a->allkind = ALL_DYNAMIC;
	if (level > 0)
		return;
	buf_reset(&a->tmp);
	buf_puts(&a->tmp, module);
	buf_putc(&a->tmp, '.');
	buf_puts(&a->tmp, name);
	if (!py_toxic_import(a, module, line, itime))
		py_toxic_import(a, a->tmp.data, line, itime);
	py_add_alias(a, alias, a->tmp.data, false);
}

static void
star_import(struct analyzer *a, int level, int line, bool itime, uint32_t pos)
{
	const char *module = a->mod.data;
	enum cause_kind kind;

	py_add_import(a, module, "*", level, line, itime, false, pos);
	if (level > 0 || !*module)
		return;
	if (rules_match(a->rules, module, &kind)) {
		size_t i = py_add_cause(a, kind, module, line, itime,
		                        xasprintf("Star import from toxic module '%s' (line %d)", module, line));

		if (a->precise && kind != CAUSE_POISON_FORK && kind != CAUSE_CONFIGURED)
			a->causes[i].itwhy = WHY_NO_STATE;
	}
	a->stars = xgrow(a->stars, &a->starcap, a->nstars + 1, sizeof(a->stars[0]));
	a->stars[a->nstars++] = xstrdup(module);
}

/* import_from_statement and future_import_statement. */
void
py_from_statement(struct analyzer *a, TSTreeCursor *c, TSNode stmt, bool itime, bool modscope, bool future)
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

/* `pytest_plugins = "mod"` or a list or tuple of such strings at module
 * scope: pytest imports those modules for the tests under this file, so
 * they are imports (and may make it toxic). */
void
py_plugins_statement(struct analyzer *a, TSNode stmt)
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
		if (kindof(a, item) != K_STRING || !py_string_body(text(a, item), &t, &raw) || !t.n)
			continue;
		buf_reset(&a->tmp);
		buf_add(&a->tmp, t.s, t.n);
		py_add_import(a, a->tmp.data, NULL, 0, line, true, false, ts_node_start_byte(item));
		py_toxic_import(a, a->tmp.data, line, true);
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

void
py_imports_finish(struct analyzer *a, struct report *r)
{
	bool sorted = true;
	size_t i;

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
}
