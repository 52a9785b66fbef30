/*
 * fwd TLS: the OpenSSL side of DNS over TLS (RFC 7858, RFC 8310 strict
 * profile). One client context per forwarder, rebuilt when the configured
 * CA bundle changes: TLS 1.2 or later, peer verification required, client
 * sessions handed to us (not kept in OpenSSL's cache) so each server keeps
 * its latest one for resumption. Each connection gets an SSL with two
 * memory BIOs, so libuv does all the socket I/O; the SNI and the name
 * checked in the certificate are the configured name, or, without one,
 * the certificate must carry the server's address as an IP SAN. Failures
 * are logged with OpenSSL's reason once per server until a handshake with
 * it succeeds again, so a broken upstream does not flood the log.
 */
#include "fwd_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "vpcdns/util.h"

/* ---- context --------------------------------------------------------- */

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	fwd_conn_t *c = SSL_get_app_data(ssl);

	/* a session from under another CA bundle is not ours to keep */
	if (!c || c->ctx_gen != c->f->tls_gen)
		return 0;
	if (c->srv->session)
		SSL_SESSION_free(c->srv->session);
	c->srv->session = sess;
	return 1;
}

static SSL_CTX *ctx_build(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ok;

	if (!ctx)
		return NULL;
	ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (ok)
		ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
			     : SSL_CTX_set_default_verify_paths(ctx);
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	return ctx;
}

static bool same_ca(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void drop_sessions(vd_fwd_t *f)
{
	for (size_t i = 0; i < FWD_SERVER_BUCKETS; i++) {
		for (fwd_server_t *s = f->servers[i]; s; s = s->hnext) {
			if (s->session)
				SSL_SESSION_free(s->session);
			s->session = NULL;
		}
	}
}

static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown error";
	ERR_error_string_n(e, buf, len);
	return buf;
}

int vd_fwd_tls_ctx(vd_fwd_t *f, const char *ca_file)
{
	char *copy = NULL;
	SSL_CTX *ctx;
	char why[256];

	if (f->tls_ctx_ready && same_ca(ca_file, f->tls_ca))
		return f->tls_ctx ? 0 : -EPROTO;
	if (ca_file && !(copy = strdup(ca_file)))
		return -ENOMEM;
	ERR_clear_error();
	ctx = ctx_build(ca_file);
	if (!ctx)
		vd_log(VD_LOG_ERR, "TLS upstreams: cannot use CA %s: %s",
		       ca_file ? ca_file : "(system store)",
		       ssl_reason(why, sizeof(why)));
	/* sessions and connections verified under the old CAs are not
	 * trusted under the new ones */
	if (f->tls_ctx_ready) {
		vd_fwd_conn_retire_tls(f);
		drop_sessions(f);
	}
	SSL_CTX_free(f->tls_ctx);
	free(f->tls_ca);
	f->tls_ctx = ctx;
	f->tls_ca = copy;
	f->tls_ctx_ready = true;
	f->tls_gen++;
	return ctx ? 0 : -EPROTO;
}

void vd_fwd_tls_free_ctx(vd_fwd_t *f)
{
	SSL_CTX_free(f->tls_ctx);
	free(f->tls_ca);
	f->tls_ctx = NULL;
	f->tls_ca = NULL;
	f->tls_ctx_ready = false;
}

/* ---- connections ----------------------------------------------------- */

/* SNI and certificate name without a final dot (RFC 6066). */
static int set_name(SSL *ssl, const char *name)
{
	char host[256];
	size_t n = strlen(name);

	if (n >= sizeof(host))
		return 0;
	memcpy(host, name, n + 1);
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set_tlsext_host_name(ssl, host) && SSL_set1_host(ssl, host);
}

static int set_address(SSL *ssl, const struct sockaddr_storage *ss)
{
	X509_VERIFY_PARAM *p = SSL_get0_param(ssl);

	if (ss->ss_family == AF_INET)
		return X509_VERIFY_PARAM_set1_ip(
			p,
			(const unsigned char *)&((const struct sockaddr_in *)ss)
				->sin_addr,
			4);
	return X509_VERIFY_PARAM_set1_ip(
		p, (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr,
		16);
}

int vd_fwd_tls_new(fwd_conn_t *c)
{
	const fwd_server_t *s = c->srv;
	SSL *ssl = SSL_new(c->f->tls_ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int ok;

	if (!ssl || !rb || !wb) {
		SSL_free(ssl);
		BIO_free(rb);
		BIO_free(wb);
		return -ENOMEM;
	}
	/* an empty read BIO means "wait for more", not end of stream */
	BIO_set_mem_eof_return(rb, -1);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	SSL_set_app_data(ssl, c);
	ok = s->tls_name ? set_name(ssl, s->tls_name) : set_address(ssl, &s->addr);
	if (ok && s->session)
		ok = SSL_set_session(ssl, s->session);
	if (!ok) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	c->ssl = ssl;
	c->rbio = rb;
	c->wbio = wb;
	c->ctx_gen = c->f->tls_gen;
	return 0;
}

static void tls_failed(fwd_conn_t *c, const char *reason)
{
	fwd_server_t *s = c->srv;

	c->f->stats.tls_failures++;
	if (s->tls_logged)
		return;
	s->tls_logged = true;
	vd_log(VD_LOG_WARN, "upstream %s: TLS handshake failed: %s", s->label, reason);
}

void vd_fwd_tls_closed(fwd_conn_t *c)
{
	tls_failed(c, "connection closed by the server");
}

int vd_fwd_tls_handshake(fwd_conn_t *c)
{
	char why[256];
	const char *reason = why;
	long v;
	int rc, e;

	ERR_clear_error();
	rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->srv->tls_logged = false;
		if (SSL_session_reused(c->ssl))
			c->f->stats.tls_resumed++;
		return 1;
	}
	e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	v = SSL_get_verify_result(c->ssl);
	if (v != X509_V_OK)
		snprintf(why, sizeof(why), "certificate verification: %s",
			 X509_verify_cert_error_string(v));
	else
		reason = ssl_reason(why, sizeof(why));
	tls_failed(c, reason);
	return -EPROTO;
}

int vd_fwd_tls_write(fwd_conn_t *c, const uint8_t *p, size_t len)
{
	ERR_clear_error();
	if (SSL_write(c->ssl, p, (int)len) == (int)len)
		return 0;
	c->tls_error = true;
	return -EPROTO;
}

void vd_fwd_tls_notify_close(fwd_conn_t *c)
{
	ERR_clear_error();
	if (SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}

void vd_fwd_tls_end(fwd_conn_t *c)
{
	if (c->established && !c->tls_error)
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}
