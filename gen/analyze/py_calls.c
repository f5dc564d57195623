/* py_calls - call resolution: the file's aliases and its toxic calls.
 *
 * The walk remembers calls as nodes (py_add_call); after it, each call's
 * name is qualified through the aliases that imports and assignments made
 * (flow-insensitive, the name as written and star imports tried too, so it
 * errs on the toxic side) and matched against the toxic call table of
 * tach/rules.h. Only names whose last component is one a toxic call ends
 * with are looked at. An __import__ or import_module call with a string
 * literal is also recorded as a dynamic import. */
#include <stdlib.h>

#include "gen/analyze/pyparse.h"
#include "gen/analyze/rules.h"

/* The last component of a call is one a target ends with. */
static inline bool
interesting(struct span t)
{
	return rules_call_suffix(t.s, t.n);
}

void
py_add_alias(struct analyzer *a, struct span local, const char *qual, bool assigned)
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
			py_add_alias(a, text(a, left), a->tmp.data, true);
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
 * target in their value, which comes after their first '=', and their
 * bytes say so before the tree is asked. */
void
py_assignment_aliases(struct analyzer *a, TSNode n, const char *s, const char *e)
{
	TSNode lefts[16], value = n;
	size_t k = 0, i;
	const char *eq = memchr(s, '=', e - s);

	if (!eq || !spells_target(eq, e))
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

/* `load = il.import_module`: il may be an import alias, so NAME is also an
 * alias of what il stands for. One level, after the walk, since the import
 * may come later in the file. */
void
py_expand_aliases(struct analyzer *a)
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
			py_add_alias(a, local, a->tmp.data, true);
		}
	}
}

void
py_add_call(struct analyzer *a, TSNode n, bool infunc)
{
	a->calls = xgrow(a->calls, &a->callcap, a->ncalls + 1, sizeof(a->calls[0]));
	a->calls[a->ncalls].node = n;
	a->calls[a->ncalls].func = a->curfunc;
	a->calls[a->ncalls].infunc = infunc;
	a->ncalls++;
}

/* The first argument of an __import__/import_module call, when it is a
 * plain string literal naming a module, is a dynamic import; whether it
 * was one. */
static bool
literal_import(struct analyzer *a, const struct pcall *pc, int line)
{
	TSNode args = field(pc->node, a->f_arguments), s = args;
	uint32_t i, n;
	struct span t;
	size_t j;
	int level = 0;
	bool raw;

	if (kindof(a, args) != K_ARGS)
		return false;
	n = ts_node_named_child_count(args);
	for (i = 0; i < n; i++) {
		s = ts_node_named_child(args, i);
		if (kindof(a, s) != K_COMMENT)
			break;
	}
	if (i == n || kindof(a, s) != K_STRING || !py_string_body(text(a, s), &t, &raw))
		return false;
	while (t.n && *t.s == '.') {
		level++;
		t.s++;
		t.n--;
	}
	if (!t.n && !level)
		return false;
	for (j = 0; j < t.n; j++) {
		unsigned char ch = t.s[j];
		if (ch == '.' ? j == 0 || j + 1 == t.n || t.s[j - 1] == '.' : !is_word(ch) && ch < 0x80)
			return false;
	}
	buf_reset(&a->tmp);
	buf_add(&a->tmp, t.s, t.n);
	py_add_import(a, a->tmp.data, NULL, level, line, !pc->infunc, true, ts_node_start_byte(pc->node));
	if (!level)
		py_toxic_import(a, a->tmp.data, line, !pc->infunc);
	return true;
}

/* The reason of a cause, by the kind of call. */
static char *
call_reason(enum call_kind k, enum cause_kind cause, const char *name, int line)
{
	static const char *start[CAUSE_NKINDS] = {
		[CAUSE_THREADS] = "Starts a thread: %s() (line %d)",
		[CAUSE_SUBPROCESS] = "Starts a process: %s() (line %d)",
		[CAUSE_NETWORK] = "Opens a socket: %s() (line %d)",
		[CAUSE_SIGNALS] = "Installs a signal handler: %s() (line %d)",
		[CAUSE_FFI] = "Loads native code: %s() (line %d)",
	};
	const char *fmt;

	switch (k) {
	case CALL_EXEC: fmt = "Dynamic code: %s() (line %d)"; break;
	case CALL_IMPORT: fmt = "Dynamic import: %s() (line %d)"; break;
	case CALL_MODSCOPE: fmt = "Calls %s() at module scope (line %d)"; break;
	case CALL_SPAWN: fmt = "Spawns a process: %s() (line %d)"; break;
	case CALL_STARTABLE:
		fmt = cause == CAUSE_THREADS ? "Creates a thread: %s() (line %d)" : "Creates a process: %s() (line %d)";
		break;
	case CALL_EXECUTOR: fmt = "Creates an executor: %s() (line %d)"; break;
	case CALL_FFI_OBJ: fmt = "Creates an FFI: %s() (line %d)"; break;
	case CALL_ELSEWHERE: fmt = "Loads a library of another platform: %s() (line %d)"; break;
	default: fmt = start[cause] ? start[cause] : "Calls %s() (line %d)"; break;
	}
	return xasprintf(fmt, name, line);
}

/* Adds the cause for a call whose qualified name is qual, if it is a target
 * under the analyzer's policy. */
static void
match_target(struct analyzer *a, const struct pcall *pc, const char *qual)
{
	const struct toxic_call *t = rules_match_call(qual);
	enum call_kind k;
	enum cause_kind cause;
	const char *name;
	size_t i;
	int line;

	if (!t)
		return;
	k = a->precise ? t->precise : t->strict;
	if (k == CALL_NONE || (k == CALL_MODSCOPE && pc->infunc))
		return;
	name = t->name ? t->name : t->qual;
	line = lineof(pc->node);
	switch (k) {
	case CALL_EXEC:
	case CALL_IMPORT: cause = CAUSE_DYNAMIC_IMPORT; break;
	case CALL_MODSCOPE: cause = CAUSE_MODULE_SCOPE_CALL; break;
	case CALL_SPAWN: cause = CAUSE_SUBPROCESS; break;
	default: cause = t->cause; break;
	}
	a->curfunc = pc->func;
	i = py_add_cause(a, cause, name, line, !pc->infunc, call_reason(k, cause, name, line));
	switch (k) {
	case CALL_IMPORT:
		if (literal_import(a, pc, line) && a->precise)
			a->causes[i].itwhy = WHY_LITERAL_IMPORT;
		break;
	case CALL_STARTABLE:
	case CALL_EXECUTOR:
	case CALL_FFI_OBJ:
		a->causes[i].itwhy = WHY_NOT_STARTED;
		a->objs = xgrow(a->objs, &a->objcap, a->nobjs + 1, sizeof(a->objs[0]));
		a->objs[a->nobjs++] = (struct xobj){pc->node, i, k};
		break;
	case CALL_ELSEWHERE:
		a->causes[i].itwhy = WHY_NOT_HERE;
		break;
	default:
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

typedef void qual_fn(struct analyzer *a, const struct pcall *pc, const char *qual, void *ctx);

/* Calls fn with each qualified name the call pc may stand for: as written,
 * through the import aliases, and through star imports. */
static void
each_qual(struct analyzer *a, const struct pcall *pc, qual_fn *on, void *ctx)
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
		on(a, pc, a->name.data, ctx);
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
		on(a, pc, a->name.data, ctx);
	}
	/* a bare name may come from a star import */
	if (n == 1 && interesting(comps[0])) {
		for (i = 0; i < a->nstars; i++) {
			buf_reset(&a->name);
			buf_printf(&a->name, "%s.", a->stars[i]);
			buf_add(&a->name, comps[0].s, comps[0].n);
			on(a, pc, a->name.data, ctx);
		}
	}
}

static void
on_target(struct analyzer *a, const struct pcall *pc, const char *qual, void *ctx)
{
	(void)ctx;
	match_target(a, pc, qual);
}

void
py_resolve_call(struct analyzer *a, const struct pcall *pc)
{
	each_qual(a, pc, on_target, NULL);
}

struct find {
	enum call_kind kind;
	const struct toxic_call *t;
};

static void
on_find(struct analyzer *a, const struct pcall *pc, const char *qual, void *ctx)
{
	struct find *f = ctx;
	const struct toxic_call *t = rules_match_call(qual);

	(void)a;
	(void)pc;
	if (t && t->precise == f->kind && !f->t)
		f->t = t;
}

const struct toxic_call *
py_call_entry(struct analyzer *a, const struct pcall *pc, enum call_kind kind)
{
	struct find f = {kind, NULL};

	each_qual(a, pc, on_find, &f);
	return f.t;
}

const struct toxic_call *
py_name_entry(struct analyzer *a, const char *dotted, enum call_kind kind)
{
	const char *dot = strchr(dotted, '.'), *rest = dot ? dot : "";
	size_t first = dot ? (size_t)(dot - dotted) : strlen(dotted), i;
	const struct toxic_call *t = rules_match_call(dotted);

	if (t && t->precise == kind)
		return t;
	for (i = 0; i < a->naliases; i++) {
		const struct alias *al = &a->aliases[i];

		if (al->len != first || memcmp(al->local, dotted, first) != 0)
			continue;
		buf_reset(&a->name);
		buf_puts(&a->name, al->qual);
		buf_puts(&a->name, rest);
		t = rules_match_call(a->name.data);
		if (t && t->precise == kind)
			return t;
	}
	for (i = 0; !dot && i < a->nstars; i++) {
		buf_reset(&a->name);
		buf_printf(&a->name, "%s.%s", a->stars[i], dotted);
		t = rules_match_call(a->name.data);
		if (t && t->precise == kind)
			return t;
	}
	return NULL;
}
