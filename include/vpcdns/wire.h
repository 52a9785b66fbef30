/*
 * wire: DNS wire format without allocation. Header accessors, domain names
 * (parse with decompression, compare, case-fold, print), parsing of a
 * client query (question + EDNS OPT), a decompressing resource-record
 * iterator for upstream responses, and a writer on a caller's buffer with
 * a sticky error and name compression. Depends on util only.
 *
 * Names here are always in uncompressed wire form: length-prefixed labels
 * ending with the zero byte, at most VD_NAME_MAX (255) bytes. A "name
 * buffer" is uint8_t[VD_NAME_MAX].
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VD_NAME_MAX 255
#define VD_LABEL_MAX 63
#define VD_HDR_LEN 12
#define VD_EDNS_ADVERTISE 1232 /* our UDP payload size (DNS flag day 2020) */
#define VD_UDP_LEGACY 512

/* RR types and classes used by name. */
enum {
	VD_T_A = 1,
	VD_T_NS = 2,
	VD_T_CNAME = 5,
	VD_T_SOA = 6,
	VD_T_PTR = 12,
	VD_T_HINFO = 13,
	VD_T_MX = 15,
	VD_T_TXT = 16,
	VD_T_AAAA = 28,
	VD_T_SRV = 33,
	VD_T_DNAME = 39,
	VD_T_OPT = 41,
	VD_T_DS = 43,
	VD_T_RRSIG = 46,
	VD_T_NSEC = 47,
	VD_T_DNSKEY = 48,
	VD_T_TSIG = 250,
	VD_T_IXFR = 251,
	VD_T_AXFR = 252,
	VD_T_ANY = 255,
};
enum { VD_C_IN = 1, VD_C_CH = 3, VD_C_ANY = 255 };
enum {
	VD_RCODE_NOERROR = 0,
	VD_RCODE_FORMERR = 1,
	VD_RCODE_SERVFAIL = 2,
	VD_RCODE_NXDOMAIN = 3,
	VD_RCODE_NOTIMP = 4,
	VD_RCODE_REFUSED = 5,
	VD_RCODE_BADVERS = 16,	 /* extended: upper 8 bits go in the OPT TTL */
	VD_RCODE_BADCOOKIE = 23, /* extended (RFC 7873) */
};
enum { VD_OPCODE_QUERY = 0 };
/* EDNS option codes and Extended DNS Error info codes (RFC 8914). */
enum { VD_EDNS_NSID = 3, VD_EDNS_COOKIE = 10, VD_EDNS_EDE = 15 };
/* A COOKIE option: the client cookie, then 0 or 8..32 bytes of server
 * cookie (RFC 7873 4). */
#define VD_COOKIE_MAX 40
enum {
	VD_EDE_OTHER = 0,
	VD_EDE_STALE = 3,
	VD_EDE_PROHIBITED = 18,
	VD_EDE_NOT_READY = 14,
	VD_EDE_NO_REACHABLE_AUTHORITY = 22,
	VD_EDE_NETWORK_ERROR = 23,
};

/* ---- header ----------------------------------------------------------- */
/* Flag bits of the 16-bit flags word (bytes 2-3, host order). */
#define VD_F_QR 0x8000
#define VD_F_AA 0x0400
#define VD_F_TC 0x0200
#define VD_F_RD 0x0100
#define VD_F_RA 0x0080
#define VD_F_AD 0x0020
#define VD_F_CD 0x0010
#define VD_F_OPCODE(f) (((f) >> 11) & 0xf)
#define VD_F_RCODE(f) ((f)&0xf)

static inline uint16_t vd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t vd_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void vd_set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void vd_set32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
/* Header fields of a packet of at least VD_HDR_LEN bytes. */
#define vd_hdr_id(p) vd_get16((p) + 0)
#define vd_hdr_flags(p) vd_get16((p) + 2)
#define vd_hdr_qdcount(p) vd_get16((p) + 4)
#define vd_hdr_ancount(p) vd_get16((p) + 6)
#define vd_hdr_nscount(p) vd_get16((p) + 8)
#define vd_hdr_arcount(p) vd_get16((p) + 10)

/* ---- names ------------------------------------------------------------ */

/* Reads the (possibly compressed) name at pkt[*off] into out (uncompressed,
 * case kept). On success *off is advanced past the name as it appears in
 * the packet (past the first pointer, if any) and *outlen is its length.
 * Rejects: running off the end, label > 63, name > 255, forward or looping
 * pointers (a pointer must point strictly before the current label), the
 * reserved label types 0x40/0x80. Returns 0 or VD_EMALF. */
int vd_name_parse(const uint8_t *pkt, size_t pktlen, size_t *off,
		  uint8_t out[VD_NAME_MAX], size_t *outlen);
/* Length of a valid uncompressed name (including the final zero). */
size_t vd_name_len(const uint8_t *name);
/* ASCII case-insensitive equality of two uncompressed names. */
bool vd_name_equal(const uint8_t *a, const uint8_t *b);
/* Lower-cases ASCII letters of src into dst (may be the same buffer). */
void vd_name_lower(uint8_t *dst, const uint8_t *src);
/* Number of labels, not counting the root ("." has 0). */
unsigned vd_name_labels(const uint8_t *name);
/* Pointer to the suffix after skipping n leading labels (n <= labels). */
const uint8_t *vd_name_skip(const uint8_t *name, unsigned n);
/* Whether name equals suffix or lies below it (case-insensitive). */
bool vd_name_is_subdomain(const uint8_t *name, const uint8_t *suffix);
/* Presentation form "www.example.com." into buf (at least VD_NAME_TEXT
 * bytes); special characters escaped as \DDD or \. Returns buf. */
#define VD_NAME_TEXT 1024
const char *vd_name_to_text(const uint8_t *name, char *buf, size_t len);
/* Presentation form ("example.com", "example.com.", ".") to wire form,
 * always fully qualified. Returns 0 or VD_EMALF. */
int vd_name_from_text(const char *text, uint8_t out[VD_NAME_MAX], size_t *outlen);

/* The address a reverse name stands for: "4.3.2.1.in-addr.arpa." (four
 * decimal labels) gives AF_INET and 4 bytes, "b.a.9.8....ip6.arpa." (32
 * nibble labels) AF_INET6 and 16. Case-insensitive. Returns 0 or
 * VD_ENOTFOUND for any other name (partial or malformed ones included). */
int vd_name_reverse_addr(const uint8_t *name, int *family, uint8_t addr[16]);
/* The reverse name of an address, into out. Returns the name's length. */
size_t vd_name_reverse_of(int family, const uint8_t *addr, uint8_t out[VD_NAME_MAX]);

/* ---- client query ----------------------------------------------------- */

typedef struct vd_query_msg {
	uint16_t id;
	uint16_t flags;		       /* header flags word as received */
	uint8_t qname[VD_NAME_MAX];    /* as sent (case kept, for the reply) */
	uint8_t qname_lc[VD_NAME_MAX]; /* lower-cased, for lookups */
	size_t qname_len;
	uint16_t qtype, qclass;
	size_t question_end; /* offset just past the question */
	/* EDNS (RFC 6891) */
	bool edns;	   /* an OPT RR was present */
	uint16_t edns_udp; /* requestor's payload size (>= 512) */
	uint8_t edns_version;
	bool edns_do;
	bool edns_nsid; /* NSID option present (RFC 5001) */
	/* The COOKIE option's bytes (RFC 7873): 8 (a client cookie only)
	 * or 16..40; 0 when absent. The query layer replaces the server
	 * part with its own fresh cookie before replying, and every reply
	 * with an OPT echoes cookie[0..cookie_len). */
	uint8_t cookie[VD_COOKIE_MAX];
	uint8_t cookie_len;
} vd_query_msg_t;

/* Outcome of vd_query_msg_parse. */
typedef enum {
	VD_QP_OK = 0,  /* a well-formed query */
	VD_QP_DROP,    /* shorter than a header, or QR=1: answer nothing */
	VD_QP_FORMERR, /* header readable, rest malformed: FORMERR */
	VD_QP_NOTIMP,  /* opcode other than QUERY: NOTIMP */
	VD_QP_BADVERS, /* EDNS version > 0: BADVERS (question is parsed) */
} vd_qp_result_t;

/* Parses a client query. FORMERR cases: QDCOUNT != 1, ANCOUNT or NSCOUNT
 * non-zero, a bad name, the packet ending inside the question, more than
 * one OPT, an OPT not owned by the root, a malformed option list, a TSIG
 * that is not the last additional record (RFC 8945 5.2), trailing
 * garbage after the declared records, a COOKIE option of a length other
 * than 8 or 16..40 or given twice (RFC 7873 5.2.2). id/flags are always filled when the
 * result is not VD_QP_DROP. An EDNS payload size below 512 is read as 512.
 * Unknown EDNS options are ignored. */
vd_qp_result_t vd_query_msg_parse(const uint8_t *pkt, size_t len, vd_query_msg_t *q);

/* ---- resource record iterator (responses from upstreams) ------------- */

typedef struct vd_rr {
	int section;		    /* 1 answer, 2 authority, 3 additional */
	uint8_t owner[VD_NAME_MAX]; /* decompressed, case as in the packet */
	size_t owner_len;
	uint16_t type, rclass;
	uint32_t ttl;
	/* rdata with every embedded compressed name decompressed, for the
	 * types whose rdata may be compressed (NS, CNAME, SOA, PTR, MX, MB,
	 * MG, MR, MINFO, RP, AFSDB, RT, PX, SRV, NAPTR's replacement,
	 * DNAME); other types are copied verbatim. */
	uint8_t rdata[65535];
	size_t rdlen;
	size_t wire_off; /* offset of the RR in the packet */
} vd_rr_t;

typedef struct vd_rr_iter {
	const uint8_t *pkt;
	size_t len;
	size_t off;
	unsigned remaining[3]; /* an, ns, ar left */
	int section;
} vd_rr_iter_t;

/* Validates the header and question (QDCOUNT must be 0 or 1) of a
 * response and positions the iterator on the first RR. If qname_out is not
 * NULL the question's name/type/class are stored. Returns 0 or VD_EMALF. */
int vd_rr_iter_init(vd_rr_iter_t *it, const uint8_t *pkt, size_t len,
		    uint8_t *qname_out, uint16_t *qtype_out, uint16_t *qclass_out);
/* Next RR into rr. Returns 1 when an RR was read, 0 at the end (having
 * checked there are no trailing bytes beyond the records), VD_EMALF on any
 * malformation (including an rdata whose embedded names overrun rdlength). */
int vd_rr_iter_next(vd_rr_iter_t *it, vd_rr_t *rr);

/* ---- writer ----------------------------------------------------------- */

#define VD_WCOMP_MAX 64
typedef struct vd_wbuf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* sticky: VD_ESPACE once anything overflowed */
	/* Name compression: offsets of names written with vd_wbuf_name so
	 * later names can point at them (only offsets < 0x4000). */
	uint16_t comp_off[VD_WCOMP_MAX];
	unsigned comp_n;
} vd_wbuf_t;

void vd_wbuf_init(vd_wbuf_t *w, uint8_t *buf, size_t cap);
void vd_wbuf_u8(vd_wbuf_t *w, uint8_t v);
void vd_wbuf_u16(vd_wbuf_t *w, uint16_t v);
void vd_wbuf_u32(vd_wbuf_t *w, uint32_t v);
void vd_wbuf_bytes(vd_wbuf_t *w, const void *p, size_t n);
/* Writes an uncompressed name, using a compression pointer for the longest
 * suffix already written (case-insensitive match) and remembering the new
 * suffixes it wrote. */
void vd_wbuf_name(vd_wbuf_t *w, const uint8_t *name);
/* Writes a name without compression (and does not remember it). */
void vd_wbuf_name_raw(vd_wbuf_t *w, const uint8_t *name);
/* Remembers a name already present at offset off (e.g. the question at 12). */
void vd_wbuf_name_remember(vd_wbuf_t *w, size_t off);
/* Mark / rollback to drop a partially written record. */
typedef struct {
	size_t len;
	unsigned comp_n;
} vd_wbuf_mark_t;
vd_wbuf_mark_t vd_wbuf_mark(const vd_wbuf_t *w);
void vd_wbuf_rollback(vd_wbuf_t *w, vd_wbuf_mark_t m);

/* A reply header + the client's question echoed exactly as sent (qname
 * case kept). flags are the complete flags word to write (QR etc. set by
 * the caller), counts start at qdcount=1 (0 when q has no question) and
 * 0 for the others. The question name is remembered for compression. */
void vd_wbuf_reply_start(vd_wbuf_t *w, const vd_query_msg_t *q, uint16_t flags);
/* Increments the count of section 1..3 in the header already written. */
void vd_wbuf_count_inc(vd_wbuf_t *w, int section);

/* Options for the OPT record we add to replies. */
typedef struct vd_opt_out {
	uint16_t ext_rcode; /* full 12-bit rcode; upper 8 bits go in OPT */
	bool do_bit;
	const uint8_t *nsid;
	size_t nsid_len;      /* NULL: no NSID option */
	int ede_code;	      /* < 0: no EDE option */
	const char *ede_text; /* NULL or UTF-8 extra text */
	const uint8_t *cookie;
	size_t cookie_len; /* NULL: no COOKIE option */
} vd_opt_out_t;
/* Appends our OPT RR (root owner, payload VD_EDNS_ADVERTISE, version 0)
 * to the additional section and increments ARCOUNT. */
void vd_wbuf_opt(vd_wbuf_t *w, const vd_opt_out_t *o);
/* Appends a whole RR: owner compressed, then type/class/ttl/rdlength and
 * rdata as given (rdata names are written verbatim, uncompressed). */
void vd_wbuf_rr(vd_wbuf_t *w, int section, const uint8_t *owner, uint16_t type,
		uint16_t rclass, uint32_t ttl, const uint8_t *rdata, uint16_t rdlen);
