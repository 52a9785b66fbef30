/*
 * The writer thread: drains every worker's ring in turn, formats each
 * record (Route 53 JSON into a 64 KiB buffer written with one write(2)
 * per pass, dnstap frames through fstrm, the debug line through vd_log)
 * and counts what it wrote. Workers never wake it (that would be a system
 * call on the query path): it polls, sleeping 1 ms after a busy pass and
 * up to 16 ms when idle. A reopen request (SIGUSR2, the control channel)
 * is a flag it reads between passes; at most once per 10 s it warns with
 * the number of records lost since the last warning.
 */
#include "qlog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "vpcdns/util.h"

#define OUTBUF_SIZE (64 * 1024)
#define WARN_EVERY_MS 10000
#define IDLE_SLEEP_MAX_MS 16

struct vd_qlog {
	size_t nrings;
	vd_qlog_ring_t **rings;
	unsigned outputs;
	uint32_t ring_size;
	char *file; /* JSON: a path, or NULL with to_stdout / to_syslog */
	bool to_stdout, to_syslog;
	int fd;
	char *dnstap_file, *dnstap_socket;
	bool dnstap_forwarder;
	qlog_dnstap_t *dt;
	pthread_t thread;
	bool started;
	atomic_bool stop, reopen;
	atomic_uint_least64_t written, failed;
	/* the writer thread's own */
	vd_rr_t *rr;
	char *buf;
	size_t blen;
	uint64_t bcount; /* records in buf */
	uint64_t warned_lost, warned_at;
};

static const char *const route_names[VD_QLOG_NROUTES] = {
	"local",   "cache",   "forward", "stale",
	"refused", "formerr", "notimp",	 "servfail",
};

const char *vd_qlog_route_name(unsigned route)
{
	return route < VD_QLOG_NROUTES ? route_names[route] : "?";
}

int vd_qlog_route_parse(const char *name)
{
	for (int i = 0; i < VD_QLOG_NROUTES; i++)
		if (strcmp(name, route_names[i]) == 0)
			return i;
	return -1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int open_json(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

vd_qlog_t *vd_qlog_new(const vd_qlog_conf_t *conf, size_t nrings, char *err,
		       size_t errlen)
{
	vd_qlog_t *q = calloc(1, sizeof(*q));

	snprintf(err, errlen, "out of memory");
	if (q == NULL)
		return NULL;
	q->fd = -1;
	atomic_init(&q->stop, false);
	atomic_init(&q->reopen, false);
	atomic_init(&q->written, 0);
	atomic_init(&q->failed, 0);
	q->ring_size = conf->ring_size ? conf->ring_size : VD_QLOG_RING_DEFAULT;
	q->rings = calloc(nrings, sizeof(*q->rings));
	q->rr = malloc(sizeof(*q->rr));
	q->buf = malloc(OUTBUF_SIZE);
	if (q->rings == NULL || q->rr == NULL || q->buf == NULL)
		goto fail;
	q->nrings = nrings;
	for (size_t i = 0; i < nrings; i++)
		if ((q->rings[i] = vd_qlog_ring_new(q->ring_size)) == NULL)
			goto fail;
	if (!conf->on)
		return q;
	if (conf->file != NULL) {
		q->outputs |= VD_QLOG_OUT_JSON;
		q->to_stdout = strcmp(conf->file, VD_QLOG_STDOUT) == 0;
		q->to_syslog = strcmp(conf->file, VD_QLOG_SYSLOG) == 0;
		if (q->to_stdout) {
			q->fd = STDOUT_FILENO;
		} else if (q->to_syslog) {
			openlog("vpcdns", LOG_PID, LOG_DAEMON);
		} else {
			if ((q->file = strdup(conf->file)) == NULL)
				goto fail;
			if ((q->fd = open_json(q->file)) < 0) {
				snprintf(err, errlen,
					 "query_log.file: cannot open '%s': %s",
					 q->file, strerror(errno));
				goto fail;
			}
		}
	}
	if (conf->dnstap_file != NULL || conf->dnstap_socket != NULL) {
		q->outputs |= VD_QLOG_OUT_DNSTAP;
		if (conf->dnstap_forwarder)
			q->outputs |= VD_QLOG_OUT_DNSTAP_FWD;
		q->dnstap_forwarder = conf->dnstap_forwarder;
		q->dnstap_file = dup_or_null(conf->dnstap_file);
		q->dnstap_socket = dup_or_null(conf->dnstap_socket);
		if ((conf->dnstap_file && !q->dnstap_file) ||
		    (conf->dnstap_socket && !q->dnstap_socket))
			goto fail;
		q->dt = vd_qlog_dnstap_open(q->dnstap_file, q->dnstap_socket, err,
					    errlen);
		if (q->dt == NULL)
			goto fail;
	}
	return q;
fail:
	vd_qlog_free(q);
	return NULL;
}

vd_qlog_ring_t *vd_qlog_ring(vd_qlog_t *q, size_t i)
{
	return i < q->nrings ? q->rings[i] : NULL;
}

unsigned vd_qlog_outputs(const vd_qlog_t *q)
{
	return q->outputs;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool vd_qlog_same_outputs(const vd_qlog_t *q, const vd_qlog_conf_t *c)
{
	const char *file = q->to_stdout	  ? VD_QLOG_STDOUT
			   : q->to_syslog ? VD_QLOG_SYSLOG
					  : q->file;
	uint32_t ring = c->ring_size ? c->ring_size : VD_QLOG_RING_DEFAULT;

	if (!c->on)
		return q->outputs == 0;
	return same_str(file, c->file) && same_str(q->dnstap_file, c->dnstap_file) &&
	       same_str(q->dnstap_socket, c->dnstap_socket) &&
	       q->dnstap_forwarder == (c->dnstap_forwarder && q->dt != NULL) &&
	       ring == q->ring_size;
}

void vd_qlog_reopen(vd_qlog_t *q)
{
	if (q != NULL)
		atomic_store(&q->reopen, true);
}

void vd_qlog_stats(const vd_qlog_t *q, uint64_t *written, uint64_t *dropped)
{
	uint64_t d = atomic_load(&q->failed);

	for (size_t i = 0; i < q->nrings; i++)
		d += vd_qlog_ring_dropped(q->rings[i]);
	*written = atomic_load(&q->written);
	*dropped = d;
}

/* ---- the writer thread ------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush(vd_qlog_t *q)
{
	size_t off = 0;

	while (off < q->blen && q->fd >= 0) {
		ssize_t n = write(q->fd, q->buf + off, q->blen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (q->bcount) {
		if (off == q->blen)
			atomic_fetch_add(&q->written, q->bcount);
		else
			atomic_fetch_add(&q->failed, q->bcount);
	}
	q->blen = 0;
	q->bcount = 0;
	if (q->dt != NULL)
		vd_qlog_dnstap_flush(q->dt);
}

static void do_reopen(vd_qlog_t *q)
{
	flush(q);
	if (q->file != NULL) {
		int fd = open_json(q->file);
		if (fd < 0) {
			vd_log(VD_LOG_ERR,
			       "query log: cannot reopen %s: %s (still "
			       "writing to the old file)",
			       q->file, strerror(errno));
		} else {
			close(q->fd);
			q->fd = fd;
		}
	}
	if (q->dt != NULL) {
		char err[256];
		qlog_dnstap_t *dt = vd_qlog_dnstap_open(
			q->dnstap_file, q->dnstap_socket, err, sizeof(err));
		if (dt == NULL) {
			vd_log(VD_LOG_ERR,
			       "query log: %s (still writing dnstap to the "
			       "old file)",
			       err);
		} else {
			vd_qlog_dnstap_close(q->dt);
			q->dt = dt;
		}
	}
	vd_log(VD_LOG_INFO, "query log: files reopened");
}

static void debug_line(vd_qlog_t *q, const vd_qlog_rec_t *rec)
{
	qrec_view_t v;
	char name[VD_NAME_TEXT], addr[64], up[64], t1[16], t2[16];

	vd_qlog_decode(rec, q->rr, &v);
	vd_qlog_addr_text(&rec->client, addr, sizeof(addr));
	vd_qlog_addr_text(&rec->upstream, up, sizeof(up));
	vd_log(VD_LOG_DEBUG,
	       "query: %s#%u %s %s %s view=%s route=%s rcode=%s answers=%u ede=%d "
	       "upstream=%s az=%s %uus",
	       addr, rec->client.port, (rec->flags & VD_QLOG_F_TCP) ? "TCP" : "UDP",
	       v.has_question ? vd_name_to_text(v.qname, name, sizeof(name)) : "-",
	       v.has_question ? vd_qlog_type_name(v.qtype, t1, sizeof(t1)) : "-",
	       rec->view[0] ? rec->view : "-", vd_qlog_route_name(rec->route),
	       v.rcode >= 0 ? vd_qlog_rcode_name(v.rcode, t2, sizeof(t2)) : "-",
	       v.nanswers, v.ede, up[0] ? up : "-",
	       rec->client_az[0] ? rec->client_az : "-", rec->duration_us);
}

static void write_json(vd_qlog_t *q, const vd_qlog_rec_t *rec)
{
	char line[8192];
	size_t n;

	if (q->to_syslog) {
		n = vd_qlog_json_line(rec, q->rr, line, sizeof(line));
		if (n > 0) {
			syslog(LOG_INFO, "%.*s", (int)(n - 1), line);
			atomic_fetch_add(&q->written, 1);
		}
		return;
	}
	if (OUTBUF_SIZE - q->blen < sizeof(line))
		flush(q);
	n = vd_qlog_json_line(rec, q->rr, q->buf + q->blen, OUTBUF_SIZE - q->blen);
	if (n > 0) {
		q->blen += n;
		q->bcount++;
	} else {
		atomic_fetch_add(&q->failed, 1); /* a line that does not fit */
	}
}

static void handle(vd_qlog_t *q, const vd_qlog_rec_t *rec)
{
	bool json = (q->outputs & VD_QLOG_OUT_JSON) && rec->kind == VD_QLOG_K_CLIENT &&
		    (rec->flags & VD_QLOG_F_ANSWERED);

	if ((rec->flags & VD_QLOG_F_DEBUG) && rec->kind == VD_QLOG_K_CLIENT &&
	    (rec->flags & VD_QLOG_F_ANSWERED))
		debug_line(q, rec);
	if (!(rec->flags & VD_QLOG_F_LOG))
		return;
	if (json)
		write_json(q, rec);
	if (q->dt != NULL) {
		int r = vd_qlog_dnstap_write(q->dt, rec);
		if (!json)
			atomic_fetch_add(r == 0 ? &q->written : &q->failed, 1);
	}
}

static size_t drain(vd_qlog_t *q)
{
	size_t n = 0;
	const vd_qlog_rec_t *rec;

	for (size_t i = 0; i < q->nrings; i++) {
		/* a bounded batch per ring, so one busy worker cannot starve
		 * the others */
		for (size_t k = 0; k < 1024 && (rec = vd_qlog_ring_peek(q->rings[i]));
		     k++) {
			handle(q, rec);
			vd_qlog_ring_pop(q->rings[i]);
			n++;
		}
	}
	return n;
}

static void maybe_warn(vd_qlog_t *q)
{
	uint64_t now = now_ms(), written, lost;

	if (now - q->warned_at < WARN_EVERY_MS)
		return;
	vd_qlog_stats(q, &written, &lost);
	if (lost > q->warned_lost)
		vd_log(VD_LOG_WARN,
		       "query log: %llu records dropped in the last %llu s (a ring "
		       "was full or writing failed); %llu dropped, %llu written in "
		       "all",
		       (unsigned long long)(lost - q->warned_lost),
		       (unsigned long long)((now - q->warned_at) / 1000),
		       (unsigned long long)lost, (unsigned long long)written);
	q->warned_lost = lost;
	q->warned_at = now;
}

static void *writer_main(void *arg)
{
	vd_qlog_t *q = arg;
	unsigned idle_ms = 1;

	q->warned_at = now_ms();
	while (!atomic_load(&q->stop)) {
		if (atomic_exchange(&q->reopen, false))
			do_reopen(q);
		size_t n = drain(q);
		flush(q);
		maybe_warn(q);
		if (n > 0) {
			idle_ms = 1;
			if (n >= 1024)
				continue;
		} else if (idle_ms < IDLE_SLEEP_MAX_MS) {
			idle_ms *= 2;
		}
		struct timespec ts = { 0, (long)idle_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
	while (drain(q) > 0)
		;
	flush(q);
	return NULL;
}

int vd_qlog_start(vd_qlog_t *q)
{
	int r = pthread_create(&q->thread, NULL, writer_main, q);
	if (r != 0)
		return -r;
	q->started = true;
	return 0;
}

void vd_qlog_free(vd_qlog_t *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		atomic_store(&q->stop, true);
		pthread_join(q->thread, NULL);
	}
	if (q->fd >= 0 && !q->to_stdout)
		close(q->fd);
	if (q->to_syslog)
		closelog();
	vd_qlog_dnstap_close(q->dt);
	for (size_t i = 0; q->rings && i < q->nrings; i++)
		vd_qlog_ring_free(q->rings[i]);
	free(q->rings);
	free(q->rr);
	free(q->buf);
	free(q->file);
	free(q->dnstap_file);
	free(q->dnstap_socket);
	free(q);
}
