/*
 * A growable list of "file:line: reason" messages, used while loading a
 * configuration so every problem can be reported at once instead of only
 * the first. Messages are malloc'd and owned by the list. Out of memory
 * while adding drops the message: the caller still sees count > 0 for the
 * errors that were recorded, and a load that ran out of memory fails anyway.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrordesc_np, vasprintf outside the CMake build */
#endif
#include "vpcdns/util.h"

#include <stdio.h>
#include <stdlib.h>

void vd_errlist_init(vd_errlist_t *e)
{
	if (!e)
		return;
	e->msgs = NULL;
	e->count = 0;
	e->cap = 0;
}

void vd_errlist_deinit(vd_errlist_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->count; i++)
		free(e->msgs[i]);
	free(e->msgs);
	vd_errlist_init(e);
}

static int grow(vd_errlist_t *e)
{
	size_t cap = e->cap ? e->cap * 2 : 8;
	char **m;

	m = realloc(e->msgs, cap * sizeof(*m));
	if (!m)
		return -1;
	e->msgs = m;
	e->cap = cap;
	return 0;
}

__attribute__((format(printf, 4, 0))) void vd_errlist_vadd(vd_errlist_t *e,
							   const char *file,
							   unsigned long line,
							   const char *fmt, va_list ap)
{
	char *reason = NULL, *msg = NULL;
	int r;

	if (!e || !fmt)
		return;
	if (e->count == e->cap && grow(e) < 0)
		return;
	if (vasprintf(&reason, fmt, ap) < 0)
		return;
	if (!file)
		r = asprintf(&msg, "%s", reason);
	else if (line)
		r = asprintf(&msg, "%s:%lu: %s", file, line, reason);
	else
		r = asprintf(&msg, "%s: %s", file, reason);
	free(reason);
	if (r < 0)
		return;
	e->msgs[e->count++] = msg;
}

void vd_errlist_add(vd_errlist_t *e, const char *file, unsigned long line,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vd_errlist_vadd(e, file, line, fmt, ap);
	va_end(ap);
}
