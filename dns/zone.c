/* zone.c — RFC 1035 master file → immutable zone index (contract in zone.h).
 *
 * The orchestrator of the loader; the jobs live in the files listed in
 * zone_int.h. Three phases, each a linear pass:
 *   1. parse (zone_parse.c, zone_lint.c, zone_record.c): the file is read into memory; plain
 * one-line records are converted by zone_fast_parse() (dns/zone_fast.c), every other one by ldns
 * (ldns_rr_new_frm_fp_l on a memory stream); we intercept the lines ldns cannot report precisely
 * (blank and comment lines, so that every record gets its exact first line number, and the $
 *      directives, so that a relative $ORIGIN and $INCLUDE work).
 *      Each accepted record becomes a 32-byte zrec_t; its RDATA goes into
 *      one growing arena, its owner into a name table that gives it an id.
 *   2. build (zone_names.c, zone_build.c): empty non-terminals are added to the name table, records
 * are counting-sorted by name id (stable, O(n)), each name's few records are sorted by type,
 * duplicates dropped, and everything is copied into two final blocks (nodes + RRsets, and RDATA).
 *   3. validate (zone_check.c): per node, with the zone tree in place (parent, cut).
 * Errors are collected (zone_err.c), sorted back into file order and reported together.
 *
 * Memory for a zone of n records and m names is about 2 × 32n bytes while
 * loading (the record array and its sorted copy; ldns's per-record objects
 * are freed at once), and once loaded sizeof(znode_t)·m + sizeof(zrrset_t)
 * per RRset + RDATA + names + 8 bytes per index slot (hash and node id),
 * in five big blocks whatever the zone size. Measured: 1,000,000 records
 * (340,000 names) load in 0.4 s on one core (1.9 s through ldns alone)
 * with a 125 MB peak RSS.
 */
#include "dns/zone.h"

#include <assert.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "dns/zone_int.h"

int zone_load(const char *origin, const char *path, zone_t **out, diag_t *diag)
{
	return zone_load_services(origin, path, NULL, out, diag);
}

int zone_load_services(const char *origin, const char *path, const struct zone_services *svcs,
		       zone_t **out, diag_t *diag)
{
	loader_t L = {.default_ttl_s = ZONE_DEFAULT_TTL_S, .svcs = svcs};
	ldns_rdf *origin_rdf = NULL;
	zone_t *z = NULL;
	char buf[DNAME_STR_MAX];
	uint16_t file0;
	int ret = SOV_ENOMEM;

	*out = NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		goto finish;
	L.z = z;
	atomic_init(&z->refs, 1);
	z->mem = calloc(1, sizeof(zone_mem_t));
	z->path = strdup(path);
	if (z->mem == NULL || z->path == NULL)
		goto finish;
	int len = dname_from_str(origin, z->origin);
	if (len < 0 || dname_to_str(z->origin, buf, sizeof(buf)) < 0) {
		diag_add(diag, path, 0, 1, "zone origin \"%s\" is not a valid domain name", origin);
		ret = SOV_EINVAL;
		goto finish;
	}
	z->origin_len = (uint16_t)len;
	z->origin_labels = (uint16_t)dname_labels(z->origin);
	z->origin_str = strdup(buf);
	/* ldns appends this origin to relative names: the operator's spelling,
	 * so that relative names in RDATA keep the case they were given in. */
	origin_rdf = ldns_dname_new_frm_str(origin);
	if (z->origin_str == NULL || origin_rdf == NULL)
		goto finish;
	if (zone_file_add(&L, path, &file0) != SOV_OK || names_grow_table(&L.names) != SOV_OK)
		goto finish;
	uint32_t apex_id;
	if (names_intern(&L.names, z->origin, &apex_id) != SOV_OK)
		goto finish;
	assert(apex_id == 0); /* nodes[0] is the apex */
	if (svcs != NULL && svcs->count > 0) {
		L.svc_node = calloc(svcs->count, sizeof(uint32_t));
		if (L.svc_node == NULL)
			goto finish;
		for (size_t i = 0; i < svcs->count; i++) {
			if (!dname_is_subdomain(svcs->names[i], z->origin)) {
				ret = SOV_EINVAL;
				goto finish;
			}
			if (names_intern(&L.names, svcs->names[i], &L.svc_node[i]) != SOV_OK)
				goto finish;
		}
	}

	zone_parse_file(&L, path, 0, 0, 0, origin_rdf);
	if (L.oom)
		goto finish;
	if (!L.io_error && zone_build(&L) != SOV_OK)
		goto finish;
	if (L.oom)
		goto finish;
	if (L.nerrs > 0 || L.io_error) {
		ret = L.io_error ? SOV_EIO : L.syntax_error ? SOV_EPARSE : SOV_ESEMANTIC;
		goto finish;
	}
	*out = z;
	z = NULL;
	ret = SOV_OK;
finish:
	if (ret == SOV_ENOMEM)
		diag_add(diag, path, 0, 1, "out of memory while loading zone %s", origin);
	zerr_flush(&L, diag);
	for (size_t i = 0; i < L.nerrs; i++)
		free(L.errs[i].msg);
	free(L.errs);
	for (size_t i = 0; i < L.nfiles; i++)
		free(L.files[i]);
	free(L.files);
	free(L.recs);
	free(L.rdata);
	names_free(&L.names);
	free(L.svc_node);
	ldns_rdf_deep_free(origin_rdf);
	zone_free(z);
	return ret;
}
