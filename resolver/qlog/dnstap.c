/*
 * dnstap output: each record becomes one or two dnstap.Dnstap protobuf
 * messages (CLIENT_QUERY and CLIENT_RESPONSE for a client's request,
 * FORWARDER_QUERY or FORWARDER_RESPONSE for upstream traffic), framed by
 * fstrm with the content type "protobuf:dnstap.Dnstap" into a file or a
 * Unix socket (fstrm's bidirectional handshake; the writer reconnects on
 * its own). The protobuf code is generated at build time from Debian's
 * dnstap.proto. Runs on the writer thread only.
 */
#include "qlog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <fstrm.h>

#include "dnstap.pb-c.h"

#define CONTENT_TYPE "protobuf:dnstap.Dnstap"
#define IDENTITY "vpcdns"

struct qlog_dnstap {
	struct fstrm_writer *w;
	uint8_t buf[4096];
};

qlog_dnstap_t *vd_qlog_dnstap_open(const char *file, const char *socket, char *err,
				   size_t errlen)
{
	qlog_dnstap_t *d = calloc(1, sizeof(*d));
	struct fstrm_writer_options *wopt = fstrm_writer_options_init();
	struct fstrm_file_options *fopt = NULL;
	struct fstrm_unix_writer_options *uopt = NULL;

	if (d == NULL || wopt == NULL)
		goto fail;
	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE,
					      sizeof(CONTENT_TYPE) - 1);
	if (file != NULL) {
		fopt = fstrm_file_options_init();
		fstrm_file_options_set_file_path(fopt, file);
		d->w = fstrm_file_writer_init(fopt, wopt);
	} else {
		uopt = fstrm_unix_writer_options_init();
		fstrm_unix_writer_options_set_socket_path(uopt, socket);
		d->w = fstrm_unix_writer_init(uopt, wopt);
	}
	/* A file must open now (a bad path is a start-up error); a socket
	 * may have no reader yet: fstrm reconnects when writing. */
	if (d->w == NULL ||
	    (file != NULL && fstrm_writer_open(d->w) != fstrm_res_success)) {
		snprintf(err, errlen, "query_log.dnstap_%s: cannot open '%s'",
			 file ? "file" : "socket", file ? file : socket);
		goto fail;
	}
	if (file == NULL)
		fstrm_writer_open(d->w);
	fstrm_writer_options_destroy(&wopt);
	if (fopt)
		fstrm_file_options_destroy(&fopt);
	if (uopt)
		fstrm_unix_writer_options_destroy(&uopt);
	return d;
fail:
	if (wopt)
		fstrm_writer_options_destroy(&wopt);
	if (fopt)
		fstrm_file_options_destroy(&fopt);
	if (uopt)
		fstrm_unix_writer_options_destroy(&uopt);
	vd_qlog_dnstap_close(d);
	return NULL;
}

void vd_qlog_dnstap_close(qlog_dnstap_t *d)
{
	if (d == NULL)
		return;
	if (d->w != NULL)
		fstrm_writer_destroy(&d->w);
	free(d);
}

int vd_qlog_dnstap_flush(qlog_dnstap_t *d)
{
	(void)d; /* fstrm writes each frame as it comes */
	return 0;
}

static void set_addr(ProtobufCBinaryData *b, protobuf_c_boolean *has,
		     const vd_qlog_addr_t *a, uint32_t *port,
		     protobuf_c_boolean *has_port)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return;
	b->data = (uint8_t *)a->addr;
	b->len = a->family == AF_INET ? 4 : 16;
	*has = 1;
	*port = a->port;
	*has_port = 1;
}

static int emit(qlog_dnstap_t *d, Dnstap__Message *m)
{
	Dnstap__Dnstap dt = DNSTAP__DNSTAP__INIT;
	size_t n;

	dt.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	dt.identity.data = (uint8_t *)IDENTITY;
	dt.identity.len = sizeof(IDENTITY) - 1;
	dt.has_identity = 1;
	dt.message = m;
	n = dnstap__dnstap__get_packed_size(&dt);
	if (n > sizeof(d->buf))
		return -1;
	dnstap__dnstap__pack(&dt, d->buf);
	return fstrm_writer_write(d->w, d->buf, n) == fstrm_res_success ? 0 : -1;
}

int vd_qlog_dnstap_write(qlog_dnstap_t *d, const vd_qlog_rec_t *rec)
{
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	const vd_qlog_addr_t *fam = rec->kind == VD_QLOG_K_CLIENT ? &rec->client
								  : &rec->upstream;
	uint64_t start = rec->wall_us, end = rec->wall_us + rec->duration_us;
	int r = 0;

	if (fam->family == AF_INET || fam->family == AF_INET6) {
		m.socket_family = fam->family == AF_INET ? DNSTAP__SOCKET_FAMILY__INET
							 : DNSTAP__SOCKET_FAMILY__INET6;
		m.has_socket_family = 1;
	}
	m.socket_protocol = (rec->flags & VD_QLOG_F_TCP) ? DNSTAP__SOCKET_PROTOCOL__TCP
							 : DNSTAP__SOCKET_PROTOCOL__UDP;
	m.has_socket_protocol = 1;
	m.query_time_sec = start / 1000000;
	m.query_time_nsec = (uint32_t)(start % 1000000) * 1000;
	m.has_query_time_sec = m.has_query_time_nsec = 1;
	if (rec->kind == VD_QLOG_K_FORWARDER) {
		set_addr(&m.response_address, &m.has_response_address, &rec->upstream,
			 &m.response_port, &m.has_response_port);
		if (rec->flags & VD_QLOG_F_RESPONSE) {
			m.type = DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE;
			m.response_time_sec = end / 1000000;
			m.response_time_nsec = (uint32_t)(end % 1000000) * 1000;
			m.has_response_time_sec = m.has_response_time_nsec = 1;
			m.response_message.data = (uint8_t *)rec->wire + rec->qlen;
			m.response_message.len = rec->rlen;
			m.has_response_message = !(rec->flags & VD_QLOG_F_RTRUNC);
		} else {
			m.type = DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY;
			m.query_message.data = (uint8_t *)rec->wire;
			m.query_message.len = rec->qlen;
			m.has_query_message = !(rec->flags & VD_QLOG_F_QTRUNC);
		}
		return emit(d, &m);
	}
	set_addr(&m.query_address, &m.has_query_address, &rec->client, &m.query_port,
		 &m.has_query_port);
	if ((rec->flags & VD_QLOG_F_QUESTION) && rec->qlen > 0) {
		m.type = DNSTAP__MESSAGE__TYPE__CLIENT_QUERY;
		m.query_message.data = (uint8_t *)rec->wire;
		m.query_message.len = rec->qlen;
		m.has_query_message = !(rec->flags & VD_QLOG_F_QTRUNC);
		r |= emit(d, &m);
		m.has_query_message = 0;
	}
	if (rec->flags & VD_QLOG_F_ANSWERED) {
		m.type = DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
		m.response_time_sec = end / 1000000;
		m.response_time_nsec = (uint32_t)(end % 1000000) * 1000;
		m.has_response_time_sec = m.has_response_time_nsec = 1;
		m.response_message.data = (uint8_t *)rec->wire + rec->qlen;
		m.response_message.len = rec->rlen;
		m.has_response_message = !(rec->flags & VD_QLOG_F_RTRUNC);
		r |= emit(d, &m);
	}
	return r;
}
