/*
 * daemon private: the workers with their mailboxes, the reload job and
 * its waiters, statistics collection, and the pieces each file of the
 * module provides to the others.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "vpcdns/daemon.h"
#include "vpcdns/http.h"

/* How often each loop proves it runs, for /health. */
#define VD_DAEMON_TICK_MS 1000
#include "vpcdns/qlog.h"

/* One worker. Everything but the mailbox belongs to its thread once the
 * thread runs; the mailbox is what other threads may touch, under lock
 * (never held while a query is handled). */
typedef struct worker {
	int index;
	vd_daemon_t *d;
	uv_loop_t loop;
	uv_thread_t thread;
	bool ready;   /* loop, lock and wake initialised */
	bool started; /* thread running */
	uv_async_t wake;
	uv_timer_t drain_timer;	 /* stopping: are the last queries done? */
	uint64_t drain_deadline; /* loop time: server.shutdown_timeout */
	vd_fwd_t *fwd;
	vd_query_ctx_t *qctx;
	vd_net_t *net;
	vd_snap_t *snap; /* installed; the worker's own reference */
	bool stopping;
	uv_timer_t tick; /* liveness for /health (only with d->http) */
	bool tick_on;
	/* mailbox */
	uv_mutex_t lock;
	vd_snap_t *next_snap; /* to install (holds a reference) */
	bool want_stats, want_stop;
	bool stats_ready;	 /* stats below are a fresh copy */
	vd_worker_stats_t stats; /* written by the worker, read by main */
	/* cache flush: the main loop asks for flush_seq (with flush_all or
	 * flush_name); the worker answers with flush_done_seq and the
	 * number it removed */
	uint64_t flush_seq, flush_done_seq;
	bool flush_all;
	uint8_t flush_name[VD_NAME_MAX];
	uint64_t flush_removed;
	bool flush_counted; /* main loop only: this job's answer was added */
} worker_t;

/* A cache flush waiting its turn (flush.c). */
typedef struct flush_job {
	struct flush_job *next;
	bool all;
	uint8_t name[VD_NAME_MAX];
	vd_daemon_flush_cb cb;
	void *arg;
} flush_job_t;

/* A caller waiting for a reload's result or a statistics collection. */
typedef struct waiter {
	struct waiter *next;
	vd_daemon_reload_cb reload_cb; /* one of the two is set */
	vd_daemon_stats_cb stats_cb;
	void *arg;
} waiter_t;

/* A replaced snapshot the main loop still holds (retire.c). */
typedef struct retired {
	struct retired *next;
	vd_snap_t *snap; /* one reference, the main loop's */
} retired_t;

typedef struct reload_job {
	uv_work_t work;
	vd_daemon_t *d;
	vd_snap_t *snap; /* the new snapshot, on success */
	/* The serving snapshot when the build began, referenced until it
	 * ends: the build reuses its unchanged zones (read only). */
	vd_snap_t *prev;
	vd_errlist_t errs;
	int rc;
	int nice; /* the build thread's nice value (reload_work) */
	uint64_t started_ms;
	waiter_t *waiters; /* told when this build ends */
} reload_job_t;

struct vd_daemon {
	uv_loop_t *loop; /* the main loop: signals, reloads, services */
	const char *conf_path;
	bool verbose;
	vd_snap_t *snap; /* serving; the daemon holds one reference */
	/* The zone folders' watch, used by one build at a time (the load,
	 * then each reload in turn) and pruned by the main loop after a
	 * reload is in use; NULL when inotify is unavailable. */
	vd_watch_t *watch;
	uint64_t generation;
	uint64_t started_at, loaded_at;
	worker_t *workers;
	size_t nworkers;
	/* What the sockets were opened with: a reload is compared with this
	 * (what runs), not with the previous file, to say what needs a
	 * restart. Own copy; listen points into running_listen. */
	vd_server_conf_t running;
	struct sockaddr_storage *running_listen;
	uv_signal_t sighup, sigterm, sigint, sigusr1, sigusr2;
	/* query logs: rings and writer thread; NULL when neither a
	 * query_log section nor debug logging was on at start */
	vd_qlog_t *qlog;
	/* Stop: draining from the first SIGTERM (or vd_daemon_stop), then,
	 * after server.lameduck, stopping (workers drain and close). */
	bool stopping;
	uv_timer_t lameduck_timer;
	/* reloads */
	bool reloading, reload_again;
	reload_job_t job;
	waiter_t *next_waiters; /* for the build after the running one */
	uint64_t reloads, reload_failures;
	int last_rc;
	uint64_t last_at, last_ms;
	size_t last_errors;
	char last_error[256];
	/* replaced snapshots waiting for their last reader (retire.c): the
	 * one being freed on the thread pool, and what retiring returned */
	retired_t *retiring;
	size_t nretiring;
	uv_timer_t retire_timer;
	bool retire_ready; /* retire_timer initialised and open */
	bool retire_busy;  /* retire_work queued */
	uv_work_t retire_work;
	vd_snap_t *retire_snap;
	uint64_t retire_generation;
	uint64_t retire_rss_before, retire_rss_after, retire_work_ms; /* pool */
	uint64_t retired, retired_bytes, retired_ms;
	/* the zone image (image.c): the save running on the thread pool
	 * and its snapshot, and whether a newer one waits for it */
	bool image_busy, image_again;
	uv_work_t image_work;
	vd_snap_t *image_snap;
	int image_rc, image_nice;
	size_t image_count;
	uint64_t image_bytes, image_ms;
	vd_errlist_t image_errs;
	/* statistics collection */
	uv_async_t stats_async; /* a worker has copied its counters */
	uv_timer_t stats_timer; /* give up on slow workers */
	bool handles_ready;	/* the two above are initialised */
	bool signals_ready;	/* the signal handles are initialised */
	bool collecting;
	waiter_t *stats_waiters;
	vd_worker_stats_t *stats_buf;
	/* HTTP listener (NULL: none); set before the workers start */
	vd_http_t *http;
	vd_http_conf_t running_http; /* what it was started with */
	uv_async_t http_async;	     /* a scrape wants metrics */
	uv_timer_t http_tick;	     /* the main loop's liveness */
	bool http_handles;	     /* the two above are initialised */
	_Atomic uint64_t http_seq;   /* the newest scrape asking */
	bool draining;
	uint64_t last_ok_at, last_ok_ms;
	/* cache flushes (flush.c): the running one is flush_head */
	uv_async_t flush_async; /* a worker has flushed */
	uv_timer_t flush_timer; /* give up on slow workers */
	bool flush_ready;	/* the two above are initialised */
	flush_job_t *flush_head, *flush_tail;
	uint64_t flush_seq, flush_removed;
	size_t flush_answered;
	/* the control channel (NULL: none) */
	struct vd_ctl *ctl;
	/* forwarding loop detection (loopcheck.c): the table the workers
	 * read, the main loop's upstream client for the probes, and the
	 * probes of the current round to send again */
	vd_loopcheck_t *loopcheck;
	vd_fwd_t *probe_fwd;
	uv_timer_t probe_timer;
	bool probe_ready; /* probe_timer initialised */
	size_t probe_groups;
	unsigned *probe_tries; /* VD_LOOPCHECK_MAX_GROUPS each */
	bool *probe_retry;
};

/* worker.c */
int vd_daemon_worker_init(vd_daemon_t *d, worker_t *w, int index);
int vd_daemon_worker_start(worker_t *w);
void vd_daemon_worker_post(worker_t *w, vd_snap_t *snap, bool stats, bool stop);
/* Moves a fresh copy of the worker's counters into out; false if none. */
bool vd_daemon_worker_take_stats(worker_t *w, vd_worker_stats_t *out);
/* Closes a worker whose thread never ran, on this thread. */
void vd_daemon_worker_abandon(worker_t *w);
void vd_daemon_worker_deinit(worker_t *w);

void vd_daemon_worker_post_flush(worker_t *w, uint64_t seq, const uint8_t *name_lc);
/* The number the worker removed for flush seq, when it has answered it. */
bool vd_daemon_worker_take_flush(worker_t *w, uint64_t seq, uint64_t *removed);

/* retire.c: vd_daemon_retire takes over the caller's reference on a
 * replaced snapshot and frees it on the thread pool once nobody else
 * holds it, so neither a worker nor the main loop stalls on the free. */
void vd_daemon_retire_init(vd_daemon_t *d);
/* Work on the thread pool that must not take the CPU from the workers
 * (a reload's build, saving the zone image, freeing an old snapshot):
 * begin raises the calling thread's nice value by 10 (to at most 19)
 * and returns the value it runs at, *before the one to put back; end
 * puts it back where the process may. */
int vd_daemon_background_begin(int *before);
void vd_daemon_background_end(int before, int now);
/* image.c: saves the serving snapshot's zones to the zone image on the
 * thread pool when it has a state_dir and files were read for it (at
 * start, after a reload); one save at a time, the newest snapshot next. */
void vd_daemon_image_save(vd_daemon_t *d);
void vd_daemon_retire(vd_daemon_t *d, vd_snap_t *snap);
/* Closes the timer (stop); a free in progress ends on the pool. */
void vd_daemon_retire_stop(vd_daemon_t *d);
/* After the workers are gone: drops what is left, on this thread. */
void vd_daemon_retire_free(vd_daemon_t *d);

/* flush.c */
void vd_daemon_flush_init(vd_daemon_t *d);
/* Answers every queued flush with -ESHUTDOWN and closes the handles. */
void vd_daemon_flush_stop(vd_daemon_t *d);

/* privs.c: started as root with server.user, switches to that user
 * (groups, gid, uid) and checks root cannot be regained; as root without
 * server.user, warns. 0, or -1 after logging why. */
int vd_daemon_drop_privileges(const vd_server_conf_t *s);

/* notify.c: the sd_notify messages (nothing without NOTIFY_SOCKET). */
void vd_daemon_notify_ready(const vd_daemon_t *d);
void vd_daemon_notify_reloading(const vd_daemon_t *d);
void vd_daemon_notify_reloaded(const vd_daemon_t *d, int rc);
void vd_daemon_notify_stopping(const vd_daemon_t *d);

/* stats.c */
void vd_daemon_stats_log(const vd_worker_stats_t *w, size_t n);
/* Frees what a stats record owns (metrics, upstreams). */
void vd_daemon_stats_release(vd_worker_stats_t *s);

/* metrics.c: the Prometheus text of one collection, malloc'd into *out. */
int vd_daemon_metrics_format(vd_daemon_t *d, const vd_worker_stats_t *w, size_t n,
			     char **out, size_t *len);
/* http: started before the first load; ready once workers run. */
int vd_daemon_http_start(vd_daemon_t *d);
void vd_daemon_http_ready(vd_daemon_t *d);
void vd_daemon_http_stop(vd_daemon_t *d);
/* The "stats: qlog written=N dropped=N" line (nothing when q is NULL). */
void vd_daemon_stats_log_qlog(const vd_qlog_t *q);

/* limits.c: raises the soft RLIMIT_NOFILE to what snap needs with
 * nworkers, up to the hard limit; warns, naming the keys, when it cannot. */
void vd_daemon_fit_fd_limit(const vd_snap_t *snap, size_t nworkers);

/* loopcheck.c: a failed probe is sent again after this long, at most
 * VD_LOOPCHECK_TRIES times in all. */
#define VD_LOOPCHECK_RETRY_MS 250
#define VD_LOOPCHECK_TRIES 20
int vd_daemon_loopcheck_init(vd_daemon_t *d);
/* A new round for d->snap: every group probed again. */
void vd_daemon_loopcheck_start(vd_daemon_t *d);
/* Closes the probe client and timer (probes in flight are cancelled). */
void vd_daemon_loopcheck_stop(vd_daemon_t *d);
/* After the workers are gone. */
void vd_daemon_loopcheck_free(vd_daemon_t *d);
