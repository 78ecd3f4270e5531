#include "api/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/util.h"
#include "common/err.h"

static const char *const kind_names[OP_KIND_COUNT] = {"deploy", "backup", "restore", "tls-renew"};

const char *op_kind_name(enum op_kind k)
{
	return (unsigned)k < OP_KIND_COUNT ? kind_names[k] : "invalid";
}

int op_kind_parse(const char *name, enum op_kind *out)
{
	for (unsigned i = 0; i < OP_KIND_COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum op_kind)i;
			return SOV_OK;
		}
	}
	return SOV_EINVAL;
}

int op_transition_check(enum op_state from, enum op_state to)
{
	if ((unsigned)from >= OP_STATE_COUNT || (unsigned)to >= OP_STATE_COUNT ||
	    op_state_final(from))
		return SOV_ESEMANTIC;
	if (to == from || to == OP_FAILED || to == OP_ABORTED)
		return SOV_OK;
	/* the main path is the enum order pending..done */
	return (unsigned)to == (unsigned)from + 1 ? SOV_OK : SOV_ESEMANTIC;
}

struct op_store {
	op_t **ops;
	size_t count;
	size_t cap;
	size_t keep;
	int64_t last_s; /* time part of the newest id, Unix seconds; 0 = none yet */
	unsigned last_seq;
	/* for op_store_drop_last */
	int64_t undo_last_s;
	unsigned undo_last_seq;
};

op_store_t *op_store_new(size_t keep)
{
	op_store_t *s = calloc(1, sizeof(*s));
	if (s != NULL)
		s->keep = keep ? keep : 1;
	return s;
}

void op_clear(op_t *op)
{
	if (op == NULL)
		return;
	free(op->steps);
	op->steps = NULL;
	op->step_count = 0;
	json_decref(op->result);
	op->result = NULL;
}

static void op_free(op_t *op)
{
	op_clear(op);
	free(op);
}

void op_store_free(op_store_t *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++)
		op_free(s->ops[i]);
	free(s->ops);
	free(s);
}

size_t op_store_count(const op_store_t *s)
{
	return s->count;
}

op_t *op_store_at(const op_store_t *s, size_t i)
{
	return i < s->count ? s->ops[i] : NULL;
}

op_t *op_store_find(const op_store_t *s, const char *id)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->ops[i]->id, id) == 0)
			return s->ops[i];
	return NULL;
}

static int push(op_store_t *s, op_t *op)
{
	if (s->count == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		op_t **n = realloc(s->ops, ncap * sizeof(*n));
		if (n == NULL)
			return SOV_ENOMEM;
		s->ops = n;
		s->cap = ncap;
	}
	s->ops[s->count++] = op;
	return SOV_OK;
}

static int append_step(op_t *op, enum op_state st, int64_t at_ms, const char *who,
		       const char *reason)
{
	struct op_step *n = realloc(op->steps, (op->step_count + 1) * sizeof(*n));
	if (n == NULL)
		return SOV_ENOMEM;
	op->steps = n;
	struct op_step *step = &n[op->step_count++];
	memset(step, 0, sizeof(*step));
	step->state = st;
	step->at_ms = at_ms;
	snprintf(step->who, sizeof(step->who), "%s", who);
	snprintf(step->reason, sizeof(step->reason), "%s", reason);
	return SOV_OK;
}

/* Formats the id for second sec and sequence seq. */
static void format_id(char *buf, int64_t sec, unsigned seq)
{
	char t[API_TIME_MAX];
	api_time_format(sec * 1000, t); /* 2026-11-30T07:24:00Z */
	snprintf(buf, OP_ID_MAX, "op-%.4s%.2s%.2sT%.2s%.2s%.2sZ-%04u", t, t + 5, t + 8, t + 11,
		 t + 14, t + 17, seq);
}

/* Parses an id back into its second and sequence. SOV_OK or SOV_EPARSE. */
static int parse_id(const char *id, int64_t *sec, unsigned *seq)
{
	/* op-YYYYMMDDTHHMMSSZ-NNNN */
	if (strlen(id) != 24 || strncmp(id, "op-", 3) != 0 || id[11] != 'T' || id[18] != 'Z' ||
	    id[19] != '-')
		return SOV_EPARSE;
	char t[32];
	snprintf(t, sizeof(t), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", id + 3, id + 7, id + 9, id + 12,
		 id + 14, id + 16);
	int64_t ms;
	if (api_time_parse(t, &ms) != SOV_OK)
		return SOV_EPARSE;
	unsigned v = 0;
	for (int i = 20; i < 24; i++) {
		if (id[i] < '0' || id[i] > '9')
			return SOV_EPARSE;
		v = v * 10 + (unsigned)(id[i] - '0');
	}
	if (v == 0)
		return SOV_EPARSE;
	*sec = ms / 1000;
	*seq = v;
	return SOV_OK;
}

int op_store_create(op_store_t *s, enum op_kind kind, const char *dc, const char *reason,
		    const char *who, int64_t now_ms, op_t **out)
{
	int rc = SOV_ENOMEM;
	op_t *op = calloc(1, sizeof(*op));
	if (op == NULL)
		goto finish;
	op->result = json_object();
	if (op->result == NULL)
		goto finish;
	int64_t sec = now_ms / 1000;
	unsigned seq = 1;
	if (sec <= s->last_s) {
		sec = s->last_s;
		seq = s->last_seq + 1;
		if (seq > 9999) { /* more than 9999 in one second: borrow the next second */
			sec++;
			seq = 1;
		}
	}
	format_id(op->id, sec, seq);
	op->kind = kind;
	snprintf(op->datacenter, sizeof(op->datacenter), "%s", dc);
	snprintf(op->reason, sizeof(op->reason), "%s", reason);
	snprintf(op->who, sizeof(op->who), "%s", who);
	op->state = OP_PENDING;
	op->created_ms = op->updated_ms = now_ms;
	if (append_step(op, OP_PENDING, now_ms, who, "") != SOV_OK || push(s, op) != SOV_OK)
		goto finish;
	s->undo_last_s = s->last_s;
	s->undo_last_seq = s->last_seq;
	s->last_s = sec;
	s->last_seq = seq;
	*out = op;
	op = NULL;
	rc = SOV_OK;
finish:
	if (op != NULL)
		op_free(op);
	return rc;
}

void op_store_drop_last(op_store_t *s)
{
	if (s->count == 0)
		return;
	op_free(s->ops[--s->count]);
	s->last_s = s->undo_last_s;
	s->last_seq = s->undo_last_seq;
}

int op_advance(op_t *op, enum op_state to, const json_t *result, const char *who,
	       const char *reason, int64_t now_ms)
{
	int rc = op_transition_check(op->state, to);
	if (rc != SOV_OK)
		return rc;
	if (to != op->state && append_step(op, to, now_ms, who, reason) != SOV_OK)
		return SOV_ENOMEM;
	if (result != NULL) {
		/* json_object_update takes new references to the values; the
		 * caller's object stays its own */
		if (json_object_update(op->result, (json_t *)result) != 0) {
			if (to != op->state)
				op->step_count--;
			return SOV_ENOMEM;
		}
	}
	op->state = to;
	op->updated_ms = now_ms;
	return SOV_OK;
}

int op_copy(op_t *dst, const op_t *src)
{
	*dst = *src;
	dst->steps = NULL;
	dst->result = NULL;
	dst->steps = malloc(src->step_count * sizeof(*dst->steps) + 1);
	dst->result = json_deep_copy(src->result);
	if (dst->steps == NULL || dst->result == NULL) {
		op_clear(dst);
		return SOV_ENOMEM;
	}
	memcpy(dst->steps, src->steps, src->step_count * sizeof(*dst->steps));
	return SOV_OK;
}

json_t *op_to_json(const op_t *op)
{
	char c[API_TIME_MAX], u[API_TIME_MAX], a[API_TIME_MAX];
	json_t *hist = json_array();
	json_t *res = json_deep_copy(op->result);
	json_t *o = NULL;
	if (hist == NULL || res == NULL)
		goto finish;
	for (size_t i = 0; i < op->step_count; i++) {
		const struct op_step *st = &op->steps[i];
		json_t *h = json_pack("{s:s, s:s, s:s}", "state", op_state_name(st->state), "at",
				      api_time_format(st->at_ms, a), "by", st->who);
		if (h == NULL)
			goto finish;
		if (st->reason[0] != '\0')
			json_object_set_new(h, "reason", json_string(st->reason));
		if (json_array_append_new(hist, h) != 0)
			goto finish;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "id", op->id, "kind",
		      op_kind_name(op->kind), "datacenter", op->datacenter, "reason", op->reason,
		      "created_by", op->who, "state", op_state_name(op->state), "created_at",
		      api_time_format(op->created_ms, c), "updated_at",
		      api_time_format(op->updated_ms, u), "history", hist, "result", res);
finish:
	json_decref(hist);
	json_decref(res);
	return o;
}

/* True if the i-th operation is written out / kept: every unfinished one,
 * and the newest `keep` finished ones. */
static bool *keep_mask(const op_store_t *s)
{
	bool *mask = calloc(s->count + 1, sizeof(bool));
	if (mask == NULL)
		return NULL;
	size_t finished = 0;
	for (size_t i = s->count; i-- > 0;) {
		if (!op_state_final(s->ops[i]->state))
			mask[i] = true;
		else
			mask[i] = finished++ < s->keep;
	}
	return mask;
}

json_t *op_store_to_json(const op_store_t *s)
{
	json_t *doc = NULL, *arr = json_array();
	bool *mask = keep_mask(s);
	char last[OP_ID_MAX] = "";
	if (arr == NULL || mask == NULL)
		goto finish;
	for (size_t i = 0; i < s->count; i++) {
		if (!mask[i])
			continue;
		json_t *o = op_to_json(s->ops[i]);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto finish;
	}
	if (s->last_s != 0)
		format_id(last, s->last_s, s->last_seq);
	doc = json_pack("{s:i, s:s, s:O}", "version", 1, "last_id", last, "operations", arr);
finish:
	free(mask);
	json_decref(arr);
	return doc;
}

void op_store_prune(op_store_t *s)
{
	bool *mask = keep_mask(s);
	if (mask == NULL)
		return; /* try again next time */
	size_t w = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (mask[i])
			s->ops[w++] = s->ops[i];
		else
			op_free(s->ops[i]);
	}
	s->count = w;
	free(mask);
}

/* Reads a required string member into dst (cap bytes). */
static int get_str(const json_t *o, const char *key, char *dst, size_t cap, const char *where,
		   char *why, size_t whycap)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_string(v)) {
		snprintf(why, whycap, "%s: \"%s\" must be a string", where, key);
		return SOV_EPARSE;
	}
	if (json_string_length(v) >= cap) {
		snprintf(why, whycap, "%s: \"%s\" is longer than %zu bytes", where, key, cap - 1);
		return SOV_EPARSE;
	}
	snprintf(dst, cap, "%s", json_string_value(v));
	return SOV_OK;
}

static int get_time(const json_t *o, const char *key, int64_t *ms, const char *where, char *why,
		    size_t whycap)
{
	char t[API_TIME_MAX];
	if (get_str(o, key, t, sizeof(t), where, why, whycap) != SOV_OK)
		return SOV_EPARSE;
	if (api_time_parse(t, ms) != SOV_OK) {
		snprintf(why, whycap, "%s: \"%s\" is not an RFC 3339 time", where, key);
		return SOV_EPARSE;
	}
	return SOV_OK;
}

static int op_from_json(const json_t *o, op_t *op, const char *where, char *why, size_t cap)
{
	char name[32];
	if (!json_is_object(o)) {
		snprintf(why, cap, "%s: must be an object", where);
		return SOV_EPARSE;
	}
	int64_t sec;
	unsigned seq;
	if (get_str(o, "id", op->id, sizeof(op->id), where, why, cap) != SOV_OK)
		return SOV_EPARSE;
	if (parse_id(op->id, &sec, &seq) != SOV_OK) {
		snprintf(why, cap, "%s: malformed id \"%s\"", where, op->id);
		return SOV_EPARSE;
	}
	if (get_str(o, "kind", name, sizeof(name), where, why, cap) != SOV_OK)
		return SOV_EPARSE;
	if (op_kind_parse(name, &op->kind) != SOV_OK) {
		snprintf(why, cap, "%s: unknown kind \"%s\"", where, name);
		return SOV_EPARSE;
	}
	if (get_str(o, "state", name, sizeof(name), where, why, cap) != SOV_OK)
		return SOV_EPARSE;
	if (op_state_parse(name, &op->state) != SOV_OK) {
		snprintf(why, cap, "%s: unknown state \"%s\"", where, name);
		return SOV_EPARSE;
	}
	if (get_str(o, "datacenter", op->datacenter, sizeof(op->datacenter), where, why, cap) ||
	    get_str(o, "reason", op->reason, sizeof(op->reason), where, why, cap) ||
	    get_str(o, "created_by", op->who, sizeof(op->who), where, why, cap) ||
	    get_time(o, "created_at", &op->created_ms, where, why, cap) ||
	    get_time(o, "updated_at", &op->updated_ms, where, why, cap))
		return SOV_EPARSE;
	const json_t *res = json_object_get(o, "result");
	if (!json_is_object(res)) {
		snprintf(why, cap, "%s: \"result\" must be an object", where);
		return SOV_EPARSE;
	}
	const json_t *hist = json_object_get(o, "history");
	if (!json_is_array(hist) || json_array_size(hist) == 0) {
		snprintf(why, cap, "%s: \"history\" must be a non-empty array", where);
		return SOV_EPARSE;
	}
	op->result = json_deep_copy(res);
	op->steps = calloc(json_array_size(hist), sizeof(*op->steps));
	if (op->result == NULL || op->steps == NULL) {
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	size_t i;
	const json_t *h;
	json_array_foreach(hist, i, h)
	{
		char w[96];
		snprintf(w, sizeof(w), "%s.history[%zu]", where, i);
		struct op_step *st = &op->steps[i];
		if (!json_is_object(h)) {
			snprintf(why, cap, "%s: must be an object", w);
			return SOV_EPARSE;
		}
		if (get_str(h, "state", name, sizeof(name), w, why, cap) != SOV_OK)
			return SOV_EPARSE;
		if (op_state_parse(name, &st->state) != SOV_OK) {
			snprintf(why, cap, "%s: unknown state \"%s\"", w, name);
			return SOV_EPARSE;
		}
		if (get_time(h, "at", &st->at_ms, w, why, cap) ||
		    get_str(h, "by", st->who, sizeof(st->who), w, why, cap))
			return SOV_EPARSE;
		if (json_object_get(h, "reason") != NULL &&
		    get_str(h, "reason", st->reason, sizeof(st->reason), w, why, cap))
			return SOV_EPARSE;
		op->step_count++;
	}
	return SOV_OK;
}

int op_store_from_json(op_store_t *s, const json_t *doc, char *why, size_t cap)
{
	int rc = SOV_EPARSE;
	op_store_t *n = op_store_new(s->keep);
	if (n == NULL) {
		snprintf(why, cap, "out of memory");
		return SOV_ENOMEM;
	}
	const json_t *ver = json_object_get(doc, "version");
	if (!json_is_object(doc) || !json_is_integer(ver) || json_integer_value(ver) != 1) {
		snprintf(why, cap, "not a sovdns operations file (\"version\": 1 expected)");
		goto finish;
	}
	const json_t *arr = json_object_get(doc, "operations");
	const json_t *last = json_object_get(doc, "last_id");
	if (!json_is_array(arr) || !json_is_string(last)) {
		snprintf(why, cap, "\"operations\" must be an array and \"last_id\" a string");
		goto finish;
	}
	if (json_string_length(last) > 0 &&
	    parse_id(json_string_value(last), &n->last_s, &n->last_seq) != SOV_OK) {
		snprintf(why, cap, "malformed \"last_id\"");
		goto finish;
	}
	size_t i;
	const json_t *o;
	json_array_foreach(arr, i, o)
	{
		char where[48];
		snprintf(where, sizeof(where), "operations[%zu]", i);
		op_t *op = calloc(1, sizeof(*op));
		if (op == NULL) {
			rc = SOV_ENOMEM;
			goto finish;
		}
		int r = op_from_json(o, op, where, why, cap);
		if (r == SOV_OK && n->count > 0 && strcmp(n->ops[n->count - 1]->id, op->id) >= 0) {
			snprintf(why, cap, "%s: id %s is not after the previous one", where,
				 op->id);
			r = SOV_EPARSE;
		}
		if (r == SOV_OK && (r = push(n, op)) != SOV_OK)
			snprintf(why, cap, "out of memory");
		if (r != SOV_OK) {
			op_free(op);
			rc = r;
			goto finish;
		}
		/* the id sequence continues after the newest one we know of */
		int64_t sec;
		unsigned seq;
		if (parse_id(op->id, &sec, &seq) == SOV_OK &&
		    (sec > n->last_s || (sec == n->last_s && seq > n->last_seq))) {
			n->last_s = sec;
			n->last_seq = seq;
		}
	}
	/* swap contents */
	op_store_t tmp = *s;
	*s = *n;
	*n = tmp;
	rc = SOV_OK;
finish:
	op_store_free(n);
	return rc;
}
