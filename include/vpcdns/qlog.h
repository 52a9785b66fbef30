/*
 * qlog: query logs. Each worker writes one fixed-size record per query
 * into its own bounded single-producer/single-consumer ring (C11 atomics:
 * no lock, no allocation, no system call); one writer thread per process
 * drains every ring, formats the records and writes them: Route 53
 * Resolver query-log JSON (one object per line, to a file, standard
 * output or syslog), dnstap (CLIENT_QUERY/CLIENT_RESPONSE and
 * FORWARDER_QUERY/FORWARDER_RESPONSE, to a file or a Unix socket through
 * fstrm), and, at log level debug, one log line per query. A full ring
 * drops the record and counts it; the writer warns at most once per 10 s
 * with the number dropped. Depends on wire and util (and libfstrm,
 * libprotobuf-c).
 *
 * Threading: vd_qlog_new, _start, _free are called by the process's main
 * thread; vd_qlog_reopen and vd_qlog_stats from any thread. A ring has
 * exactly one producer (its worker's loop thread: vd_qlog_reserve and
 * vd_qlog_commit) and one consumer (the writer thread).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration (the "query_log" section; conf fills it) ----------- */

/* How a reply was produced. */
typedef enum {
	VD_QLOG_ROUTE_LOCAL = 0, /* local zone data (and CH class answers) */
	VD_QLOG_ROUTE_CACHE,	 /* a fresh cache entry */
	VD_QLOG_ROUTE_FORWARD,	 /* an upstream answer (or its failure) */
	VD_QLOG_ROUTE_STALE,	 /* an expired cache entry (EDE 3) */
	VD_QLOG_ROUTE_REFUSED,	 /* no view, no forward rule, AXFR, ... */
	VD_QLOG_ROUTE_FORMERR,	 /* a malformed query */
	VD_QLOG_ROUTE_NOTIMP,	 /* an opcode other than QUERY */
	VD_QLOG_ROUTE_SERVFAIL,	 /* no upstream query possible (bounds) */
	VD_QLOG_NROUTES,
} vd_qlog_route_t;

/* "local", "cache", ...; "?" out of range. */
const char *vd_qlog_route_name(unsigned route);
/* The route called name, or -1. */
int vd_qlog_route_parse(const char *name);

/* Special values of file. */
#define VD_QLOG_STDOUT "stdout"
#define VD_QLOG_SYSLOG "syslog"
/* Records per ring by default, and the bounds of ring_size. */
#define VD_QLOG_RING_DEFAULT 4096
#define VD_QLOG_RING_MIN 16
#define VD_QLOG_RING_MAX (1u << 20)

/* Everything lives in the snapshot's arena. Outputs and ring_size are
 * read when the daemon starts; sample and the filters by every query of
 * the snapshot that holds them. */
typedef struct vd_qlog_conf {
	bool on;		   /* the section is present */
	const char *file;	   /* Route 53 JSON: a path, "stdout" or
				    * "syslog"; NULL: none */
	const char *dnstap_file;   /* dnstap to a file; NULL: none */
	const char *dnstap_socket; /* dnstap to a Unix socket; NULL: none */
	bool dnstap_forwarder;	   /* FORWARDER_* messages too (default on) */
	uint32_t sample;	   /* log 1 query in sample (>= 1) */
	uint32_t ring_size;	   /* records per worker (power of two) */
	uint32_t rcodes;	   /* bit r: rcode r is logged (low 4 bits) */
	uint32_t routes;	   /* bit r: route r is logged */
	const uint8_t *views;	   /* per view index, 1: logged; NULL: all */
	size_t nviews;
} vd_qlog_conf_t;

/* ---- records ---------------------------------------------------------- */

#define VD_QLOG_REC_SIZE 1536
/* Bytes of the client's query kept; the rest of the record's wire area
 * holds the reply (truncated replies are marked and rendered as far as
 * whole records go). */
#define VD_QLOG_QUERY_MAX 320
#define VD_QLOG_TEXT 48

enum {
	VD_QLOG_K_CLIENT = 0,	 /* a client's query and/or our reply */
	VD_QLOG_K_FORWARDER = 1, /* an upstream query or response */
};
enum {
	VD_QLOG_F_LOG = 1,	  /* write to the query-log outputs */
	VD_QLOG_F_DEBUG = 2,	  /* write the debug log line */
	VD_QLOG_F_TCP = 4,	  /* the client (or upstream) used TCP */
	VD_QLOG_F_RTRUNC = 8,	  /* the reply did not fit: cut short */
	VD_QLOG_F_QTRUNC = 16,	  /* the query did not fit: cut short */
	VD_QLOG_F_RESPONSE = 32,  /* FORWARDER: a response (else a query) */
	VD_QLOG_F_ANSWERED = 64,  /* CLIENT: a reply is in the record */
	VD_QLOG_F_QUESTION = 128, /* CLIENT: the query is in the record */
};

/* A socket address in a fixed form: family AF_INET (4 bytes of addr) or
 * AF_INET6; 0: none. */
typedef struct vd_qlog_addr {
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];
} vd_qlog_addr_t;

typedef struct vd_qlog_rec {
	uint8_t kind, route, flags;
	vd_qlog_addr_t client;	 /* the client (CLIENT) */
	vd_qlog_addr_t upstream; /* the server that answered, if any */
	uint64_t wall_us;	 /* Unix time the query arrived, in us */
	uint32_t duration_us;	 /* arrival to reply (CLIENT) */
	uint16_t qlen, rlen;	 /* wire[0..qlen) query, [qlen..+rlen) reply */
	/* Copies of the view's texts (the snapshot may go before the writer
	 * reads the record); "" when unknown, cut at VD_QLOG_TEXT - 1. */
	char view[VD_QLOG_TEXT], vpc_id[VD_QLOG_TEXT];
	char account_id[16], region[24], client_az[24];
	/* The DNS firewall rule that decided (Route 53's firewall_* fields):
	 * fw_action 0 when none, else 1 + vd_fw_action_t; the rule group's
	 * and the domain list's names. */
	uint8_t fw_action;
	char fw_group[VD_QLOG_TEXT], fw_list[VD_QLOG_TEXT];
	uint8_t wire[VD_QLOG_REC_SIZE - 336];
} vd_qlog_rec_t;

_Static_assert(sizeof(vd_qlog_rec_t) <= VD_QLOG_REC_SIZE, "query-log record size");

/* ---- the rings ---------------------------------------------------------- */

typedef struct vd_qlog_ring vd_qlog_ring_t;

/* The next free record of the ring, or NULL when the ring is full (the
 * drop is counted). Fill it and call vd_qlog_commit before the next
 * reserve. Producer thread only; no lock, no allocation, no system call. */
vd_qlog_rec_t *vd_qlog_reserve(vd_qlog_ring_t *r);
/* Hands the reserved record to the writer. */
void vd_qlog_commit(vd_qlog_ring_t *r);

/* A ring on its own (unit tests, and the writer's own use): cap records,
 * rounded up to a power of two. NULL on out of memory. */
vd_qlog_ring_t *vd_qlog_ring_new(uint32_t cap);
void vd_qlog_ring_free(vd_qlog_ring_t *r);
/* Consumer side: the oldest committed record or NULL, then release it. */
const vd_qlog_rec_t *vd_qlog_ring_peek(vd_qlog_ring_t *r);
void vd_qlog_ring_pop(vd_qlog_ring_t *r);
/* Records dropped because the ring was full (any thread). */
uint64_t vd_qlog_ring_dropped(const vd_qlog_ring_t *r);

/* ---- the writer ----------------------------------------------------------- */

typedef struct vd_qlog vd_qlog_t;

/* What a vd_qlog_t writes, for the producers (vd_query_set_qlog). */
enum {
	VD_QLOG_OUT_JSON = 1,	    /* Route 53 JSON */
	VD_QLOG_OUT_DNSTAP = 2,	    /* dnstap CLIENT_* messages */
	VD_QLOG_OUT_DNSTAP_FWD = 4, /* dnstap FORWARDER_* messages */
};

/* Opens the outputs conf names (conf may be off: then only debug lines
 * are written) and makes nrings rings of conf->ring_size records
 * (VD_QLOG_RING_DEFAULT when 0). Paths are used as given. The outputs are
 * copied: conf may go after the call. On failure returns NULL and says
 * why in err (at least 256 bytes). */
vd_qlog_t *vd_qlog_new(const vd_qlog_conf_t *conf, size_t nrings, char *err,
		       size_t errlen);
/* Ring i (< nrings), owned by q. */
vd_qlog_ring_t *vd_qlog_ring(vd_qlog_t *q, size_t i);
unsigned vd_qlog_outputs(const vd_qlog_t *q);
/* Whether conf names the same outputs and ring size q runs with. */
bool vd_qlog_same_outputs(const vd_qlog_t *q, const vd_qlog_conf_t *conf);
/* Starts the writer thread. 0 or -errno. */
int vd_qlog_start(vd_qlog_t *q);
/* Asks the writer to reopen the JSON and dnstap files (after logrotate
 * renamed them); done within a few milliseconds. Any thread. */
void vd_qlog_reopen(vd_qlog_t *q);
/* Records written to the outputs, and records lost: dropped because a
 * ring was full or because writing failed. Any thread. */
void vd_qlog_stats(const vd_qlog_t *q, uint64_t *written, uint64_t *dropped);
/* Stops the writer after it wrote everything committed (call once the
 * producers have stopped), closes the outputs, frees q. NULL: nothing. */
void vd_qlog_free(vd_qlog_t *q);

/* Appends the Route 53 JSON line of a CLIENT record (with its final
 * newline) to out; returns its length, or 0 when it does not fit or the
 * record has no reply. For the writer and for tests. */
size_t vd_qlog_format_json(const vd_qlog_rec_t *rec, char *out, size_t cap);
