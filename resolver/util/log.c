/*
 * Logging to stderr, one line per call. The whole line is formatted into a
 * local buffer first and written with a single fputs so lines from several
 * threads never interleave (stdio locks the stream for each call). The level
 * is an atomic so worker threads may read it while the main thread sets it.
 */
#include "vpcdns/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_int log_level = VD_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void vd_log_set_level(vd_log_level_t level)
{
	if (level < VD_LOG_ERR)
		level = VD_LOG_ERR;
	if (level > VD_LOG_DEBUG)
		level = VD_LOG_DEBUG;
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

vd_log_level_t vd_log_get_level(void)
{
	return (vd_log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void vd_log(vd_log_level_t level, const char *fmt, ...)
{
	char line[2048];
	struct tm tm;
	time_t now;
	size_t n;
	va_list ap;
	int r;

	if (level < VD_LOG_ERR || level > vd_log_get_level())
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	r = snprintf(line + n, sizeof(line) - n, "%s: ", level_names[level]);
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	/* A truncated message still ends its line. */
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}
