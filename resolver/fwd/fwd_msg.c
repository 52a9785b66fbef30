/*
 * fwd messages: builds the query sent upstream (random ID, RD/CD from the
 * client, the question as given, an OPT RR with our payload size and the
 * client's DO bit) and decides whether a packet that arrived is the answer
 * to it. Acceptance is strict because this is the spoofing boundary: the ID,
 * QR, opcode and question must match, and every record must parse, before
 * anything reaches the cache or a client. With 0x20 (draft-vixie-dnsext-
 * dns0x20, on unless the group turns it off) each attempt also flips the
 * case of every letter of the name at random, and the reply's question
 * must repeat it byte for byte: an off-path forger then has to guess one
 * more bit per letter on top of the ID and the source port.
 */
#include "fwd_int.h"

#include <string.h>

#include "vpcdns/util.h"

#define EDNS_DO 0x8000u

size_t vd_fwd_name_check(const uint8_t *name)
{
	size_t len = 0;

	for (;;) {
		uint8_t l = name[len];

		if (l == 0)
			return len + 1;
		/* a label must leave room for the final zero byte */
		if (l > VD_LABEL_MAX || len + 1 + l >= VD_NAME_MAX)
			return 0;
		len += 1 + (size_t)l;
	}
}

/* Gives each ASCII letter of r->qname a random case, into r->sent_qname. */
static void case_randomise(fwd_req_t *r)
{
	uint8_t bits[VD_NAME_MAX / 8 + 1];
	size_t i = 0, nbit = 0;

	vd_rand_bytes(bits, sizeof(bits));
	while (r->qname[i] != 0) {
		size_t end = i + 1 + r->qname[i];

		r->sent_qname[i] = r->qname[i];
		for (i++; i < end; i++) {
			uint8_t c = r->qname[i];

			if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
				bool up = (bits[nbit / 8] >> (nbit % 8)) & 1;

				c = up ? (uint8_t)(c & ~0x20) : (uint8_t)(c | 0x20);
				nbit++;
			}
			r->sent_qname[i] = c;
		}
	}
	r->sent_qname[i] = 0;
}

void vd_fwd_msg_build(fwd_req_t *r)
{
	uint8_t *p = r->query;
	uint16_t flags = (uint16_t)((r->rd ? VD_F_RD : 0) | (r->cd ? VD_F_CD : 0));
	size_t off = VD_HDR_LEN;

	r->id = vd_rand_u16();
	vd_set16(p, r->id);
	vd_set16(p + 2, flags);
	vd_set16(p + 4, 1);
	vd_set16(p + 6, 0);
	vd_set16(p + 8, 0);
	vd_set16(p + 10, r->edns ? 1 : 0);
	if (r->use_0x20)
		case_randomise(r);
	else
		memcpy(r->sent_qname, r->qname, r->qname_len);
	memcpy(p + off, r->sent_qname, r->qname_len);
	off += r->qname_len;
	vd_set16(p + off, r->qtype);
	vd_set16(p + off + 2, r->qclass);
	off += 4;
	if (r->edns) {
		p[off] = 0; /* root owner */
		vd_set16(p + off + 1, VD_T_OPT);
		vd_set16(p + off + 3, VD_EDNS_ADVERTISE);
		vd_set32(p + off + 5, r->do_bit ? EDNS_DO : 0);
		vd_set16(p + off + 9, 0);
		off += 11;
	}
	r->qlen = off;
}

static bool question_matches(const fwd_req_t *r, const uint8_t *p, const uint8_t *qname,
			     uint16_t qtype, uint16_t qclass)
{
	/* Some servers drop the question from FORMERR replies; the ID and
	 * source still tie such a reply to our query. */
	if (vd_hdr_qdcount(p) == 0)
		return VD_F_RCODE(vd_hdr_flags(p)) == VD_RCODE_FORMERR;
	if (qtype != r->qtype || qclass != r->qclass)
		return false;
	if (r->use_0x20)
		return memcmp(qname, r->sent_qname, r->qname_len) == 0;
	return vd_name_equal(qname, r->qname);
}

enum fwd_verdict vd_fwd_msg_check(fwd_req_t *r, const uint8_t *p, size_t len)
{
	vd_rr_iter_t it;
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype = 0, qclass = 0, flags;
	int rc;

	if (len < VD_HDR_LEN)
		return FWD_RESP_MALFORMED;
	flags = vd_hdr_flags(p);
	if (vd_hdr_id(p) != r->id || !(flags & VD_F_QR) ||
	    VD_F_OPCODE(flags) != VD_OPCODE_QUERY)
		return FWD_RESP_MISMATCH;
	qname[0] = 0;
	if (vd_rr_iter_init(&it, p, len, qname, &qtype, &qclass) < 0)
		return FWD_RESP_MALFORMED;
	if (!question_matches(r, p, qname, qtype, qclass))
		return FWD_RESP_MISMATCH;
	while ((rc = vd_rr_iter_next(&it, &r->f->rr)) == 1)
		;
	return rc == 0 ? FWD_RESP_OK : FWD_RESP_MALFORMED;
}

/* ---- scrubbing ----------------------------------------------------------
 *
 * Unbound's scrubber (iterator/iter_scrub.c) is the model, adapted to a
 * forwarder, which asks a recursive server and never follows referrals:
 *
 * - answer: records of the question's class owned by the question name or
 *   a name its CNAME chain leads to (followed in whatever order the
 *   records come, up to FWD_SCRUB_CHAIN names; not for qtype CNAME or
 *   ANY), of the question's type, CNAME or RRSIG; DNAME records (and
 *   their RRSIGs) owned by an ancestor of a chain name.
 * - authority: NS, SOA and DS owned by a chain name or one of its
 *   ancestors (the zones the answer comes from; not the forward rule's
 *   name, since a rule need not sit at a zone cut and a negative answer's
 *   SOA may be above it); NSEC, NSEC3 and RRSIG within one of the zones
 *   of the SOA and NS records kept (anywhere when none is: a "." rule's
 *   bailiwick, as Unbound has for forwarders).
 * - additional: A, AAAA and their RRSIGs owned by a target of an NS, MX
 *   or SRV record kept; the upstream's OPT.
 *
 * Everything else goes, counted. The cache stores only what is left, so
 * a record about another name never reaches a client or the cache.
 */

#define T_NSEC3 50
#define T_TSIG 250

static bool in_list(const uint8_t (*names)[VD_NAME_MAX], unsigned n,
		    const uint8_t *name)
{
	for (unsigned i = 0; i < n; i++)
		if (vd_name_equal(names[i], name))
			return true;
	return false;
}

static void add_name(uint8_t (*names)[VD_NAME_MAX], unsigned *n, unsigned max,
		     const uint8_t *name)
{
	if (*n < max && !in_list((const uint8_t(*)[VD_NAME_MAX])names, *n, name)) {
		memcpy(names[*n], name, vd_name_len(name));
		(*n)++;
	}
}

/* Whether some chain name equals name or lies below it. */
static bool chain_under(const fwd_scrub_t *s, const uint8_t *name, bool proper)
{
	for (unsigned i = 0; i < s->nchain; i++)
		if (vd_name_is_subdomain(s->chain[i], name) &&
		    !(proper && vd_name_equal(s->chain[i], name)))
			return true;
	return false;
}

static bool in_zones(const fwd_scrub_t *s, const uint8_t *name)
{
	if (s->nzones == 0)
		return true;
	for (unsigned i = 0; i < s->nzones; i++)
		if (vd_name_is_subdomain(name, s->zones[i]))
			return true;
	return false;
}

/* The name in an NS, MX or SRV record's (decompressed) rdata, or NULL. */
static const uint8_t *target_of(const vd_rr_t *rr)
{
	size_t skip = rr->type == VD_T_NS    ? 0
		      : rr->type == VD_T_MX  ? 2
		      : rr->type == VD_T_SRV ? 6
					     : SIZE_MAX;

	return skip < rr->rdlen ? rr->rdata + skip : NULL;
}

/* Follows the CNAME chain from the question name through the answer
 * section, whatever the order of its records. */
static void follow_chain(fwd_req_t *r, const uint8_t *p, size_t len)
{
	fwd_scrub_t *s = &r->f->scrub;
	vd_rr_t *rr = &r->f->rr;
	vd_rr_iter_t it;
	bool found = true;

	memcpy(s->chain[0], r->qname, r->qname_len);
	s->nchain = 1;
	if (r->qtype == VD_T_CNAME || r->qtype == VD_T_ANY)
		return;
	while (found && s->nchain < FWD_SCRUB_CHAIN) {
		found = false;
		vd_rr_iter_init(&it, p, len, NULL, NULL, NULL);
		while (vd_rr_iter_next(&it, rr) == 1 && rr->section == 1) {
			if (rr->type != VD_T_CNAME || rr->rclass != r->qclass ||
			    !vd_name_equal(rr->owner, s->chain[s->nchain - 1]) ||
			    in_list((const uint8_t(*)[VD_NAME_MAX])s->chain, s->nchain,
				    rr->rdata))
				continue;
			memcpy(s->chain[s->nchain++], rr->rdata,
			       vd_name_len(rr->rdata));
			found = true;
			break;
		}
	}
}

static bool keep_answer(fwd_req_t *r, const vd_rr_t *rr)
{
	fwd_scrub_t *s = &r->f->scrub;

	if (rr->rclass != r->qclass)
		return false;
	if (in_list((const uint8_t(*)[VD_NAME_MAX])s->chain, s->nchain, rr->owner))
		return rr->type == r->qtype || r->qtype == VD_T_ANY ||
		       rr->type == VD_T_CNAME || rr->type == VD_T_RRSIG;
	return (rr->type == VD_T_DNAME || rr->type == VD_T_RRSIG) &&
	       chain_under(s, rr->owner, true);
}

/* First pass over authority: the records that name zones. */
static bool keep_zone_record(fwd_req_t *r, const vd_rr_t *rr)
{
	return rr->rclass == r->qclass &&
	       (rr->type == VD_T_NS || rr->type == VD_T_SOA || rr->type == VD_T_DS) &&
	       chain_under(&r->f->scrub, rr->owner, false);
}

/* Second pass: DNSSEC records of authority, and additional. */
static bool keep_late(fwd_req_t *r, const vd_rr_t *rr)
{
	fwd_scrub_t *s = &r->f->scrub;

	if (rr->section == 3 && rr->type == VD_T_OPT)
		return true;
	if (rr->rclass != r->qclass)
		return false;
	if (rr->section == 2)
		return (rr->type == VD_T_NSEC || rr->type == T_NSEC3 ||
			rr->type == VD_T_RRSIG) &&
		       in_zones(s, rr->owner);
	return (rr->type == VD_T_A || rr->type == VD_T_AAAA ||
		rr->type == VD_T_RRSIG) &&
	       in_list((const uint8_t(*)[VD_NAME_MAX])s->targets, s->ntargets,
		       rr->owner);
}

/* Marks s->keep[] for every record; returns how many go. */
static unsigned judge(fwd_req_t *r, const uint8_t *p, size_t len)
{
	fwd_scrub_t *s = &r->f->scrub;
	vd_rr_t *rr = &r->f->rr;
	vd_rr_iter_t it;
	unsigned i, dropped = 0;
	const uint8_t *t;

	s->nzones = s->ntargets = 0;
	vd_rr_iter_init(&it, p, len, NULL, NULL, NULL);
	for (i = 0; vd_rr_iter_next(&it, rr) == 1; i++) {
		bool k = false;

		if (rr->section == 1)
			k = keep_answer(r, rr);
		else if (rr->section == 2)
			k = keep_zone_record(r, rr);
		s->keep[i] = k;
		if (k && rr->section == 2 && rr->type != VD_T_DS)
			add_name(s->zones, &s->nzones, FWD_SCRUB_ZONES, rr->owner);
		if (k && (t = target_of(rr)) != NULL)
			add_name(s->targets, &s->ntargets, FWD_SCRUB_TARGETS, t);
	}
	vd_rr_iter_init(&it, p, len, NULL, NULL, NULL);
	for (i = 0; vd_rr_iter_next(&it, rr) == 1; i++) {
		if (!s->keep[i] && rr->section != 1 && keep_late(r, rr))
			s->keep[i] = true;
		dropped += !s->keep[i];
	}
	return dropped;
}

/* The message again, with only the records kept: header and question,
 * then each record with its owner compressed against what came before
 * and its rdata names written whole. One that no longer fits in 64 KiB
 * (the upstream's compression was better than ours) goes out as header
 * and question with TC set, so the client asks again over TCP. */
static size_t rewrite(fwd_req_t *r, const uint8_t *p, size_t len)
{
	fwd_scrub_t *s = &r->f->scrub;
	vd_rr_t *rr = &r->f->rr;
	uint8_t qname[VD_NAME_MAX];
	uint16_t qtype, qclass;
	vd_rr_iter_t it;
	vd_wbuf_t w;
	unsigned i;

	vd_rr_iter_init(&it, p, len, qname, &qtype, &qclass);
	vd_wbuf_init(&w, s->out, sizeof(s->out));
	vd_wbuf_bytes(&w, p, 6);
	vd_wbuf_bytes(&w, "\0\0\0\0\0\0", 6);
	if (vd_hdr_qdcount(p) == 1) {
		vd_wbuf_name(&w, qname);
		vd_wbuf_u16(&w, qtype);
		vd_wbuf_u16(&w, qclass);
	}
	vd_wbuf_mark_t q_end = vd_wbuf_mark(&w);
	for (i = 0; vd_rr_iter_next(&it, rr) == 1; i++)
		if (s->keep[i])
			vd_wbuf_rr(&w, rr->section, rr->owner, rr->type, rr->rclass,
				   rr->ttl, rr->rdata, (uint16_t)rr->rdlen);
	if (w.err) {
		w.err = 0;
		vd_wbuf_rollback(&w, q_end);
		vd_set16(s->out + 2, (uint16_t)(vd_hdr_flags(p) | VD_F_TC));
		vd_set16(s->out + 6, 0);
		vd_set16(s->out + 8, 0);
		vd_set16(s->out + 10, 0);
	}
	return w.len;
}

void vd_fwd_msg_scrub(fwd_req_t *r, const uint8_t *p, size_t len, const uint8_t **out,
		      size_t *outlen)
{
	unsigned nrr =
		(unsigned)vd_hdr_ancount(p) + vd_hdr_nscount(p) + vd_hdr_arcount(p);
	unsigned dropped;

	*out = p;
	*outlen = len;
	/* Only messages vd_fwd_msg_check accepted get here, so each of those
	 * records parses; one claiming more than fit in 64 KiB cannot. */
	if (nrr == 0 || nrr > FWD_SCRUB_RRS)
		return;
	follow_chain(r, p, len);
	dropped = judge(r, p, len);
	if (dropped == 0)
		return;
	r->f->stats.scrubbed += dropped;
	*outlen = rewrite(r, p, len);
	*out = r->f->scrub.out;
}
