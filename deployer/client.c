/* client.c — HTTP client for the sovdns API (see client.h). */
#include "deployer/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* The largest reply we read: GET /v1/operations?limit=1000 with histories
 * is a few hundred KiB; 8 MiB is room to spare yet bounded. */
#define CLIENT_BODY_MAX (8u << 20)

struct client {
	const struct dconf_instance *in;
	CURL *curl;
	char auth[DCONF_TOKEN_MAX + 32]; /* "Authorization: Bearer ..." */
};

struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool overflow;
};

int client_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SOV_OK : SOV_ESYS;
}

void client_global_cleanup(void)
{
	curl_global_cleanup();
}

client_t *client_new(const struct dconf_instance *in)
{
	client_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->in = in;
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		free(c);
		return NULL;
	}
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", in->token);
	return c;
}

void client_free(client_t *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	explicit_bzero(c->auth, sizeof(c->auth));
	free(c);
}

const char *client_name(const client_t *c)
{
	return c->in->name;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	if (b->len + n > CLIENT_BODY_MAX) {
		b->overflow = true;
		return 0; /* makes curl fail the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (d == NULL)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

void client_reply_clear(struct client_reply *r)
{
	json_decref(r->body);
	memset(r, 0, sizeof(*r));
}

int client_call(client_t *c, const char *method, const char *path, json_t *body,
		struct client_reply *out)
{
	int ret = SOV_EIO;
	char url[2048];
	char errbuf[CURL_ERROR_SIZE] = "";
	char *payload = NULL;
	struct curl_slist *hdrs = NULL;
	struct buf b = {0};
	CURL *h = c->curl;

	memset(out, 0, sizeof(*out));
	if (snprintf(url, sizeof(url), "%s%s", c->in->api, path) >= (int)sizeof(url)) {
		snprintf(out->message, sizeof(out->message), "URL too long");
		goto finish;
	}
	curl_easy_reset(h);
	hdrs = curl_slist_append(hdrs, c->auth);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (strcmp(method, "POST") == 0) {
		payload = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
		if (payload == NULL) {
			snprintf(out->message, sizeof(out->message), "out of memory");
			goto finish;
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	}
	if (hdrs == NULL) {
		snprintf(out->message, sizeof(out->message), "out of memory");
		goto finish;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->in->timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->in->timeout_s);
	/* no signals: timeouts must not longjmp out of a resolver (and we
	 * have our own SIGCHLD/SIGINT handling) */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "sovctl/" SOVDNS_VERSION);
	if (c->in->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->in->ca_file);

	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		snprintf(out->message, sizeof(out->message), "%s",
			 b.overflow ? "reply larger than 8 MiB"
				    : (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
		goto finish;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	if (b.len > 0) {
		json_error_t jerr;
		out->body = json_loadb(b.data, b.len, 0, &jerr);
	}
	if (!client_ok(out)) {
		json_t *e = json_object_get(out->body, "error");
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		snprintf(out->code, sizeof(out->code), "%s", code ? code : "");
		snprintf(out->message, sizeof(out->message), "%s",
			 msg ? msg : "(no error message in the reply)");
	} else if (out->body == NULL && b.len > 0) {
		snprintf(out->message, sizeof(out->message), "the reply is not JSON");
		out->status = 0;
		goto finish;
	}
	ret = SOV_OK;
finish:
	free(b.data);
	if (payload != NULL) {
		explicit_bzero(payload, strlen(payload));
		free(payload);
	}
	curl_slist_free_all(hdrs);
	return ret;
}

const char *client_describe(const struct client_reply *r, char *buf, size_t cap)
{
	if (r->status == 0)
		snprintf(buf, cap, "unreachable: %s", r->message);
	else if (r->code[0])
		snprintf(buf, cap, "HTTP %ld %s: %s", r->status, r->code, r->message);
	else
		snprintf(buf, cap, "HTTP %ld: %s", r->status, r->message);
	return buf;
}
