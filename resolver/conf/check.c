/*
 * Shared checks of the configuration builders: error recording, unknown
 * keys, and the readers of scalar values (strings, booleans, durations,
 * positive integers). Values are parsed strictly: a typo such as "10sec"
 * or "ture" is an error with its line, never silently a default. Loads
 * run on a worker thread during reloads, so messages use vd_strerror
 * (static strings) rather than strerror.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void vd_conf_err(cbuild_t *b, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(b->errs, b->file, line, fmt, ap);
	va_end(ap);
	b->nerr++;
}

void vd_conf_nerr(cbuild_t *b, const ynode_t *n, const char *fmt, ...)
{
	const char *file = n && n->file ? n->file : b->file;
	size_t before = b->errs->count;
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(b->errs, file, n ? n->line : 0, fmt, ap);
	va_end(ap);
	b->nerr++;
	if (b->errs->count != before + 1)
		return;
	for (size_t i = 0; i < before; i++) {
		if (strcmp(b->errs->msgs[i], b->errs->msgs[before]) == 0) {
			free(b->errs->msgs[before]);
			b->errs->count = before;
			return;
		}
	}
}

void vd_conf_nomem(cbuild_t *b)
{
	b->nomem = true;
}

static bool allowed_key(const char *key, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(key, *allowed) == 0)
			return true;
	return false;
}

void vd_conf_check_keys(cbuild_t *b, const ynode_t *m, const char *const *allowed,
			const char *where)
{
	if (!m || m->kind != YN_MAP)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const ynode_t *k = m->pairs[i].key;

		if (!allowed_key(k->str, allowed))
			vd_conf_nerr(b, k, "unknown key '%s' in %s", k->str, where);
	}
}

static bool is_string(const ynode_t *v)
{
	return v && v->kind == YN_SCALAR && !v->null;
}

bool vd_conf_is_string_list(const ynode_t *v)
{
	if (!v || v->kind != YN_SEQ)
		return false;
	for (size_t i = 0; i < v->n; i++)
		if (!is_string(v->items[i]))
			return false;
	return true;
}

int vd_conf_string(cbuild_t *b, const yn_pair_t *p, const char *what, const char **out)
{
	if (!is_string(p->val)) {
		vd_conf_nerr(b, p->key, "%s must be a string", what);
		return -1;
	}
	*out = p->val->str;
	return 0;
}

int vd_conf_bool(cbuild_t *b, const yn_pair_t *p, const char *what, bool *out)
{
	const char *s = p->val->kind == YN_SCALAR ? p->val->str : "";

	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
		*out = false;
		return 0;
	}
	vd_conf_nerr(b, p->key, "%s must be true, false, yes or no", what);
	return -1;
}

/* Decimal digits only, at least one, at most UINT32_MAX. */
static int parse_u32(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	if (p == s)
		return -1;
	*end = p;
	*out = v;
	return 0;
}

int vd_conf_duration(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *ms)
{
	const char *s, *unit;
	uint64_t v, mult;

	if (!is_string(p->val)) {
		vd_conf_nerr(b, p->key, "%s must be a duration", what);
		return -1;
	}
	s = p->val->str;
	if (parse_u32(s, &unit, &v) < 0)
		goto bad;
	if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "s") == 0 || *unit == '\0')
		mult = 1000;
	else if (strcmp(unit, "m") == 0)
		mult = 60000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600000;
	else if (strcmp(unit, "d") == 0)
		mult = 86400000;
	else
		goto bad;
	if (v == 0 || v * mult > UINT32_MAX)
		goto bad;
	*ms = (uint32_t)(v * mult);
	return 0;
bad:
	vd_conf_nerr(b, p->val,
		     "%s: bad duration '%s' (a positive <n>ms, <n>s, <n>m, <n>h, <n>d, "
		     "or <n> seconds)",
		     what, s);
	return -1;
}

int vd_conf_size(cbuild_t *b, const yn_pair_t *p, const char *what, uint64_t max,
		 uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 },
		{ "B", 1 },
		{ "KiB", 1ull << 10 },
		{ "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 },
		{ "k", 1000 },
		{ "KB", 1000 },
		{ "MB", 1000000 },
		{ "GB", 1000000000 },
	};
	const char *s;
	char *end;

	if (vd_conf_string(b, p, what, &s) < 0)
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || s[0] == '-')
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0 && v <= max / units[i].mult) {
			*out = v * units[i].mult;
			return 0;
		}
	}
bad:
	vd_conf_nerr(
		b, p->val,
		"%s: bad size '%s' (bytes, or <n>KiB, <n>MiB, <n>GiB; at most %lluGiB)",
		what, s, (unsigned long long)(max >> 30));
	return -1;
}

int vd_conf_uint(cbuild_t *b, const yn_pair_t *p, const char *what, uint32_t *out)
{
	const char *end;
	uint64_t v;

	if (!is_string(p->val) || parse_u32(p->val->str, &end, &v) < 0 ||
	    *end != '\0' || v == 0) {
		vd_conf_nerr(b, p->key, "%s must be an integer > 0", what);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}
