/*
 * Retiring replaced snapshots off the query path. A reload replaces the
 * serving snapshot; the old one stays referenced by every worker until it
 * installs the new one, and by each request still waiting on an upstream.
 * Whoever drops the last reference frees the snapshot: its views, routing
 * maps, the zones no newer snapshot shares (all of them after a reload
 * that read every file: hundreds of megabytes at 1000 views) and a
 * malloc_trim. Done by a worker, that stalls its loop while datagrams pile
 * up in the socket buffer. So the main loop keeps a reference on each
 * replaced snapshot, looks every RETIRE_POLL_MS whether it is the last
 * holder, and then drops it on libuv's thread pool, one snapshot at a
 * time: no worker and not the main loop (signals, control channel) waits.
 */
#include "daemon_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* How often the main loop looks whether the old snapshots are free, only
 * while there are some. */
#define RETIRE_POLL_MS 20

/* Resident memory in bytes, from /proc/self/statm; 0 when unreadable. */
static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* On a thread of the pool: the last unref (conf frees and trims). */
static void retire_work(uv_work_t *work)
{
	vd_daemon_t *d = work->data;
	uint64_t t0 = vd_now_ms();
	int before, now = vd_daemon_background_begin(&before);

	d->retire_rss_before = rss_bytes();
	vd_snap_unref(d->retire_snap);
	d->retire_rss_after = rss_bytes();
	d->retire_work_ms = vd_now_ms() - t0;
	vd_daemon_background_end(before, now);
}

static void retire_next(vd_daemon_t *d);

static void retire_done(uv_work_t *work, int status)
{
	vd_daemon_t *d = work->data;
	uint64_t before = d->retire_rss_before, after = d->retire_rss_after;

	(void)status; /* a queued work always runs, even at shutdown */
	d->retire_snap = NULL;
	d->retire_busy = false;
	d->retired++;
	d->retired_ms += d->retire_work_ms;
	if (before > after)
		d->retired_bytes += before - after;
	vd_log(VD_LOG_INFO,
	       "snapshot %llu retired off the workers in %llu ms "
	       "(resident memory %llu MiB -> %llu MiB)",
	       (unsigned long long)d->retire_generation,
	       (unsigned long long)d->retire_work_ms,
	       (unsigned long long)(before >> 20), (unsigned long long)(after >> 20));
	retire_next(d);
}

/* Starts freeing the first snapshot nobody but the main loop holds. */
static void retire_next(vd_daemon_t *d)
{
	retired_t **pp = &d->retiring, *r;

	if (d->retire_busy)
		return;
	while ((r = *pp) != NULL && vd_snap_refs(r->snap) != 1)
		pp = &r->next;
	if (r == NULL) {
		if (d->retiring == NULL && d->retire_ready)
			uv_timer_stop(&d->retire_timer);
		return;
	}
	*pp = r->next;
	d->nretiring--;
	d->retire_snap = r->snap;
	d->retire_generation = r->snap->generation;
	free(r);
	d->retire_busy = true;
	d->retire_work.data = d;
	if (uv_queue_work(d->loop, &d->retire_work, retire_work, retire_done) != 0) {
		/* No pool: free here rather than on a worker. */
		retire_work(&d->retire_work);
		retire_done(&d->retire_work, 0);
	}
}

static void on_retire_timer(uv_timer_t *t)
{
	retire_next(t->data);
}

void vd_daemon_retire_init(vd_daemon_t *d)
{
	uv_timer_init(d->loop, &d->retire_timer);
	d->retire_timer.data = d;
	d->retire_ready = true;
}

void vd_daemon_retire(vd_daemon_t *d, vd_snap_t *snap)
{
	retired_t *r;

	if (snap == NULL)
		return;
	if (!d->retire_ready || (r = calloc(1, sizeof(*r))) == NULL) {
		vd_snap_unref(snap); /* not the last: the workers hold it */
		return;
	}
	r->snap = snap;
	r->next = d->retiring;
	d->retiring = r;
	d->nretiring++;
	if (!uv_is_active((uv_handle_t *)&d->retire_timer))
		uv_timer_start(&d->retire_timer, on_retire_timer, RETIRE_POLL_MS,
			       RETIRE_POLL_MS);
}

void vd_daemon_retire_stop(vd_daemon_t *d)
{
	if (!d->retire_ready)
		return;
	d->retire_ready = false;
	uv_close((uv_handle_t *)&d->retire_timer, NULL);
}

void vd_daemon_retire_free(vd_daemon_t *d)
{
	/* The workers are gone: these are the last references. */
	while (d->retiring != NULL) {
		retired_t *r = d->retiring;
		d->retiring = r->next;
		vd_snap_unref(r->snap);
		free(r);
	}
	d->nretiring = 0;
}
