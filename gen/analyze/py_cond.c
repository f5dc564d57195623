/* py_cond - what an if statement's condition is at import time on this
 * platform (the precise policy; see gen/analyze/pyparse.h).
 *
 * A condition is true, false or unknown. Known are the tests of the
 * platform as Python spells them, evaluated for Linux: sys.platform
 * ("linux") compared with == / != / in / not in or tested with
 * .startswith(), os.name ("posix"), platform.system() ("Linux"); the
 * __main__ guard (__name__ == "__main__" is false on import); TYPE_CHECKING
 * (false); True and False; names bound at module scope to such a test
 * (`WIN = sys.platform.startswith("win")`, the last binding winning, any
 * other binding making the name unknown again); and not, and, or and
 * parentheses over those. Everything else is unknown, and an unknown
 * condition keeps both branches. */
#include <stdlib.h>
#include <string.h>

#include "gen/analyze/pyparse.h"

enum { V_UNKNOWN = -1, V_FALSE = 0, V_TRUE = 1 };

/* A value the platform tests compare: one string, several (a tuple or list
 * of literals), or nothing known. */
struct pval {
	int nstr;               /* -1: unknown */
	struct span str[8];
};

static const char this_platform[] = "linux";	/* sys.platform */
static const char this_os_name[] = "posix";	/* os.name */
static const char this_system[] = "Linux";	/* platform.system() */

static bool
spans_equal(struct span a, struct span b)
{
	return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

/* x.y with x and y identifiers spelling obj and attr. */
static bool
is_attr(const struct analyzer *a, TSNode n, const char *obj, const char *attr)
{
	return kindof(a, n) == K_ATTRIBUTE && kindof(a, field(n, a->f_object)) == K_IDENT &&
	       span_is(text(a, field(n, a->f_object)), obj) && span_is(text(a, field(n, a->f_attribute)), attr);
}

/* The strings of a string literal or a tuple/list of them. */
static struct pval
literal(const struct analyzer *a, TSNode n)
{
	struct pval v = {.nstr = -1};
	struct span body;
	uint32_t i, k;
	bool raw;
	TSNode item;

	n = unparen(a, n);
	if (kindof(a, n) == K_STRING) {
		if (py_string_body(text(a, n), &body, &raw)) {
			v.nstr = 1;
			v.str[0] = body;
		}
		return v;
	}
	if (kindof(a, n) != K_TUPLE && kindof(a, n) != K_LIST)
		return v;
	k = ts_node_named_child_count(n);
	v.nstr = 0;
	for (i = 0; i < k; i++) {
		item = ts_node_named_child(n, i);
		if (kindof(a, item) == K_COMMENT)
			continue;
		if (v.nstr == (int)LEN(v.str) || kindof(a, item) != K_STRING ||
		    !py_string_body(text(a, item), &body, &raw))
			return (struct pval){.nstr = -1};
		v.str[v.nstr++] = body;
	}
	return v;
}

/* The value of a platform expression, or of a literal. */
static struct pval
value(const struct analyzer *a, TSNode n)
{
	struct pval v = {.nstr = -1};
	TSNode fn;

	n = unparen(a, n);
	if (kindof(a, n) == K_ATTRIBUTE) {
		/* sys.platform, os.name */
		TSNode obj = field(n, a->f_object);
		struct span o, at;

		if (kindof(a, obj) != K_IDENT)
			return v;
		o = text(a, obj);
		at = text(a, field(n, a->f_attribute));
		if (span_is(o, "sys") && span_is(at, "platform")) {
			v.nstr = 1;
			v.str[0] = (struct span){this_platform, sizeof(this_platform) - 1};
		} else if (span_is(o, "os") && span_is(at, "name")) {
			v.nstr = 1;
			v.str[0] = (struct span){this_os_name, sizeof(this_os_name) - 1};
		}
	} else if (kindof(a, n) == K_CALL) {
		fn = field(n, a->f_function);
		if (is_attr(a, fn, "platform", "system") &&
		    ts_node_named_child_count(field(n, a->f_arguments)) == 0) {
			v.nstr = 1;
			v.str[0] = (struct span){this_system, sizeof(this_system) - 1};
		}
	} else {
		v = literal(a, n);
	}
	return v;
}

/* left OP right for ==, !=, in, not in. */
static int
compare(const struct analyzer *a, TSNode n)
{
	struct span op;
	struct pval l, r;
	bool eq, neg, in;
	int i;
	TSNode c0, c2;

	if (ts_node_child_count(n) != 3)
		return V_UNKNOWN;
	op = text(a, ts_node_child(n, 1));
	eq = span_is(op, "==");
	neg = span_is(op, "!=");
	in = span_is(op, "in");
	if (!eq && !neg && !in) {
		/* "not in", however spaced */
		if (op.n < 5 || memcmp(op.s, "not", 3) != 0 || memcmp(op.s + op.n - 2, "in", 2) != 0)
			return V_UNKNOWN;
		in = neg = true;
	}
	c0 = ts_node_child(n, 0);
	c2 = ts_node_child(n, 2);
	/* the __main__ guard, either way round */
	if (eq || (neg && !in)) {
		TSNode x = unparen(a, c0), y = unparen(a, c2);

		if (kindof(a, x) != K_IDENT) {
			TSNode t = x;
			x = y;
			y = t;
		}
		if (kindof(a, x) == K_IDENT && span_is(text(a, x), "__name__")) {
			l = literal(a, y);
			if (l.nstr == 1 && span_is(l.str[0], "__main__"))
				return eq ? V_FALSE : V_TRUE;
			return V_UNKNOWN;
		}
	}
	l = value(a, c0);
	if (l.nstr != 1)
		return V_UNKNOWN;
	r = value(a, c2);
	if (r.nstr < 0 || (!in && r.nstr != 1))
		return V_UNKNOWN;
	for (i = 0; i < r.nstr; i++)
		if (spans_equal(l.str[0], r.str[i]))
			return neg ? V_FALSE : V_TRUE;
	return neg ? V_TRUE : V_FALSE;
}

/* sys.platform.startswith(PREFIX or a tuple of them) */
static int
startswith(const struct analyzer *a, TSNode call)
{
	TSNode fn = field(call, a->f_function), args = field(call, a->f_arguments), arg = {0};
	struct pval p;
	uint32_t i, k, nargs = 0;
	int j;

	if (kindof(a, fn) != K_ATTRIBUTE || !span_is(text(a, field(fn, a->f_attribute)), "startswith") ||
	    !is_attr(a, unparen(a, field(fn, a->f_object)), "sys", "platform") || kindof(a, args) != K_ARGS)
		return V_UNKNOWN;
	k = ts_node_named_child_count(args);
	for (i = 0; i < k; i++) {
		TSNode c = ts_node_named_child(args, i);

		if (kindof(a, c) == K_COMMENT)
			continue;
		arg = c;
		nargs++;
	}
	if (nargs != 1)
		return V_UNKNOWN;
	p = literal(a, arg);
	if (p.nstr < 0)
		return V_UNKNOWN;
	for (j = 0; j < p.nstr; j++)
		if (p.str[j].n <= sizeof(this_platform) - 1 && memcmp(this_platform, p.str[j].s, p.str[j].n) == 0)
			return V_TRUE;
	return V_FALSE;
}

static int
eval(const struct analyzer *a, TSNode n)
{
	struct span t;
	size_t i;
	int l, r;

	n = unparen(a, n);
	switch (kindof(a, n)) {
	case K_NOT:
		l = eval(a, field(n, a->f_argument));
		return l == V_UNKNOWN ? V_UNKNOWN : !l;
	case K_BOOLOP:
		l = eval(a, field(n, a->f_left));
		r = eval(a, field(n, a->f_right));
		if (span_is(text(a, field(n, a->f_operator)), "and")) {
			if (l == V_FALSE || r == V_FALSE)
				return V_FALSE;
			return l == V_TRUE && r == V_TRUE ? V_TRUE : V_UNKNOWN;
		}
		if (l == V_TRUE || r == V_TRUE)
			return V_TRUE;
		return l == V_FALSE && r == V_FALSE ? V_FALSE : V_UNKNOWN;
	case K_COMPARE:
		return compare(a, n);
	case K_CALL:
		return startswith(a, n);
	case K_IDENT:
		t = text(a, n);
		if (span_is(t, "TYPE_CHECKING"))
			return V_FALSE;
		for (i = a->npnames; i-- > 0;)
			if (spans_equal(a->pnames[i].name, t))
				return a->pnames[i].value;
		return V_UNKNOWN;
	case K_ATTRIBUTE:
		return span_is(text(a, field(n, a->f_attribute)), "TYPE_CHECKING") &&
		       kindof(a, field(n, a->f_object)) == K_IDENT ? V_FALSE : V_UNKNOWN;
	case K_TRUE:
		return V_TRUE;
	case K_FALSE:
		return V_FALSE;
	default:
		return V_UNKNOWN;
	}
}

/* Whether the source t may hold a condition known here: every known form
 * spells one of these names, a string literal or a name bound to a
 * platform test. Anything not ASCII is looked at by the tree. */
static bool
may_know(const struct analyzer *a, struct span t)
{
	const char *s = t.s, *e = t.s + t.n, *w;
	struct span word;
	size_t i;

	while (s < e) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\'' || ch >= 0x80)
			return true;
		if (!is_word(ch)) {
			s++;
			continue;
		}
		for (w = s; s < e && is_word(*s); s++)
			;
		word = (struct span){w, (size_t)(s - w)};
		switch (word.n) {
		case 4:
			if (span_is(word, "True") || span_is(word, "name"))
				return true;
			break;
		case 5:
			if (span_is(word, "False"))
				return true;
			break;
		case 8:
			if (span_is(word, "platform") || span_is(word, "__name__"))
				return true;
			break;
		case 13:
			if (span_is(word, "TYPE_CHECKING"))
				return true;
			break;
		}
		for (i = 0; i < a->npnames; i++)
			if (spans_equal(a->pnames[i].name, word))
				return true;
	}
	return false;
}

int
py_cond_eval(const struct analyzer *a, TSNode n)
{
	return may_know(a, text(a, n)) ? eval(a, n) : V_UNKNOWN;
}

void
py_cond_binding(struct analyzer *a, TSNode assign)
{
	TSNode left, right;
	struct span name;
	int v;
	size_t i;

	/* nothing known, and no name bound to a test rebound */
	if (!may_know(a, text(a, assign)))
		return;
	left = field(assign, a->f_left);
	right = field(assign, a->f_right);
	if (kindof(a, left) != K_IDENT || ts_node_is_null(right))
		return;
	name = text(a, left);
	v = py_cond_eval(a, right);
	for (i = 0; i < a->npnames; i++)
		if (spans_equal(a->pnames[i].name, name))
			break;
	if (i == a->npnames) {
		if (v == V_UNKNOWN)
			return;
		a->pnames = xgrow(a->pnames, &a->pnamecap, a->npnames + 1, sizeof(a->pnames[0]));
		a->npnames++;
	}
	a->pnames[i].name = name;
	a->pnames[i].value = v;
}
