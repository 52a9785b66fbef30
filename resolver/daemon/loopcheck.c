/*
 * Forwarding loop detection, the daemon side: at start and after each
 * reload, a new round (vd_query_loopcheck_round) and one probe query per
 * upstream group, sent from the main loop's own upstream client. The
 * workers notice a probe that comes back (query/loopcheck.c). A probe
 * that fails (a server not up yet, a timeout) is sent again every
 * VD_LOOPCHECK_RETRY_MS, at most VD_LOOPCHECK_TRIES times, so that two
 * servers started one after the other still find their loop; an answer
 * of any kind ends a group's probing.
 */
#include "daemon_int.h"

#include <stdlib.h>
#include <string.h>

#include "vpcdns/util.h"

/* One probe in flight: holds a snapshot reference for the group. */
typedef struct probe {
	vd_daemon_t *d;
	vd_snap_t *snap;
	size_t group;
} probe_t;

static void on_retry(uv_timer_t *t);

static void on_probe(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	probe_t *p = arg;
	vd_daemon_t *d = p->d;
	bool current = p->snap == d->snap && !d->stopping;
	(void)ede;
	(void)resp;
	(void)len;

	if (current && vd_query_loopcheck_looping(d->loopcheck, p->snap, p->group)) {
		/* the worker that saw it came back logged it */
	} else if (current && status != 0 && status != -ECANCELED &&
		   d->probe_tries[p->group] < VD_LOOPCHECK_TRIES) {
		d->probe_retry[p->group] = true;
		if (!uv_is_active((uv_handle_t *)&d->probe_timer))
			uv_timer_start(&d->probe_timer, on_retry, VD_LOOPCHECK_RETRY_MS,
				       0);
	} else if (current && status == 0) {
		vd_log(VD_LOG_DEBUG,
		       "loop check: upstream group '%s' answered the probe",
		       p->snap->groups[p->group].name);
	}
	vd_snap_unref(p->snap);
	free(p);
}

static void send_probe(vd_daemon_t *d, size_t group)
{
	const vd_snap_t *s = d->snap;
	uint8_t name[VD_NAME_MAX];
	probe_t *p;

	if (vd_query_loopcheck_name(d->loopcheck, group, name) != 0)
		return;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return;
	p->d = d;
	p->group = group;
	vd_snap_ref(d->snap);
	p->snap = d->snap;
	d->probe_tries[group]++;
	vd_fwd_query_t q = {
		.group = &s->groups[group],
		.qname = name,
		.qtype = VD_T_A,
		.qclass = VD_C_IN,
		.rd = true,
		.timeout_ms = s->server.upstream_timeout_ms,
		.query_timeout_ms = s->server.query_timeout_ms,
		.tls_ca_file = s->server.tls_ca_file,
	};
	if (vd_fwd_submit(d->probe_fwd, &q, on_probe, p) != 0) {
		vd_snap_unref(p->snap);
		free(p);
	}
}

static void on_retry(uv_timer_t *t)
{
	vd_daemon_t *d = t->data;

	for (size_t i = 0; i < d->probe_groups; i++) {
		if (!d->probe_retry[i])
			continue;
		d->probe_retry[i] = false;
		send_probe(d, i);
	}
}

int vd_daemon_loopcheck_init(vd_daemon_t *d)
{
	d->loopcheck = vd_query_loopcheck_new();
	d->probe_fwd = d->loopcheck ? vd_fwd_new(d->loop) : NULL;
	d->probe_tries = calloc(VD_LOOPCHECK_MAX_GROUPS, sizeof(*d->probe_tries));
	d->probe_retry = calloc(VD_LOOPCHECK_MAX_GROUPS, sizeof(*d->probe_retry));
	if (d->probe_fwd == NULL || d->probe_tries == NULL || d->probe_retry == NULL)
		return -ENOMEM;
	/* A dead upstream is the workers' to report, once each. */
	vd_fwd_set_quiet(d->probe_fwd, true);
	uv_timer_init(d->loop, &d->probe_timer);
	d->probe_timer.data = d;
	d->probe_ready = true;
	return 0;
}

void vd_daemon_loopcheck_start(vd_daemon_t *d)
{
	if (!d->probe_ready || d->stopping)
		return;
	/* A round even when off: it clears the previous one's marks. */
	vd_query_loopcheck_round(d->loopcheck, d->snap->generation);
	d->probe_groups = d->snap->ngroups < VD_LOOPCHECK_MAX_GROUPS
				  ? d->snap->ngroups
				  : VD_LOOPCHECK_MAX_GROUPS;
	if (!d->snap->server.loop_check)
		d->probe_groups = 0;
	memset(d->probe_tries, 0, VD_LOOPCHECK_MAX_GROUPS * sizeof(*d->probe_tries));
	memset(d->probe_retry, 0, VD_LOOPCHECK_MAX_GROUPS * sizeof(*d->probe_retry));
	uv_timer_stop(&d->probe_timer);
	for (size_t i = 0; i < d->probe_groups; i++)
		send_probe(d, i);
}

void vd_daemon_loopcheck_stop(vd_daemon_t *d)
{
	if (d->probe_ready) {
		uv_close((uv_handle_t *)&d->probe_timer, NULL);
		d->probe_ready = false;
	}
	if (d->probe_fwd != NULL) {
		vd_fwd_close(d->probe_fwd, NULL, NULL);
		d->probe_fwd = NULL;
	}
}

void vd_daemon_loopcheck_free(vd_daemon_t *d)
{
	vd_query_loopcheck_free(d->loopcheck);
	d->loopcheck = NULL;
	free(d->probe_tries);
	free(d->probe_retry);
	d->probe_tries = NULL;
	d->probe_retry = NULL;
}
