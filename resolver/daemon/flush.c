/*
 * Cache flushes for the control channel: each worker removes the name (or
 * everything) from its own cache on its own thread, asked through its
 * mailbox; the main loop sums what they removed and answers the caller
 * once all did, or after FLUSH_TIMEOUT_MS with the ones that did. Flushes
 * queue and run one at a time; a sequence number tells a late answer to
 * an earlier flush from the answer to the running one.
 */
#include "daemon_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_TIMEOUT_MS 2000

static void on_flush_timeout(uv_timer_t *t);

static void flush_begin(vd_daemon_t *d)
{
	flush_job_t *job = d->flush_head;

	d->flush_seq++;
	d->flush_removed = 0;
	d->flush_answered = 0;
	for (size_t i = 0; i < d->nworkers; i++) {
		d->workers[i].flush_counted = false;
		vd_daemon_worker_post_flush(&d->workers[i], d->flush_seq,
					    job->all ? NULL : job->name);
	}
	uv_timer_start(&d->flush_timer, on_flush_timeout, FLUSH_TIMEOUT_MS, 0);
}

/* Answers the running flush and starts the next one. */
static void flush_end(vd_daemon_t *d, int rc)
{
	flush_job_t *job = d->flush_head;

	uv_timer_stop(&d->flush_timer);
	d->flush_head = job->next;
	if (d->flush_head == NULL)
		d->flush_tail = NULL;
	job->cb(job->arg, rc, d->flush_removed, d->flush_answered, d->nworkers);
	free(job);
	if (d->flush_head != NULL && !d->stopping)
		flush_begin(d);
}

static void on_flush_async(uv_async_t *a)
{
	vd_daemon_t *d = a->data;
	uint64_t n;

	if (d->flush_head == NULL)
		return;
	for (size_t i = 0; i < d->nworkers; i++) {
		worker_t *w = &d->workers[i];
		if (w->flush_counted ||
		    !vd_daemon_worker_take_flush(w, d->flush_seq, &n))
			continue;
		w->flush_counted = true;
		d->flush_removed += n;
		d->flush_answered++;
	}
	if (d->flush_answered == d->nworkers)
		flush_end(d, 0);
}

static void on_flush_timeout(uv_timer_t *t)
{
	vd_daemon_t *d = t->data;

	on_flush_async(&d->flush_async);
	if (d->flush_head != NULL && d->flush_answered < d->nworkers) {
		vd_log(VD_LOG_WARN, "flush: %zu of %zu workers did not answer in time",
		       d->nworkers - d->flush_answered, d->nworkers);
		flush_end(d, 0);
	}
}

int vd_daemon_flush(vd_daemon_t *d, const uint8_t *name_lc, vd_daemon_flush_cb cb,
		    void *arg)
{
	if (d->stopping || !d->flush_ready)
		return -ESHUTDOWN;
	flush_job_t *job = calloc(1, sizeof(*job));
	if (job == NULL)
		return -ENOMEM;
	job->all = name_lc == NULL;
	if (name_lc != NULL)
		memcpy(job->name, name_lc, vd_name_len(name_lc));
	job->cb = cb;
	job->arg = arg;
	if (d->flush_tail != NULL) {
		d->flush_tail->next = job;
		d->flush_tail = job;
		return 0;
	}
	d->flush_head = d->flush_tail = job;
	flush_begin(d);
	return 0;
}

void vd_daemon_flush_init(vd_daemon_t *d)
{
	uv_async_init(d->loop, &d->flush_async, on_flush_async);
	d->flush_async.data = d;
	uv_timer_init(d->loop, &d->flush_timer);
	d->flush_timer.data = d;
	d->flush_ready = true;
}

void vd_daemon_flush_stop(vd_daemon_t *d)
{
	if (!d->flush_ready)
		return;
	while (d->flush_head != NULL)
		flush_end(d, -ESHUTDOWN);
	uv_close((uv_handle_t *)&d->flush_async, NULL);
	uv_close((uv_handle_t *)&d->flush_timer, NULL);
	d->flush_ready = false;
}
