/*
 * Unit tests for fwd's DNS over TLS: a throw-away CA and server
 * certificates are made in-process with OpenSSL, and a small TLS DNS
 * server runs in threads on loopback sockets (blocking OpenSSL, one thread
 * per connection), counting connections, handshakes, resumed sessions and
 * queries. The forwarder runs on a libuv loop in the test thread. Covered:
 * a valid certificate by name and by address, wrong names, wrong
 * addresses, untrusted CAs and servers that hang up (each a network error
 * with failover), connection reuse and pipelining, session resumption when
 * re-dialling (TLS 1.3 tickets and TLS 1.2 sessions), a CA change that
 * stops old connections and sessions from being used, and TLS 1.2 as the
 * lowest version offered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fwd_int.h"
#include "vpcdns/fwd.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

#define MAXCONN 16
#define NAME "dns.test"

static const uint8_t QNAME[] = "\3www\4Test\0";

/* ---- certificates ------------------------------------------------------ */

typedef struct pki {
	EVP_PKEY *ca_key, *other_ca_key, *key;
	X509 *ca, *other_ca;
	X509 *by_name; /* CN/SAN dns.test and IP 127.0.0.1 */
	char dir[64];
	char ca_path[128], ca_copy[128], other_path[128];
} pki_t;

static pki_t g_pki;

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* issuer NULL: self-signed CA. */
static X509 *cert_new(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
		      const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *n;
	X509V3_CTX v3;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
				   -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints,
		issuer ? "CA:FALSE" : "critical,CA:TRUE");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	if (!issuer)
		add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	else
		add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	if (san)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void pem_write(const char *path, X509 *x)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(PEM_write_X509(fp, x), 1);
	assert_int_equal(fclose(fp), 0);
}

static int pki_setup(void **state)
{
	pki_t *p = &g_pki;

	(void)state;
	strcpy(p->dir, "/tmp/vdtls-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	p->ca_key = EVP_EC_gen("P-256");
	p->other_ca_key = EVP_EC_gen("P-256");
	p->key = EVP_EC_gen("P-256");
	assert_true(p->ca_key && p->other_ca_key && p->key);
	p->ca = cert_new(p->ca_key, "vpcdns test CA", NULL, NULL, NULL);
	p->other_ca = cert_new(p->other_ca_key, "vpcdns other CA", NULL, NULL, NULL);
	p->by_name =
		cert_new(p->key, NAME, p->ca, p->ca_key, "DNS:" NAME ",IP:127.0.0.1");
	snprintf(p->ca_path, sizeof(p->ca_path), "%s/ca.pem", p->dir);
	snprintf(p->ca_copy, sizeof(p->ca_copy), "%s/ca-copy.pem", p->dir);
	snprintf(p->other_path, sizeof(p->other_path), "%s/other.pem", p->dir);
	pem_write(p->ca_path, p->ca);
	pem_write(p->ca_copy, p->ca);
	pem_write(p->other_path, p->other_ca);
	return 0;
}

static int pki_teardown(void **state)
{
	pki_t *p = &g_pki;

	(void)state;
	unlink(p->ca_path);
	unlink(p->ca_copy);
	unlink(p->other_path);
	rmdir(p->dir);
	X509_free(p->ca);
	X509_free(p->other_ca);
	X509_free(p->by_name);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->other_ca_key);
	EVP_PKEY_free(p->key);
	return 0;
}

/* ---- TLS DNS server (threads, blocking OpenSSL) ------------------------ */

typedef struct tls_srv {
	int lfd;
	struct sockaddr_storage addr;
	SSL_CTX *ctx;
	bool no_tls;	 /* accept, then close at once */
	bool mute;	 /* accept, then never say a word */
	int close_after; /* answers per connection; 0: no limit */
	pthread_t thread;
	pthread_t conn_threads[MAXCONN];
	int nconn_threads;
	atomic_bool stop;
	atomic_int accepted, handshakes, resumed, failed, queries;
	atomic_int version; /* of the last handshake */
} tls_srv_t;

typedef struct conn_arg {
	tls_srv_t *s;
	int fd;
} conn_arg_t;

/* Reads n bytes; false at EOF, on errors and when stopping. */
static bool ssl_read_full(tls_srv_t *s, SSL *ssl, uint8_t *buf, size_t n)
{
	size_t have = 0;

	while (have < n) {
		int r = SSL_read(ssl, buf + have, (int)(n - have));

		if (r > 0) {
			have += (size_t)r;
			continue;
		}
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ ||
		    atomic_load(&s->stop))
			return false;
	}
	return true;
}

/* The question with one A record (127.0.0.53), no OPT. */
static size_t make_answer(const uint8_t *q, size_t qlen, uint8_t *out)
{
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0,   1, 0, 0,
				      0,    60, 0, 4, 127, 0, 0, 53 };
	size_t off = VD_HDR_LEN;

	while (off < qlen && q[off])
		off += (size_t)q[off] + 1;
	off += 1 + 4;
	memcpy(out, q, off);
	vd_set16(out + 2, (uint16_t)(VD_F_QR | VD_F_RA | (vd_get16(q + 2) & VD_F_RD)));
	vd_set16(out + 6, 1);
	vd_set16(out + 8, 0);
	vd_set16(out + 10, 0);
	memcpy(out + off, rr, sizeof(rr));
	return off + sizeof(rr);
}

static bool ssl_accept_loop(tls_srv_t *s, SSL *ssl)
{
	for (;;) {
		int r = SSL_accept(ssl);

		if (r == 1)
			return true;
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ ||
		    atomic_load(&s->stop))
			return false;
	}
}

static void serve(tls_srv_t *s, SSL *ssl)
{
	uint8_t in[1024], out[1100];
	int answered = 0;

	for (;;) {
		size_t n, m;

		if (!ssl_read_full(s, ssl, in, 2))
			return;
		n = vd_get16(in);
		if (n > sizeof(in) - 2 || !ssl_read_full(s, ssl, in + 2, n))
			return;
		atomic_fetch_add(&s->queries, 1);
		m = make_answer(in + 2, n, out + 2);
		vd_set16(out, (uint16_t)m);
		if (SSL_write(ssl, out, (int)m + 2) != (int)m + 2)
			return;
		if (s->close_after && ++answered >= s->close_after)
			return;
	}
}

static void *conn_main(void *arg)
{
	conn_arg_t *a = arg;
	tls_srv_t *s = a->s;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 50000 };
	SSL *ssl = SSL_new(s->ctx);

	setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (s->mute && !atomic_load(&s->stop))
		usleep(10000);
	SSL_set_fd(ssl, a->fd);
	if (!ssl_accept_loop(s, ssl)) {
		atomic_fetch_add(&s->failed, 1);
		goto out;
	}
	atomic_fetch_add(&s->handshakes, 1);
	atomic_store(&s->version, SSL_version(ssl));
	if (SSL_session_reused(ssl))
		atomic_fetch_add(&s->resumed, 1);
	serve(s, ssl);
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(a->fd);
	free(a);
	ERR_clear_error();
	return NULL;
}

static void *accept_main(void *arg)
{
	tls_srv_t *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		conn_arg_t *a;
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		if (s->no_tls || s->nconn_threads == MAXCONN) {
			close(fd);
			continue;
		}
		a = malloc(sizeof(*a));
		a->s = s;
		a->fd = fd;
		pthread_create(&s->conn_threads[s->nconn_threads++], NULL, conn_main,
			       a);
	}
	for (int i = 0; i < s->nconn_threads; i++)
		pthread_join(s->conn_threads[i], NULL);
	return NULL;
}

static SSL_CTX *server_ctx(X509 *cert, int max_version)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, g_pki.key), 1);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"vdtest", 6);
	if (max_version)
		SSL_CTX_set_max_proto_version(ctx, max_version);
	return ctx;
}

/* Listens on ip, port chosen by the kernel. */
static void srv_start(tls_srv_t *s, const char *ip, int max_version)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int one = 1;

	s->ctx = server_ctx(g_pki.by_name, max_version);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &len), 0);
	memset(&s->addr, 0, sizeof(s->addr));
	memcpy(&s->addr, &sin, sizeof(sin));
	assert_int_equal(pthread_create(&s->thread, NULL, accept_main, s), 0);
}

static void srv_stop(tls_srv_t *s)
{
	if (!s->ctx)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* ---- environment ------------------------------------------------------- */

typedef struct result {
	int calls, status, ede;
	uint8_t resp[1024];
	size_t len;
} result_t;

typedef struct env {
	uv_loop_t loop;
	uv_timer_t tick;
	vd_fwd_t *f;
	int close_calls;
	tls_srv_t srv[2];
	vd_upstream_t ups[2];
	vd_group_t group;
	const char *ca;
} env_t;

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

static int env_setup(void **state)
{
	env_t *e = test_calloc(1, sizeof(*e));

	assert_int_equal(uv_loop_init(&e->loop), 0);
	assert_int_equal(uv_timer_init(&e->loop, &e->tick), 0);
	assert_int_equal(uv_timer_start(&e->tick, tick_cb, 10, 10), 0);
	e->f = vd_fwd_new(&e->loop);
	assert_non_null(e->f);
	e->f->explore_permille = 0;
	e->group.name = "tls";
	e->group.servers = e->ups;
	e->ca = g_pki.ca_path;
	*state = e;
	return 0;
}

static void fwd_closed(void *arg)
{
	((env_t *)arg)->close_calls++;
}

static int env_teardown(void **state)
{
	env_t *e = *state;

	vd_fwd_close(e->f, fwd_closed, e);
	uv_close((uv_handle_t *)&e->tick, NULL);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_int_equal(e->close_calls, 1);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	srv_stop(&e->srv[0]);
	srv_stop(&e->srv[1]);
	test_free(e);
	return 0;
}

/* Server i of the group, answering at ip, verified by name (NULL: by
 * address). */
static tls_srv_t *add_server(env_t *e, int i, const char *ip, const char *name,
			     int max_version)
{
	srv_start(&e->srv[i], ip, max_version);
	e->ups[i].addr = e->srv[i].addr;
	e->ups[i].tls = true;
	e->ups[i].tls_name = name;
	e->ups[i].text = "tls-test";
	e->group.nservers = (size_t)i + 1;
	return &e->srv[i];
}

static void on_result(void *arg, int status, int ede, const uint8_t *resp, size_t len)
{
	result_t *res = arg;

	res->calls++;
	res->status = status;
	res->ede = ede;
	res->len = len;
	if (resp && len <= sizeof(res->resp))
		memcpy(res->resp, resp, len);
}

static vd_fwd_query_t make_query(env_t *e)
{
	vd_fwd_query_t q = {
		.group = &e->group,
		.qname = QNAME,
		.qtype = VD_T_A,
		.qclass = VD_C_IN,
		.rd = true,
		.timeout_ms = 2000,
		.query_timeout_ms = 4000,
		.tls_ca_file = e->ca,
	};
	return q;
}

static void run_until(env_t *e, bool (*done)(env_t *, void *), void *arg)
{
	uint64_t end = vd_now_ms() + 8000;

	while (!done(e, arg) && vd_now_ms() < end)
		uv_run(&e->loop, UV_RUN_ONCE);
	assert_true(done(e, arg));
}

static bool called(env_t *e, void *arg)
{
	(void)e;
	return ((result_t *)arg)->calls > 0;
}

static bool no_conns(env_t *e, void *arg)
{
	(void)arg;
	return e->f->nconns == 0;
}

static void ask(env_t *e, result_t *res)
{
	vd_fwd_query_t q = make_query(e);

	memset(res, 0, sizeof(*res));
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, res), 0);
	assert_int_equal(res->calls, 0);
	run_until(e, called, res);
}

static void assert_answered(const result_t *res)
{
	assert_int_equal(res->status, 0);
	assert_int_equal(VD_F_RCODE(vd_hdr_flags(res->resp)), VD_RCODE_NOERROR);
	assert_int_equal(vd_hdr_ancount(res->resp), 1);
	assert_int_equal(res->resp[res->len - 1], 53);
}

static void assert_tls_refused(env_t *e, const result_t *res)
{
	assert_int_equal(res->status, -EPROTO);
	assert_int_equal(res->ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(vd_fwd_stats(e->f)->tls_failures, 1);
	assert_int_equal(vd_fwd_stats(e->f)->sent_tls, 0);
}

/* ---- tests ------------------------------------------------------------- */

static void test_invalid_args(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	/* a CA file that cannot be read fails every TLS attempt */
	e->ca = "/nonexistent/ca.pem";
	ask(e, &res);
	assert_int_equal(res.status, -EPROTO);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 0);
	/* a server fwd cannot reach over TLS */
	e->ca = g_pki.ca_path;
	e->ups[0].addr.ss_family = AF_UNIX;
	ask(e, &res);
	assert_int_equal(res.status, UV_EAFNOSUPPORT);
	assert_int_equal(vd_fwd_stats(e->f)->conn_opened, 0);
}

static void test_answer_by_name(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(st->sent_tls, 1);
	assert_int_equal(st->sent_udp + st->sent_tcp, 0);
	assert_int_equal(st->conn_opened, 1);
	assert_int_equal(atomic_load(&e->srv[0].handshakes), 1);
	assert_int_equal(atomic_load(&e->srv[0].version), TLS1_3_VERSION);
	/* never below TLS 1.2 */
	assert_int_equal(SSL_CTX_get_min_proto_version(e->f->tls_ctx), TLS1_2_VERSION);
}

/* A trailing dot in the name is not part of SNI or the check. */
static void test_name_with_final_dot(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME ".", 0);
	ask(e, &res);
	assert_answered(&res);
}

static void test_answer_by_address(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", NULL, 0);
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(vd_fwd_stats(e->f)->tls_failures, 0);
}

static void test_wrong_name_refused(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", "other.test", 0);
	ask(e, &res);
	assert_tls_refused(e, &res);
	assert_int_equal(atomic_load(&e->srv[0].queries), 0);
	assert_int_equal(atomic_load(&e->srv[0].handshakes), 0);
}

/* The certificate has no SAN for 127.0.0.2. */
static void test_wrong_address_refused(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.2", NULL, 0);
	ask(e, &res);
	assert_tls_refused(e, &res);
	assert_int_equal(atomic_load(&e->srv[0].queries), 0);
}

static void test_untrusted_ca_refused(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	e->ca = g_pki.other_path;
	ask(e, &res);
	assert_tls_refused(e, &res);
}

/* The system store does not know the test CA either. */
static void test_system_store_refuses_test_ca(void **state)
{
	env_t *e = *state;
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	e->ca = NULL;
	ask(e, &res);
	assert_tls_refused(e, &res);
}

/* A server that hangs up before any handshake. */
static void test_hangup_in_handshake(void **state)
{
	env_t *e = *state;
	result_t res;

	e->srv[0].no_tls = true;
	add_server(e, 0, "127.0.0.1", NAME, 0);
	ask(e, &res);
	/* EOF, or a reset when our ClientHello was still unread */
	assert_true(res.status == UV_EOF || res.status == UV_ECONNRESET);
	assert_int_equal(res.ede, VD_EDE_NETWORK_ERROR);
	assert_int_equal(vd_fwd_stats(e->f)->tls_failures, 1);
}

/* A server that accepts and never answers the handshake: the query times
 * out, and the connection nobody waits for any more is given up. */
static void test_mute_server(void **state)
{
	env_t *e = *state;
	vd_fwd_query_t q;
	result_t res = { 0 };

	e->srv[0].mute = true;
	add_server(e, 0, "127.0.0.1", NAME, 0);
	q = make_query(e);
	q.timeout_ms = 200;
	assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res), 0);
	run_until(e, called, &res);
	assert_int_equal(res.status, VD_ETIMEOUT);
	assert_int_equal(res.ede, VD_EDE_NO_REACHABLE_AUTHORITY);
	assert_int_equal(vd_fwd_stats(e->f)->timeouts, 1);
	assert_int_equal(vd_fwd_stats(e->f)->sent_tls, 0);
	run_until(e, no_conns, NULL);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 1);
}

/* The first server's name is wrong: the second one answers, and the
 * first is left alone afterwards (backed off). */
static void test_failover_from_bad_certificate(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_server(e, 0, "127.0.0.1", "other.test", 0);
	add_server(e, 1, "127.0.0.1", NAME, 0);
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(st->net_errors, 1);
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(st->tls_failures, 1);
	assert_int_equal(st->failovers, 1);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 1);
	assert_int_equal(atomic_load(&e->srv[1].accepted), 1);
}

/* Several queries at once and one after another: one connection. */
static void test_reuse_and_pipelining(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	vd_fwd_query_t q;
	result_t res[4];
	int i;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	q = make_query(e);
	memset(res, 0, sizeof(res));
	for (i = 0; i < 4; i++)
		assert_int_equal(vd_fwd_submit(e->f, &q, on_result, &res[i]), 0);
	for (i = 0; i < 4; i++)
		run_until(e, called, &res[i]);
	for (i = 0; i < 4; i++)
		assert_answered(&res[i]);
	ask(e, &res[0]);
	assert_answered(&res[0]);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 1);
	assert_int_equal(atomic_load(&e->srv[0].queries), 5);
	assert_int_equal(st->conn_opened, 1);
	assert_int_equal(st->conn_reused, 4);
	assert_int_equal(st->sent_tls, 5);
}

/* The forwarder's entry for the group's first server. */
static fwd_server_t *server_of(env_t *e)
{
	for (size_t i = 0; i < FWD_SERVER_BUCKETS; i++)
		for (fwd_server_t *s = e->f->servers[i]; s; s = s->hnext)
			if (vd_addr_equal((struct sockaddr *)&s->addr,
					  (struct sockaddr *)&e->ups[0].addr))
				return s;
	return NULL;
}

static bool resumed_server(env_t *e, void *arg)
{
	(void)arg;
	return atomic_load(&e->srv[0].handshakes) >= 2;
}

/* The server closes after every answer: the next query re-dials and
 * resumes the session (TLS 1.3 ticket, or TLS 1.2 session). */
static void check_resumption(env_t *e, int max_version)
{
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, max_version);
	e->srv[0].close_after = 1;
	ask(e, &res);
	assert_answered(&res);
	run_until(e, no_conns, NULL);
	assert_non_null(server_of(e));
	assert_non_null(server_of(e)->session);
	ask(e, &res);
	assert_answered(&res);
	run_until(e, resumed_server, NULL);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 2);
	assert_int_equal(atomic_load(&e->srv[0].resumed), 1);
	assert_int_equal(st->tls_resumed, 1);
	assert_int_equal(st->conn_opened, 2);
	if (max_version)
		assert_int_equal(atomic_load(&e->srv[0].version), max_version);
}

static void test_session_resumed_tls13(void **state)
{
	check_resumption(*state, 0);
}

static void test_session_resumed_tls12(void **state)
{
	check_resumption(*state, TLS1_2_VERSION);
}

/* Another CA file: the open connection and the saved session were
 * verified under the old one, so neither is used. */
static void test_ca_change(void **state)
{
	env_t *e = *state;
	const vd_fwd_stats_t *st = vd_fwd_stats(e->f);
	result_t res;

	add_server(e, 0, "127.0.0.1", NAME, 0);
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(e->f->nconns, 1);
	e->ca = g_pki.ca_copy;
	ask(e, &res);
	assert_answered(&res);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 2);
	assert_int_equal(atomic_load(&e->srv[0].resumed), 0);
	assert_int_equal(st->tls_resumed, 0);
	assert_int_equal(st->conn_opened, 2);
	/* the old connection is gone, the new one stays */
	assert_int_equal(e->f->nconns, 1);
	/* and the same CA again keeps the connection */
	ask(e, &res);
	assert_int_equal(atomic_load(&e->srv[0].accepted), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
		T(test_invalid_args),
		T(test_answer_by_name),
		T(test_name_with_final_dot),
		T(test_answer_by_address),
		T(test_wrong_name_refused),
		T(test_wrong_address_refused),
		T(test_untrusted_ca_refused),
		T(test_system_store_refuses_test_ca),
		T(test_hangup_in_handshake),
		T(test_mute_server),
		T(test_failover_from_bad_certificate),
		T(test_reuse_and_pipelining),
		T(test_session_resumed_tls13),
		T(test_session_resumed_tls12),
		T(test_ca_change),
#undef T
	};

	/* writes to a peer that hung up fail with EPIPE, as in the daemon */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
