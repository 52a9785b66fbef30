/*
 * qlog private: the ring layout, the writer's state, and what its files
 * share (the record decoder the JSON, dnstap and debug formats use).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vpcdns/qlog.h"
#include "vpcdns/wire.h"

struct vd_qlog_ring {
	_Alignas(64) atomic_size_t head;	    /* written by the producer */
	_Alignas(64) atomic_size_t tail;	    /* written by the consumer */
	_Alignas(64) atomic_uint_least64_t dropped; /* producer */
	size_t mask;				    /* records - 1 */
	vd_qlog_rec_t *recs;
};

/* What the formats need from a CLIENT record: the question (from the
 * reply, else from the query), the reply's rcode and EDE, and where the
 * reply is. */
typedef struct qrec_view {
	bool has_question;
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype, qclass;
	const uint8_t *reply; /* NULL: none */
	size_t rlen;
	int rcode; /* -1: no reply */
	int ede;   /* -1: none (or not readable) */
	unsigned nanswers;
} qrec_view_t;

/* Fills v from rec; rr is scratch (a vd_rr_t is 64 KiB). */
void vd_qlog_decode(const vd_qlog_rec_t *rec, vd_rr_t *rr, qrec_view_t *v);
const char *vd_qlog_type_name(uint16_t t, char *buf, size_t len);
const char *vd_qlog_rcode_name(int rcode, char *buf, size_t len);
const char *vd_qlog_addr_text(const vd_qlog_addr_t *a, char *buf, size_t len);

/* json.c: vd_qlog_format_json with the caller's scratch. */
size_t vd_qlog_json_line(const vd_qlog_rec_t *rec, vd_rr_t *rr, char *out, size_t cap);

/* dnstap.c: an fstrm writer to a file or a Unix socket. */
typedef struct qlog_dnstap qlog_dnstap_t;
qlog_dnstap_t *vd_qlog_dnstap_open(const char *file, const char *socket, char *err,
				   size_t errlen);
/* Writes the messages of one record (CLIENT: query and/or response;
 * FORWARDER: one). 0 or -1. */
int vd_qlog_dnstap_write(qlog_dnstap_t *d, const vd_qlog_rec_t *rec);
int vd_qlog_dnstap_flush(qlog_dnstap_t *d);
void vd_qlog_dnstap_close(qlog_dnstap_t *d);
