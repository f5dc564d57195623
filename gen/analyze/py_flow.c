/* py_flow - what runs when the module is imported, for the precise policy
 * (see gen/analyze/pyparse.h).
 *
 * The walk marks code as import-time when it is at module scope or in a
 * class body (decorators and default arguments included, since they run at
 * definition). Two things make more of it run at import, decided here after
 * the calls are resolved:
 *
 * - Objects started. A call that makes a thread, a process, an executor or
 *   an FFI object (threading.Thread(), multiprocessing.Process(),
 *   ThreadPoolExecutor(), cffi.FFI(), or a class of the module based on one
 *   of those) is a cause that does not count until the object is started:
 *   `.start()` on the call itself or on the name or attribute it was bound
 *   to (`t = Thread(...)`, `self.t = Thread(...)`, `with X() as ex`) in the
 *   same function or at module scope; `.submit()` / `.map()` for an
 *   executor; `.dlopen()` for an FFI. The cause then counts where the start
 *   is.
 * - Functions called at import. A function of the module (a def at module
 *   scope, or a method of a class at module scope, "Class.name") runs at
 *   import when import-time code calls it by name, uses it as a bare
 *   decorator, or makes an instance of its class (__init__, __new__,
 *   __post_init__), or when a function that runs at import does (calls
 *   through self or cls reach the methods of the caller's class). The
 *   causes in the body of such a function then count as import-time ones,
 *   their reason naming the function and the line of the call.
 *
 * Functions are looked up through a hash table of their names; the edges
 * (caller, callee, line) are made once and the marking goes over them
 * until nothing changes. */
#include <stdlib.h>
#include <string.h>

#include "gen/analyze/pyparse.h"
#include "lib/htab.h"

struct edge {
	int32_t from;           /* the caller's function; -1: import-time code; -2: a lambda's body */
	int32_t to;
	int line;
};

int32_t
py_add_func(struct analyzer *a, TSNode namenode, const struct frame *f)
{
	struct span name = text(a, namenode);
	struct xfunc *x;

	if (f->infunc)
		return f->func;
	if (f->inclass && f->scope < 0)
		return -2;	/* a method of a class nobody can name */
	a->funcs = xgrow(a->funcs, &a->funccap, a->nfuncs + 1, sizeof(a->funcs[0]));
	x = &a->funcs[a->nfuncs];
	if (f->inclass) {
		const char *cls = a->defstr.data + a->defs[f->scope].name;
		size_t n = strlen(cls);

		x->name = xmalloc(n + 1 + name.n + 1);
		memcpy(x->name, cls, n);
		x->name[n] = '.';
		memcpy(x->name + n + 1, name.s, name.n);
		x->name[n + 1 + name.n] = '\0';
	} else {
		x->name = xstrndup(name.s, name.n);
	}
	x->called = 0;
	x->via = -1;
	return (int32_t)a->nfuncs++;
}

void
py_add_binding(struct analyzer *a, TSNode target, TSNode call, int32_t func)
{
	enum kind k = kindof(a, target);

	if (k != K_IDENT && k != K_ATTRIBUTE)
		return;
	a->binds = xgrow(a->binds, &a->bindcap, a->nbinds + 1, sizeof(a->binds[0]));
	a->binds[a->nbinds++] = (struct xbind){text(a, target), call, func};
}

void
py_add_deco(struct analyzer *a, TSNode expr, int32_t func, bool infunc)
{
	enum kind k = kindof(a, expr);

	if (k != K_IDENT && k != K_ATTRIBUTE)
		return;
	a->decos = xgrow(a->decos, &a->decocap, a->ndecos + 1, sizeof(a->decos[0]));
	a->decos[a->ndecos++] = (struct pcall){expr, func, infunc};
}

static bool
same_span(struct span x, struct span y)
{
	return x.n == y.n && memcmp(x.s, y.s, x.n) == 0;
}

/* The call's spelling up to its first '(' when it is plain: names (none
 * starting with a digit) joined by dots and nothing else, as in `a.b.c(`;
 * ndots -1 otherwise. That '(' opens the call's arguments unless the
 * call's function holds a call starting where it starts (`a.b(x).c()`);
 * the tree says the rest. */
static struct xspell
spell(const struct analyzer *a, TSNode call)
{
	const char *s = a->src + ts_node_start_byte(call), *e = a->src + ts_node_end_byte(call), *w;
	struct xspell x = {.ndots = 0};

	for (;;) {
		if (s == e || !is_word(*s) || (*s >= '0' && *s <= '9'))
			break;
		for (w = s; s < e && is_word(*s); s++)
			;
		x.last = (struct span){w, (size_t)(s - w)};
		if (x.ndots == 0)
			x.first = x.last;
		if (s == e)
			break;
		if (*s == '(')
			return x;
		if (*s != '.')
			break;
		x.ndots++;
		s++;
	}
	x.ndots = -1;
	return x;
}

/* The index in defs of the module-scope class called name, or -1. */
static int32_t
module_class(const struct analyzer *a, struct span name)
{
	size_t i;

	for (i = 0; i < a->ndefs; i++) {
		const struct xdef *x = &a->defs[i];
		const char *s = a->defstr.data + x->name;

		if (x->d.kind == DEF_CLASS && x->d.parent < 0 && strlen(s) == name.n && memcmp(s, name.s, name.n) == 0)
			return (int32_t)i;
	}
	return -1;
}

/* The entry of the call table (of kind) one of the class's bases is. */
static const struct toxic_call *
class_entry(struct analyzer *a, int32_t cls, enum call_kind kind)
{
	const struct xdef *x = &a->defs[cls];
	const struct toxic_call *t;
	size_t j;

	for (j = 0; j < x->d.nbases; j++) {
		/* py_name_entry uses a->name; copy the base out of defstr first */
		char *base = xstrdup(a->defstr.data + a->baseoffs[x->base + j]);

		t = py_name_entry(a, base, kind);
		free(base);
		if (t)
			return t;
	}
	return NULL;
}

/* The binding of the name or attribute obj that a call at pc sees: the last
 * one before it in its own function, else at module scope. */
static const struct xbind *
binding_of(const struct analyzer *a, TSNode obj, const struct pcall *pc)
{
	struct span t = text(a, obj);
	uint32_t at = ts_node_start_byte(pc->node);
	const struct xbind *best = NULL;
	size_t i;

	for (i = 0; i < a->nbinds; i++) {
		const struct xbind *b = &a->binds[i];

		if (!same_span(b->target, t) || (b->func != pc->func && b->func != -1))
			continue;
		if (!best || (b->func == pc->func && best->func != pc->func) ||
		    (b->func == best->func && ts_node_start_byte(b->call) < at))
			best = b;
	}
	return best;
}

/* Marks the cause of a started object as counting where the start is. */
static void
started(struct analyzer *a, size_t ci, const struct pcall *pc)
{
	struct xcause *x = &a->causes[ci];
	int line = lineof(pc->node);
	char *r;

	if (x->itwhy == WHY_COUNTS)
		return;
	x->itwhy = WHY_COUNTS;
	x->c.import_time = !pc->infunc;
	x->func = pc->func;
	/* "Creates a thread: X() (line 5)" reads "Starts a thread: X() (line 5)",
	 * or "... (line 5; started at line 9)" when it starts elsewhere */
	r = xasprintf("Starts%s", strncmp(x->c.reason, "Creates", 7) == 0 ? x->c.reason + 7 : x->c.reason);
	if (line != x->c.line && *r && r[strlen(r) - 1] == ')') {
		char *t;

		r[strlen(r) - 1] = 0;
		t = xasprintf("%s; started at line %d)", r, line);
		free(r);
		r = t;
	}
	free(x->c.reason);
	x->c.reason = r;
}

/* A call OBJ.start() / .submit() / .map() / .dlopen(). */
static void
method_call(struct analyzer *a, const struct pcall *pc, TSNode obj, enum call_kind kind)
{
	const struct xbind *b;
	const struct toxic_call *t;
	TSNode call;
	size_t i;
	int32_t cls;
	bool found = false;
	int line;

	obj = unparen(a, obj);
	if (kindof(a, obj) == K_CALL) {
		call = obj;
	} else if (kindof(a, obj) == K_IDENT || kindof(a, obj) == K_ATTRIBUTE) {
		if (!(b = binding_of(a, obj, pc)))
			return;
		call = b->call;
	} else {
		return;
	}
	for (i = 0; i < a->nobjs; i++) {
		if (a->objs[i].kind == kind && ts_node_eq(a->objs[i].call, call)) {
			started(a, a->objs[i].cause, pc);
			found = true;
		}
	}
	if (found)
		return;
	/* an instance of the module's own subclass of Thread, Process, ... */
	call = unparen(a, ts_node_child(call, 0));
	if (kindof(a, call) != K_IDENT || (cls = module_class(a, text(a, call))) < 0 ||
	    !(t = class_entry(a, cls, kind)))
		return;
	line = lineof(pc->node);
	a->curfunc = pc->func;
	py_add_cause(a, t->cause, a->defstr.data + a->defs[cls].name, line, !pc->infunc,
	             xasprintf("Starts %s: %s() (a %s; line %d)",
	                       t->cause == CAUSE_THREADS ? "a thread" : kind == CALL_EXECUTOR ? "workers" :
	                       kind == CALL_FFI_OBJ ? "native code" : "a process",
	                       a->defstr.data + a->defs[cls].name, t->qual, line));
}

static void
objects(struct analyzer *a)
{
	static const struct {
		const char *name;
		enum call_kind kind;
	} methods[] = {
		{"start", CALL_STARTABLE},
		{"submit", CALL_EXECUTOR},
		{"map", CALL_EXECUTOR},
		{"dlopen", CALL_FFI_OBJ},
	};
	const struct xspell *x;
	struct span m;
	TSNode fn;
	size_t i, j;

	for (i = 0; i < a->ncalls; i++) {
		/* `f(` and `a.b(` need no tree when b is no method above; the
		 * next call starting at the same byte may hold the '(' */
		x = &a->spells[i];
		if (x->ndots >= 0 && (i + 1 == a->ncalls || a->spells[i + 1].first.s != x->first.s)) {
			if (!x->ndots)
				continue;
			for (j = 0; j < LEN(methods); j++)
				if (span_is(x->last, methods[j].name))
					break;
			if (j == LEN(methods))
				continue;
		}
		fn = unparen(a, ts_node_child(a->calls[i].node, 0));
		if (kindof(a, fn) != K_ATTRIBUTE)
			continue;
		m = text(a, field(fn, a->f_attribute));
		for (j = 0; j < LEN(methods); j++)
			if (span_is(m, methods[j].name))
				method_call(a, &a->calls[i], field(fn, a->f_object), methods[j].kind);
	}
}

/* The functions of the module by name, and the calls between them. */
struct flow {
	struct htab *names;     /* name -> 1 + the index of its last def */
	struct htab *classes;   /* the module's class names (keys in defstr) */
	int32_t *next;          /* the def before it of the same name, or -1 */
	struct edge *e;
	size_t ne, cap;
};

static void
add_edges(struct flow *fl, const char *key, int32_t from, int line)
{
	void *v = htab_get(fl->names, key);
	int32_t k;

	for (k = v ? (int32_t)(intptr_t)v - 1 : -1; k >= 0; k = fl->next[k]) {
		fl->e = xgrow(fl->e, &fl->cap, fl->ne + 1, sizeof(fl->e[0]));
		fl->e[fl->ne++] = (struct edge){from, k, line};
	}
}

/* Sets b to x, then "." and y when y.s is not NULL; returns the string. */
static const char *
key_of(struct buf *b, struct span x, struct span y)
{
	buf_reset(b);
	buf_add(b, x.s, x.n);
	if (y.s) {
		buf_putc(b, '.');
		buf_add(b, y.s, y.n);
	}
	return b->data;
}

/* Whether the span names a class at module scope. */
static bool
is_class(const struct flow *fl, struct buf *b, struct span name)
{
	return htab_get(fl->classes, key_of(b, name, (struct span){NULL, 0})) != NULL;
}

/* Whether the span names a function of the module, or a class's method. */
static bool
is_func(const struct flow *fl, struct buf *b, struct span x, struct span y)
{
	return htab_get(fl->names, key_of(b, x, y)) != NULL;
}

/* The functions a call of fn from function `from` may run: by name, a
 * class's constructors, or a method through self, cls or its class. */
static void
callees(struct analyzer *a, struct flow *fl, TSNode fn, int32_t from, int line)
{
	static const struct span ctors[] = {
		{"__init__", 8}, {"__new__", 7}, {"__post_init__", 13},
	};
	struct buf *b = &a->tmp;
	struct span none = {NULL, 0};
	size_t i;

	fn = unparen(a, fn);
	if (kindof(a, fn) == K_IDENT) {
		struct span t = text(a, fn);

		if (is_class(fl, b, t)) {
			for (i = 0; i < LEN(ctors); i++)
				add_edges(fl, key_of(b, t, ctors[i]), from, line);
			return;
		}
		add_edges(fl, key_of(b, t, none), from, line);
	} else if (kindof(a, fn) == K_ATTRIBUTE && kindof(a, field(fn, a->f_object)) == K_IDENT) {
		struct span o = text(a, field(fn, a->f_object)), m = text(a, field(fn, a->f_attribute));
		const char *dot;

		if (span_is(o, "self") || span_is(o, "cls")) {
			if (from < 0 || !(dot = strchr(a->funcs[from].name, '.')))
				return;
			o = (struct span){a->funcs[from].name, (size_t)(dot - a->funcs[from].name)};
		} else if (!is_class(fl, b, o)) {
			return;
		}
		add_edges(fl, key_of(b, o, m), from, line);
	}
}

/* The same for the call pc, looking at its spelling first: `f(` where f
 * is no function or class of the module, `o.m(` where o.m names no
 * method, and `a.b.c(` make no edges whatever the tree says. */
static void
call_callees(struct analyzer *a, struct flow *fl, const struct pcall *pc, const struct xspell *x)
{
	int32_t from = pc->infunc && pc->func < 0 ? -2 : pc->func;
	struct span o;
	const char *dot;

	if (x->ndots >= 0) {
		if (x->ndots > 1)
			return;
		if (x->ndots == 0 && !is_class(fl, &a->tmp, x->first) &&
		    !is_func(fl, &a->tmp, x->first, (struct span){NULL, 0}))
			return;
		if (x->ndots == 1) {
			o = x->first;
			if (span_is(o, "self") || span_is(o, "cls")) {
				if (from < 0 || !(dot = strchr(a->funcs[from].name, '.')))
					return;
				o = (struct span){a->funcs[from].name, (size_t)(dot - a->funcs[from].name)};
			} else if (!is_class(fl, &a->tmp, o)) {
				return;
			}
			if (!is_func(fl, &a->tmp, o, x->last))
				return;
		}
	}
	callees(a, fl, ts_node_child(pc->node, 0), from, lineof(pc->node));
}

/* Marks the functions that run at import, and makes their causes count. */
static void
functions(struct analyzer *a)
{
	struct flow fl = {0};
	struct xcause *x;
	int32_t *first, *nexte, *queue, k;
	size_t i, nq = 0, head;
	char *r;

	if (!a->fnames) {
		a->fnames = htab_new();
		a->fclasses = htab_new();
	}
	fl.names = a->fnames;
	fl.classes = a->fclasses;
	for (i = 0; i < a->ndefs; i++)
		if (a->defs[i].d.kind == DEF_CLASS && a->defs[i].d.parent < 0)
			*htab_slot(fl.classes, a->defstr.data + a->defs[i].name) = fl.classes;
	fl.next = xmalloc((a->nfuncs + 1) * sizeof(fl.next[0]));
	for (i = 0; i < a->nfuncs; i++) {
		void **slot = htab_slot(fl.names, a->funcs[i].name);

		fl.next[i] = *slot ? (int32_t)(intptr_t)*slot - 1 : -1;
		*slot = (void *)(intptr_t)(i + 1);
	}
	for (i = 0; i < a->ncalls; i++)
		call_callees(a, &fl, &a->calls[i], &a->spells[i]);
	for (i = 0; i < a->ndecos; i++)
		callees(a, &fl, a->decos[i].node, a->decos[i].infunc && a->decos[i].func < 0 ? -2 : a->decos[i].func,
		        lineof(a->decos[i].node));
	/* breadth first from import-time code: each function once, reached by
	 * the first call that runs it */
	first = xmalloc((a->nfuncs + 1) * sizeof(first[0]));
	nexte = xmalloc((fl.ne + 1) * sizeof(nexte[0]));
	queue = xmalloc((a->nfuncs + 1) * sizeof(queue[0]));
	for (i = 0; i < a->nfuncs; i++)
		first[i] = -1;
	for (i = fl.ne; i-- > 0;) {
		/* edges by caller, in source order; import-time code's are the seeds */
		if (fl.e[i].from >= 0) {
			nexte[i] = first[fl.e[i].from];
			first[fl.e[i].from] = (int32_t)i;
		}
	}
	for (i = 0; i < fl.ne; i++) {
		const struct edge *e = &fl.e[i];

		if (e->from != -1 || a->funcs[e->to].called)
			continue;
		a->funcs[e->to].called = e->line;
		a->funcs[e->to].via = -1;
		queue[nq++] = e->to;
	}
	for (head = 0; head < nq; head++) {
		for (k = first[queue[head]]; k >= 0; k = nexte[k]) {
			const struct edge *e = &fl.e[k];

			if (a->funcs[e->to].called)
				continue;
			a->funcs[e->to].called = e->line;
			a->funcs[e->to].via = e->from;
			queue[nq++] = e->to;
		}
	}
	free(first);
	free(nexte);
	free(queue);
	for (i = 0; i < a->ncauses; i++) {
		x = &a->causes[i];
		k = x->func;
		if (x->c.import_time || k < 0 || !a->funcs[k].called)
			continue;
		x->c.import_time = true;
		/* "... (line 12)" reads "... (line 12; in setup(), run at import from line 30)" */
		r = x->c.reason;
		if (*r && r[strlen(r) - 1] == ')') {
			r[strlen(r) - 1] = 0;
			x->c.reason = xasprintf("%s; in %s(), run at import from line %d)", r, a->funcs[k].name,
			                        a->funcs[k].called);
		} else {
			x->c.reason = xasprintf("%s (in %s(), run at import from line %d)", r, a->funcs[k].name,
			                        a->funcs[k].called);
		}
		free(r);
	}
	free(fl.e);
	free(fl.next);
	htab_clear(fl.names);
	htab_clear(fl.classes);
}

void
py_flow_finish(struct analyzer *a)
{
	size_t i;

	a->spells = xgrow(a->spells, &a->spellcap, a->ncalls + 1, sizeof(a->spells[0]));
	for (i = 0; i < a->ncalls; i++)
		a->spells[i] = spell(a, a->calls[i].node);
	objects(a);
	if (a->nfuncs)
		functions(a);
}

void
py_flow_reset(struct analyzer *a)
{
	size_t i;

	for (i = 0; i < a->nfuncs; i++)
		free(a->funcs[i].name);
	a->nfuncs = 0;
	a->nbinds = 0;
	a->nobjs = 0;
	a->npnames = 0;
	a->ndecos = 0;
}

void
py_flow_free(struct analyzer *a)
{
	free(a->spells);
	htab_free(a->fnames);
	htab_free(a->fclasses);
}
