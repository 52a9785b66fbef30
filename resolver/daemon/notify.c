/*
 * systemd readiness protocol (sd_notify(3), Type=notify): READY=1 once
 * the first generation is loaded and the workers run; RELOADING=1 with
 * MONOTONIC_USEC when a reload starts and READY=1 when it ends, with
 * STATUS= saying which generation serves and how the reload went; and
 * STOPPING=1 when a stop begins. Without NOTIFY_SOCKET (not started by
 * systemd) sd_notify does nothing.
 */
#include "daemon_int.h"

#include <inttypes.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static uint64_t monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void vd_daemon_notify_ready(const vd_daemon_t *d)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving generation %" PRIu64 " (%zu views)",
		   d->generation, d->snap->nviews);
}

void vd_daemon_notify_reloading(const vd_daemon_t *d)
{
	sd_notifyf(0,
		   "RELOADING=1\nMONOTONIC_USEC=%" PRIu64
		   "\nSTATUS=reloading; generation %" PRIu64 " serving",
		   monotonic_usec(), d->generation);
}

void vd_daemon_notify_reloaded(const vd_daemon_t *d, int rc)
{
	if (rc == 0)
		sd_notifyf(0,
			   "READY=1\nSTATUS=serving generation %" PRIu64
			   " (%zu views); reload ok",
			   d->generation, d->snap->nviews);
	else
		sd_notifyf(0,
			   "READY=1\nSTATUS=serving generation %" PRIu64
			   "; reload failed: %s",
			   d->generation, d->last_error);
}

void vd_daemon_notify_stopping(const vd_daemon_t *d)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=draining; generation %" PRIu64 " serving",
		   d->generation);
}
