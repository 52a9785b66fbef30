/*
 * Keeping the zone image up to date: after a start or a reload that read
 * zone files, the serving snapshot's zones are written to
 * <server.state_dir>/zones.img on libuv's thread pool (conf writes the
 * file), so the next start takes every zone whose file did not change from
 * there. The save runs below the workers' priority (nice +10, like a
 * reload's build) and holds a reference on its snapshot; one runs at a time,
 * and a snapshot installed meanwhile is saved when it ends. Nothing on
 * the query path waits for it; a failed save is logged and the previous
 * image stays (a start then reads the files it does not cover).
 */
#include "daemon_int.h"

#include <stdlib.h>

static void image_work(uv_work_t *work)
{
	vd_daemon_t *d = work->data;
	uint64_t t0 = vd_now_ms();
	int before, now = vd_daemon_background_begin(&before);

	d->image_rc = vd_conf_image_save(d->image_snap, &d->image_count,
					 &d->image_bytes, &d->image_errs);
	d->image_ms = vd_now_ms() - t0;
	d->image_nice = now;
	vd_daemon_background_end(before, now);
}

static void image_done(uv_work_t *work, int status)
{
	vd_daemon_t *d = work->data;

	(void)status; /* a queued work always runs, even at shutdown */
	if (d->image_rc == 0)
		vd_log(VD_LOG_INFO,
		       "zone image: %zu zones (%.1f MiB) saved in %llu ms at nice %d",
		       d->image_count, (double)d->image_bytes / (1 << 20),
		       (unsigned long long)d->image_ms, d->image_nice);
	for (size_t i = 0; i < d->image_errs.count; i++)
		vd_log(VD_LOG_WARN, "%s", d->image_errs.msgs[i]);
	vd_errlist_deinit(&d->image_errs);
	vd_snap_unref(d->image_snap);
	d->image_snap = NULL;
	d->image_busy = false;
	if (d->image_again && !d->stopping) {
		d->image_again = false;
		vd_daemon_image_save(d);
	}
}

void vd_daemon_image_save(vd_daemon_t *d)
{
	const vd_snap_t *s = d->snap;

	if (!s || !s->server.state_dir ||
	    s->nzones == s->nzones_reused + s->nzones_image)
		return;
	if (d->image_busy) {
		d->image_again = true;
		return;
	}
	vd_snap_ref(d->snap);
	d->image_snap = d->snap;
	vd_errlist_init(&d->image_errs);
	d->image_work.data = d;
	d->image_busy = true;
	if (uv_queue_work(d->loop, &d->image_work, image_work, image_done) != 0) {
		d->image_busy = false;
		vd_snap_unref(d->image_snap);
		d->image_snap = NULL;
		vd_errlist_deinit(&d->image_errs);
	}
}
