/*
 * File descriptors: at start and after each reload the soft limit on open
 * files is raised to what the configuration can hold open at once, up to
 * the hard limit, with a warning naming the keys when that is not enough.
 */
#include "daemon_int.h"

#include <sys/resource.h>

/* Each worker's loop, wake-up and thread-pool descriptors, and a few for
 * TCP/TLS upstream connections; then the process's own (stdio, the main
 * loop, signals, files read on reload). */
#define FD_WORKER_MARGIN 32
#define FD_PROCESS_MARGIN 64

/* Descriptors the configuration can hold open at once: per worker, every
 * TCP client and every upstream query (a UDP socket each) at their
 * bounds, and a UDP and a TCP listener per address. */
static rlim_t fds_needed(const vd_snap_t *snap, size_t nworkers)
{
	const vd_server_conf_t *s = &snap->server;
	rlim_t per = (rlim_t)s->tcp_max_connections + s->upstream_max_inflight +
		     2 * (rlim_t)s->nlisten + FD_WORKER_MARGIN;
	return per * nworkers + FD_PROCESS_MARGIN;
}

void vd_daemon_fit_fd_limit(const vd_snap_t *snap, size_t nworkers)
{
	rlim_t need = fds_needed(snap, nworkers);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max
									 : need;
	if (rl.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		vd_log(VD_LOG_INFO, "open files limit raised from %llu to %llu",
		       (unsigned long long)was, (unsigned long long)rl.rlim_cur);
	else
		rl.rlim_cur = was;
	if (rl.rlim_cur >= need)
		return;
	vd_log(VD_LOG_WARN,
	       "open files limit is %llu (hard limit %llu) but the "
	       "configuration may need %llu: server.tcp_max_connections (%u) + "
	       "server.upstream_max_inflight (%u) per worker (server.workers: %zu), "
	       "plus listeners and a margin; raise the hard limit (ulimit -Hn, "
	       "LimitNOFILE=) or lower those keys, else upstream queries fail "
	       "when descriptors run out",
	       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	       (unsigned long long)need, snap->server.tcp_max_connections,
	       snap->server.upstream_max_inflight, nworkers);
}
