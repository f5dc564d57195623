/* py_defs - the definitions test discovery looks at: defs, classes, their
 * bases and marks, and the module's marks.
 *
 * The walk hands over every def and class outside a def body (py_add_def),
 * the decorated_definition above one (py_decorator_flags) and `pytestmark`
 * and `__test__` statements (py_mark_statement). Names and bases are
 * copied into the analyzer as they are met, and py_defs_finish() packs
 * them into one allocation (pydefs_alloc) while the tree still lives. No
 * name pattern is applied here: the generator does that. */
#include <stdlib.h>

#include "gen/analyze/pyparse.h"

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

/* Records the def or class n named name, met by the walk in frame f outside
 * any def body. Returns its index in defs, or -1 when it has no name or
 * sits in the body of a class that was not recorded. */
int32_t
py_add_def(struct analyzer *a, TSNode n, TSNode name, enum def_kind kind, const struct frame *f)
{
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
unsigned
py_decorator_flags(struct analyzer *a, TSTreeCursor *c)
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
void
py_mark_statement(struct analyzer *a, TSNode stmt, const struct frame *f, bool test)
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

/* Packs the definitions into r->defs, one allocation. Called while the
 * tree still lives: a large request just after ts_tree_delete() freed the
 * tree's nodes makes glibc consolidate them, and the next parse, which
 * would have reused them, pays (2% of the analysis over the stdlib). */
void
py_defs_finish(struct analyzer *a, struct report *r)
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
