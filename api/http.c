#include "api/http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/guard.h"
#include "common/atomicfile.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define EVICT_HEADROOM 32 /* connections per API thread, above max_connections: see http_start */
#define PEM_MAX (1024 * 1024) /* a certificate chain is a few KiB; this only guards memory */

/* Status buckets for the request counters: the ones this API answers, plus "other". */
static const unsigned status_buckets[] = {200, 201, 400, 401, 403, 404, 405, 409, 413, 415, 500};
#define NBUCKETS (sizeof(status_buckets) / sizeof(status_buckets[0]) + 1)

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_config conf;
	const struct http_route *routes;
	size_t route_count;
	void *ctx;
	char *pem_cert;
	char *pem_key;
	size_t pem_key_len;
	_Atomic uint64_t (*counts)[NBUCKETS]; /* route_count + 1 rows; the last is "no route" */
	_Atomic uint64_t auth_failures;
	guard_t *guard; /* header deadlines and eviction of pending connections */
};

/* Per-request state, from the headers to the response. */
struct req_state {
	struct http_request req;
	int route; /* index, or -1 */
	char *pathbuf;
	char *buf; /* body */
	size_t len;
	size_t cap;
	json_t *body;
	bool pending;	/* an error was decided at header time: discard the body, then send it */
	bool too_large; /* the body passed the limit while streaming */
	char allow[64]; /* Allow header for 405 */
	struct http_response resp;
};

void http_reply(struct http_response *resp, unsigned status, json_t *body)
{
	json_decref(resp->body);
	resp->body = NULL;
	if (body == NULL) {
		http_error(resp, 500, "internal", "out of memory while building the reply");
		return;
	}
	resp->status = status;
	resp->body = body;
	resp->error_code = NULL;
}

void http_error(struct http_response *resp, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(resp->body);
	resp->status = status;
	resp->error_code = code;
	resp->body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
					   MHD_GET_ARGUMENT_KIND, name);
}

static const char *type_name(enum http_type t)
{
	switch (t) {
	case HTTP_T_STRING:
		return "a string";
	case HTTP_T_BOOL:
		return "true or false";
	case HTTP_T_UINT:
		return "a non-negative integer";
	case HTTP_T_OBJECT:
		return "an object";
	}
	return "?";
}

bool http_body_check(const struct http_request *req, const struct http_field *fields, size_t n,
		     struct http_response *resp)
{
	const char *key;
	json_t *v;
	if (req->body != NULL) {
		json_object_foreach((json_t *)req->body, key, v)
		{
			size_t i;
			for (i = 0; i < n; i++)
				if (strcmp(fields[i].name, key) == 0)
					break;
			if (i == n) {
				http_error(resp, 400, "unknown_field", "unknown field \"%s\"", key);
				return false;
			}
			bool ok = false;
			switch (fields[i].type) {
			case HTTP_T_STRING:
				ok = json_is_string(v);
				break;
			case HTTP_T_BOOL:
				ok = json_is_boolean(v);
				break;
			case HTTP_T_UINT:
				ok = json_is_integer(v) && json_integer_value(v) >= 0;
				break;
			case HTTP_T_OBJECT:
				ok = json_is_object(v);
				break;
			}
			if (!ok) {
				http_error(resp, 400, "wrong_type", "field \"%s\" must be %s", key,
					   type_name(fields[i].type));
				return false;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required &&
		    (req->body == NULL || !json_object_get(req->body, fields[i].name))) {
			http_error(resp, 400, "missing_field", "field \"%s\" is required",
				   fields[i].name);
			return false;
		}
	}
	return true;
}

/* ---- routing ---- */

/* Matches path against pattern; on success stores pointers to the {..}
 * segments (inside segbuf, a copy of path split at '/'). */
static bool route_match(const char *pattern, char *segbuf, size_t pathlen, const char **params,
			size_t *count)
{
	size_t k = 0;
	const char *p = pattern;
	size_t off = 0;
	while (*p) {
		if (*p != '/' || off >= pathlen || segbuf[off] != '\0')
			return false;
		p++;
		off++;
		const char *pend = strchr(p, '/');
		size_t plen = pend ? (size_t)(pend - p) : strlen(p);
		const char *seg = segbuf + off;
		size_t slen = strlen(seg);
		if (plen > 1 && p[0] == '{') {
			if (slen == 0 || k == HTTP_PARAMS_MAX)
				return false;
			params[k++] = seg;
		} else if (slen != plen || memcmp(seg, p, plen) != 0) {
			return false;
		}
		p += plen;
		off += slen;
	}
	if (off != pathlen)
		return false;
	*count = k;
	return true;
}

static bool method_matches(const char *route_method, const char *method)
{
	if (strcmp(route_method, method) == 0)
		return true;
	return strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* Finds the route; -1 with *path_known set when only the method differs. */
static int route_find(struct http_server *s, struct req_state *st, const char *path,
		      bool *path_known, char *allow, size_t allow_cap)
{
	size_t len = strlen(path);
	*path_known = false;
	allow[0] = '\0';
	st->pathbuf = strdup(path);
	if (st->pathbuf == NULL)
		return -1;
	int found = -1;
	for (size_t i = 0; i < s->route_count; i++) {
		/* route_match needs '/' turned into separators */
		for (size_t j = 0; j < len; j++)
			if (path[j] == '/')
				st->pathbuf[j] = '\0';
		const char *params[HTTP_PARAMS_MAX];
		size_t count = 0;
		if (!route_match(s->routes[i].pattern, st->pathbuf, len, params, &count))
			continue;
		*path_known = true;
		const char *m = s->routes[i].method;
		const char *show = strcmp(m, "GET") == 0 ? "GET, HEAD" : m;
		if (strstr(allow, show) == NULL) {
			size_t used = strlen(allow);
			snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "", show);
		}
		if (found < 0 && method_matches(m, st->req.method)) {
			found = (int)i;
			memcpy(st->req.params, params, sizeof(params));
			st->req.param_count = count;
		}
	}
	return found;
}

/* ---- MHD plumbing ---- */

static unsigned bucket_of(unsigned status)
{
	for (unsigned i = 0; i < NBUCKETS - 1; i++)
		if (status_buckets[i] == status)
			return i;
	return NBUCKETS - 1;
}

/* ---- libmicrohttpd's own error replies ----
 *
 * libmicrohttpd answers some requests itself, before any handler sees them,
 * with a fixed HTML page (0.9.75, connection.c transmit_error_response_len;
 * it has no option to change it): 400 (bad request line or header, no Host
 * in HTTP/1.1, bad Content-Length or chunked encoding), 413 (a
 * Content-Length or chunk it cannot hold), 414 (request line over its
 * buffer), 431 (header over its buffer), 500 (no memory for the request)
 * and 505 (HTTP version). Every error of this API is the JSON error body,
 * so this file defines MHD_queue_response: the library's calls to its own
 * exported function go through the PLT and reach this one (the linker
 * exports it from the executable because libmicrohttpd refers to it), which
 * passes the API's replies through and swaps the library's error pages for
 * JSON. test_api_errors.py checks every status above: a libmicrohttpd
 * built to bind its own calls (-Bsymbolic) would fail it, not pass HTML. */

typedef enum MHD_Result (*mhd_queue_fn)(struct MHD_Connection *, unsigned int,
					struct MHD_Response *);

/* set while send_response queues the API's own reply, on that thread */
static _Thread_local bool queueing_own_reply;

static mhd_queue_fn real_queue(void)
{
	static _Atomic(mhd_queue_fn) fn;
	mhd_queue_fn f = atomic_load_explicit(&fn, memory_order_acquire);
	if (f == NULL) {
		void *sym = dlsym(RTLD_NEXT, "MHD_queue_response");
		memcpy(&f, &sym, sizeof(f));
		atomic_store_explicit(&fn, f, memory_order_release);
	}
	return f;
}

/* The code and message of a reply libmicrohttpd makes by itself. */
static void mhd_error_words(unsigned status, const char **code, const char **msg)
{
	switch (status) {
	case MHD_HTTP_BAD_REQUEST:
		*code = "bad_request";
		*msg = "the request is not valid HTTP/1.1 (request line, header syntax, a missing "
		       "Host header, Content-Length or chunked encoding)";
		return;
	case MHD_HTTP_CONTENT_TOO_LARGE:
		*code = "payload_too_large";
		*msg = "the request's Content-Length or a chunk is larger than the server accepts";
		return;
	case MHD_HTTP_URI_TOO_LONG:
		*code = "uri_too_long";
		*msg = "the request line does not fit the server's request buffer";
		return;
	case MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE:
		*code = "header_too_large";
		*msg = "the request header does not fit the server's request buffer";
		return;
	case MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED:
		*code = "http_version_not_supported";
		*msg = "only HTTP/1.0 and HTTP/1.1 are served";
		return;
	case MHD_HTTP_INTERNAL_SERVER_ERROR:
		*code = "internal";
		*msg = "the server could not take the request (out of memory)";
		return;
	default:
		*code = "http_error";
		*msg = "the request could not be processed";
		return;
	}
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
				   struct MHD_Response *response)
{
	mhd_queue_fn queue = real_queue();
	if (queue == NULL)
		return MHD_NO; /* cannot happen: this file links against libmicrohttpd */
	if (queueing_own_reply || status < 400)
		return queue(c, status, response);
	const char *code, *msg;
	mhd_error_words(status, &code, &msg);
	char body[512];
	int n =
	    snprintf(body, sizeof(body),
		     "{\n  \"error\": {\n    \"code\": \"%s\",\n    \"message\": \"%s\"\n  }\n}\n",
		     code, msg);
	struct MHD_Response *json =
	    MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (json == NULL)
		return queue(c, status, response); /* no memory: the library's page */
	MHD_add_response_header(json, "Content-Type", "application/json");
	MHD_add_response_header(json, "Cache-Control", "no-store");
	enum MHD_Result ret = queue(c, status, json);
	MHD_destroy_response(json);
	return ret;
}

static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *c,
				     struct req_state *st)
{
	struct http_response *r = &st->resp;
	char *payload = NULL;
	size_t len = 0;
	const char *type = "application/json";
	if (r->text != NULL) {
		payload = r->text;
		r->text = NULL;
		len = strlen(payload);
		type = r->text_type ? r->text_type : "text/plain; charset=utf-8";
	} else {
		if (r->body == NULL)
			http_error(r, 500, "internal", "no reply was produced");
		char *j =
		    r->body ? json_dumps(r->body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (j != NULL) {
			len = strlen(j);
			payload = realloc(j, len + 2);
			if (payload == NULL) {
				free(j);
			} else {
				payload[len++] = '\n';
				payload[len] = '\0';
			}
		}
	}
	if (payload == NULL) {
		static const char oom[] =
		    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";
		payload = strdup(oom);
		len = payload ? strlen(payload) : 0;
		r->status = 500;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, payload ? payload : (char *)"", MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(payload);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->status == 405)
		MHD_add_response_header(resp, "Allow", st->allow);
	if (r->status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"sovdns\"");
	if (r->location[0] != '\0')
		MHD_add_response_header(resp, "Location", r->location);
	queueing_own_reply = true;
	enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
	queueing_own_reply = false;
	MHD_destroy_response(resp);

	size_t row = st->route >= 0 ? (size_t)st->route : s->route_count;
	atomic_fetch_add_explicit(&s->counts[row][bucket_of(r->status)], 1, memory_order_relaxed);
	if (r->status == 401)
		atomic_fetch_add_explicit(&s->auth_failures, 1, memory_order_relaxed);
	/* audit every authenticated request for a change, granted or not */
	if (s->conf.audit != NULL && st->req.token != NULL && strcmp(st->req.method, "POST") == 0)
		(void)audit_write(s->conf.audit, st->req.who, st->req.from, st->req.method,
				  st->req.path, st->body, (int)r->status, r->error_code);
	return ret;
}

static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

struct query_check {
	const char *const *allowed;
	const char *bad; /* first unknown name */
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	(void)kind;
	(void)value;
	struct query_check *qc = cls;
	for (size_t i = 0; qc->allowed && qc->allowed[i]; i++)
		if (strcmp(qc->allowed[i], key) == 0)
			return MHD_YES;
	qc->bad = key;
	return MHD_NO;
}

/* Header-time checks. Returns true to respond at once (body not read). */
static bool prepare(struct http_server *s, struct req_state *st, struct MHD_Connection *c,
		    const char *url, const char *method)
{
	struct http_request *req = &st->req;
	req->method = method;
	req->path = url;
	req->conn = c;
	req->who = "anonymous";
	strcpy(req->from, "-");
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				  req->from, sizeof(req->from));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				  req->from, sizeof(req->from));
	}

	st->pending = true;
	bool path_known;
	st->route = route_find(s, st, url, &path_known, st->allow, sizeof(st->allow));
	if (st->pathbuf == NULL) {
		http_error(&st->resp, 500, "internal", "out of memory");
		return false;
	}
	if (st->route < 0) {
		if (path_known)
			http_error(&st->resp, 405, "method_not_allowed",
				   "%s is not allowed on %s (allowed: %s)", method, url, st->allow);
		else
			http_error(&st->resp, 404, "not_found", "no such route: %s", url);
		return false;
	}
	const struct http_route *route = &s->routes[st->route];

	const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (authz != NULL) {
		req->token = auth_check_header(s->conf.auth, authz);
		if (req->token == NULL) {
			http_error(&st->resp, 401, "unauthorized", "the bearer token is not valid");
			return false;
		}
		req->who = auth_token_name(req->token);
		const union MHD_ConnectionInfo *sc =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		if (sc != NULL)
			guard_trust(s->guard, sc->socket_context);
	} else if (!(route->access == HTTP_READ && s->conf.read_without_token)) {
		http_error(&st->resp, 401, "unauthorized",
			   "this route needs a token: send \"Authorization: Bearer <token>\"");
		return false;
	}
	if (req->token != NULL) {
		enum auth_level lvl = auth_token_level(req->token);
		if ((route->access == HTTP_WRITE && lvl < AUTH_DRAIN) ||
		    (route->access == HTTP_ADMIN && lvl < AUTH_ADMIN)) {
			http_error(&st->resp, 403, "forbidden", "token \"%s\" may not %s %s",
				   req->who, method, url);
			return false;
		}
	}

	struct query_check qc = {route->query, NULL};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_query_arg, &qc);
	if (qc.bad != NULL) {
		http_error(&st->resp, 400, "unknown_parameter", "unknown query parameter \"%s\"",
			   qc.bad);
		return false;
	}

	const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	unsigned long long length = 0;
	bool has_length = false;
	if (clen != NULL) {
		char *end;
		errno = 0;
		length = strtoull(clen, &end, 10);
		has_length = errno == 0 && end != clen;
	}
	if (strcmp(method, "POST") == 0) {
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		bool body_expected = !has_length || length > 0;
		if ((ct != NULL && !is_json_type(ct)) ||
		    (ct == NULL && body_expected && has_length)) {
			http_error(
			    &st->resp, 415, "unsupported_media_type",
			    "the request body must be JSON (Content-Type: application/json)");
			return has_length && length > (unsigned long long)s->conf.body_max_bytes *
							  HTTP_DISCARD_FACTOR;
		}
	}
	if (has_length && length > s->conf.body_max_bytes) {
		http_error(&st->resp, 413, "payload_too_large",
			   "the request body is %llu bytes; the limit is %zu", length,
			   s->conf.body_max_bytes);
		return length > (unsigned long long)s->conf.body_max_bytes * HTTP_DISCARD_FACTOR;
	}
	st->pending = false;
	return false;
}

static void parse_body(struct http_server *s, struct req_state *st)
{
	(void)s;
	if (st->len == 0 || strcmp(st->req.method, "POST") != 0)
		return;
	json_error_t jerr;
	/* duplicate keys are refused: which one would win is a guess */
	st->body = json_loadb(st->buf, st->len, JSON_REJECT_DUPLICATES, &jerr);
	if (st->body == NULL) {
		st->pending = true;
		http_error(&st->resp, 400, "bad_json",
			   "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
			   jerr.line, jerr.column);
		return;
	}
	if (!json_is_object(st->body)) {
		st->pending = true;
		http_error(&st->resp, 400, "bad_json", "the body must be a JSON object");
		json_decref(st->body);
		st->body = NULL;
		return;
	}
	st->req.body = st->body;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http_server *s = cls;
	struct req_state *st = *con_cls;
	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO; /* closes the connection */
		st->route = -1;
		*con_cls = st;
		if (prepare(s, st, c, url, method))
			return send_response(s, c, st);
		return MHD_YES;
	}
	if (*upload_size != 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (st->pending)
			return MHD_YES; /* discarding */
		if (st->len + n > s->conf.body_max_bytes) {
			/* chunked body over the limit: keep reading, answer 413 at the end */
			st->pending = true;
			st->too_large = true;
			http_error(&st->resp, 413, "payload_too_large",
				   "the request body exceeds the limit of %zu bytes",
				   s->conf.body_max_bytes);
			return MHD_YES;
		}
		if (st->len + n > st->cap) {
			size_t ncap = st->cap ? st->cap : 1024;
			while (ncap < st->len + n)
				ncap *= 2;
			char *nb = realloc(st->buf, ncap);
			if (nb == NULL) {
				st->pending = true;
				http_error(&st->resp, 500, "internal", "out of memory");
				return MHD_YES;
			}
			st->buf = nb;
			st->cap = ncap;
		}
		memcpy(st->buf + st->len, upload_data, n);
		st->len += n;
		return MHD_YES;
	}
	if (!st->pending && strcmp(method, "POST") == 0 && st->len > 0 &&
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type") == NULL) {
		st->pending = true;
		http_error(&st->resp, 415, "unsupported_media_type",
			   "the request body must be JSON (Content-Type: application/json)");
	}
	if (!st->pending)
		parse_body(s, st);
	if (!st->pending) {
		const struct http_route *route = &s->routes[st->route];
		route->fn(s->ctx, &st->req, &st->resp);
	}
	return send_response(s, c, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	(void)toe;
	const union MHD_ConnectionInfo *sc =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (sc != NULL)
		guard_rearm(s->guard, sc->socket_context, clock_mono_ms());
	struct req_state *st = *con_cls;
	if (st == NULL)
		return;
	json_decref(st->resp.body);
	free(st->resp.text);
	json_decref(st->body);
	free(st->buf);
	free(st->pathbuf);
	free(st);
	*con_cls = NULL;
}

/* Every connection is known to the guard from accept to close (MHD tells
 * CLOSED before it closes the descriptor: see api/guard.h). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		guard_close(s->guard, *socket_context);
		*socket_context = NULL;
		return;
	}
	const union MHD_ConnectionInfo *fd =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ca =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	*socket_context = guard_open(s->guard, ca ? ca->client_addr : NULL,
				     fd ? fd->connect_fd : -1, clock_mono_ms());
}

/* libmicrohttpd's own format strings: the format attribute tells the compiler so. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	LOG_RATELIMITED(5, log_warn("api", "libmicrohttpd: %s", msg));
}

static int read_pem(const char *path, char **out, size_t *len, char *why, size_t cap)
{
	int rc = atomicfile_read(path, PEM_MAX, out, len);
	if (rc != SOV_OK)
		snprintf(why, cap, "%s: cannot read: %s", path,
			 rc == SOV_EIO ? strerror(errno) : err_str(rc));
	return rc;
}

int http_start(const struct http_config *conf, const struct http_route *routes, size_t n, void *ctx,
	       http_server_t **out, char *why, size_t cap)
{
	int rc = SOV_ENOMEM;
	struct http_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto finish;
	s->conf = *conf;
	s->routes = routes;
	s->route_count = n;
	s->ctx = ctx;
	s->counts = calloc(n + 1, sizeof(*s->counts));
	if (s->counts == NULL)
		goto finish;
	/* Half the slots at most for connections that have not shown a valid
	 * token: the other half stays free for operators. */
	unsigned pending_max = conf->max_connections / 2 ? conf->max_connections / 2 : 1;
	s->guard = guard_new(pending_max, (int64_t)conf->header_timeout_s * 1000, NULL, NULL);
	if (s->guard == NULL)
		goto finish;
	if (!guard_start_reaper(s->guard)) {
		snprintf(why, cap, "cannot start the connection guard thread");
		rc = SOV_ESYS;
		goto finish;
	}
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (conf->listen->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (conf->tls_cert != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(why, cap,
				 "HTTPS is configured but libmicrohttpd was built without TLS");
			rc = SOV_ENOTSUP;
			goto finish;
		}
		size_t len;
		if ((rc = read_pem(conf->tls_cert, &s->pem_cert, &len, why, cap)) != SOV_OK ||
		    (rc = read_pem(conf->tls_key, &s->pem_key, &s->pem_key_len, why, cap)) !=
			SOV_OK)
			goto finish;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, s->pem_cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, s->pem_key},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
	/* libmicrohttpd closes a connection at accept when a worker is at its
	 * share of the limit, and an evicted connection holds its slot until
	 * the worker sees the shutdown on a later turn. A worker accepts at
	 * most 11 connections per turn (0.9.75, daemon.c), so two turns of
	 * evictions fit in EVICT_HEADROOM per thread: evictions never make it
	 * refuse the operator's connection. */
	unsigned threads = conf->threads ? conf->threads : 1;
	unsigned mhd_limit = conf->max_connections + EVICT_HEADROOM * threads;
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s,
	    /* first, so that every message of libmicrohttpd goes to our log */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR, conf->listen,
	    MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)conf->max_connections_per_client,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)conf->timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_ARRAY,
	    conf->tls_cert ? tls_opts : no_opts, MHD_OPTION_END);
	if (s->daemon == NULL) {
		char addr[INET6_ADDRSTRLEN] = "?";
		unsigned port = 0;
		if (conf->listen->sa_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)conf->listen;
			inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
			port = ntohs(a->sin_port);
		} else if (conf->listen->sa_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)conf->listen;
			inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
			port = ntohs(a->sin6_port);
		}
		snprintf(why, cap,
			 "cannot start the HTTP API on %s port %u (address in use, or bad TLS "
			 "certificate/key; see the libmicrohttpd message above)",
			 addr, port);
		rc = SOV_EIO;
		goto finish;
	}
	*out = s;
	s = NULL;
	rc = SOV_OK;
finish:
	if (rc == SOV_ENOMEM)
		snprintf(why, cap, "out of memory");
	http_stop(s);
	return rc;
}

void http_stop(http_server_t *s)
{
	if (s == NULL)
		return;
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	guard_free(s->guard);
	if (s->pem_key != NULL)
		explicit_bzero(s->pem_key, s->pem_key_len);
	free(s->pem_key);
	free(s->pem_cert);
	free(s->counts);
	free(s);
}

uint16_t http_port(const http_server_t *s)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return di ? di->port : 0;
}

void http_metrics_write(http_server_t *s, FILE *out)
{
	fprintf(out,
		"# HELP sovdns_api_requests_total HTTP API requests by route and status code.\n"
		"# TYPE sovdns_api_requests_total counter\n");
	for (size_t r = 0; r <= s->route_count; r++) {
		const char *method = r < s->route_count ? s->routes[r].method : "";
		const char *route = r < s->route_count ? s->routes[r].pattern : "unmatched";
		for (size_t b = 0; b < NBUCKETS; b++) {
			uint64_t v = atomic_load_explicit(&s->counts[r][b], memory_order_relaxed);
			if (v == 0)
				continue;
			char code[8];
			if (b < NBUCKETS - 1)
				snprintf(code, sizeof(code), "%u", status_buckets[b]);
			else
				snprintf(code, sizeof(code), "other");
			fprintf(out,
				"sovdns_api_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} "
				"%llu\n",
				method, route, code, (unsigned long long)v);
		}
	}
	fprintf(out,
		"# HELP sovdns_api_auth_failures_total HTTP API requests refused for a missing or "
		"invalid token.\n"
		"# TYPE sovdns_api_auth_failures_total counter\n"
		"sovdns_api_auth_failures_total %llu\n",
		(unsigned long long)atomic_load(&s->auth_failures));
	fprintf(out,
		"# HELP sovdns_api_connections_dropped_total HTTP API connections shut down by "
		"the server before a request with a valid token: header_timeout (no complete "
		"header in api.header_timeout_s), evicted (too many pending connections; the "
		"busiest client's oldest went).\n"
		"# TYPE sovdns_api_connections_dropped_total counter\n"
		"sovdns_api_connections_dropped_total{reason=\"header_timeout\"} %llu\n"
		"sovdns_api_connections_dropped_total{reason=\"evicted\"} %llu\n",
		(unsigned long long)guard_dropped(s->guard, GUARD_HEADER_TIMEOUT),
		(unsigned long long)guard_dropped(s->guard, GUARD_EVICTED));
}
