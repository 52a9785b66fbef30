/*
 * Logging to stderr, one line per call. The whole line is formatted into a
 * local buffer first and written with a single fputs so lines from several
 * threads never interleave (stdio locks the stream for each call). The level
 * is an atomic so worker threads may read it while the main thread sets it.
 * Under systemd, when stderr is the journal stream, lines carry a "<N>"
 * syslog priority prefix instead of a time stamp (journald adds its own);
 * with server.log: syslog they go through syslog(3).
 */
#include "vpcdns/util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = VD_LOG_INFO;
/* 0: not looked at yet, 1: plain stderr, 2: the journal's stream */
static atomic_int journal_state;
static atomic_bool to_syslog;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

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

void vd_log_set_syslog(bool on)
{
	if (on && !atomic_load(&to_syslog))
		openlog("vpcdns", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&to_syslog, on);
}

/* systemd's contract: JOURNAL_STREAM is "device:inode" of the stream it
 * connected; stderr may since have been redirected elsewhere. */
static bool stderr_is_journal(void)
{
	int st = atomic_load_explicit(&journal_state, memory_order_relaxed);
	const char *env;
	unsigned long long dev, ino;
	struct stat sb;

	if (st != 0)
		return st == 2;
	env = getenv("JOURNAL_STREAM");
	st = 1;
	if (env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino)
		st = 2;
	atomic_store_explicit(&journal_state, st, memory_order_relaxed);
	return st == 2;
}

void vd_log(vd_log_level_t level, const char *fmt, ...)
{
	char line[2048];
	struct tm tm;
	time_t now;
	size_t n = 0;
	va_list ap;
	int r;

	if (level < VD_LOG_ERR || level > vd_log_get_level())
		return;
	if (atomic_load_explicit(&to_syslog, memory_order_relaxed)) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		syslog(level_prio[level], "%s", line);
		return;
	}
	if (stderr_is_journal()) {
		r = snprintf(line, sizeof(line), "<%d>", level_prio[level]);
		n = r > 0 ? (size_t)r : 0;
	} else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
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
