/* py_all - `__all__` at module scope, for `from pkg import *`.
 *
 * The walk hands over module-scope statements that start with __all__
 * (py_all_statement); after it, py_all_bindings() looks up every other
 * place the file spells __all__ as a word and makes __all__ ALL_DYNAMIC
 * when that place binds it. ALL_LITERAL keeps the names of lists and
 * tuples of plain string literals, in source order, without repeats; any
 * other binding makes it dynamic for good. py_all_finish() hands the
 * result over. */
#include <stdlib.h>

#include "gen/analyze/pyparse.h"

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
	if (kindof(a, n) != K_STRING || !py_string_body(text(a, n), &body, &raw))
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
void
py_all_statement(struct analyzer *a, TSNode stmt)
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
 * bound there, at module scope, other than by a statement py_all_statement()
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
			m = py_if_mode(a, path[j].node, true);
			if ((m == M_SKIPBODY && id == a->f_consequence) || (m == M_SKIPALT && id == a->f_alternative))
				return;
			break;
		case K_ELIF:
			if (py_if_mode(a, path[j].node, false) == M_SKIPBODY && id == a->f_consequence)
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
void
py_all_bindings(struct analyzer *a, TSNode root, size_t len)
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

void
py_all_finish(struct analyzer *a, struct report *r)
{
	r->all_kind = a->allkind;
	if (a->nalls) {
		r->all = xmalloc(a->nalls * sizeof(r->all[0]));
		memcpy(r->all, a->alls, a->nalls * sizeof(r->all[0]));
		r->nall = a->nalls;
	}
	a->nalls = 0;
	a->allkind = ALL_NONE;
}
