/* fuzz_config.c — libFuzzer target for the configuration validators: the
 * core loader (conf/config.c, from a file, with positions), and the geo,
 * probe and API sections (geo/geo_conf.c, probe/conf.c, api/config.c) on
 * whatever JSON the input parses to. Every problem must come back as a
 * diagnostic, never as a crash, a leak or an abort. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/diag.h"
#include "common/log.h"
#include "conf/config.h"
#include "geo/geo.h"
#include "probe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fuzz_path[0] == 0) {
		log_init(LOG_LVL_ERR, false);
		snprintf(fuzz_path, sizeof(fuzz_path), "/tmp/fuzz_config.XXXXXX");
		int fd = mkstemp(fuzz_path);
		if (fd < 0)
			abort();
		close(fd);
	}
	FILE *f = fopen(fuzz_path, "wb");
	if (f == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);

	diag_t *d = diag_new();
	config_t *c = NULL;
	if (config_load(fuzz_path, &c, d) == 0 && diag_count(d) != 0)
		abort(); /* success with errors reported */
	config_free(c);

	json_error_t err;
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
	if (json_is_object(root)) {
		geo_ctx_t *geo = NULL;
		if (geo_ctx_load(root, fuzz_path, NULL, d, &geo) == 0) {
			size_t n = geo_dc_count(geo);
			struct probe_dc *dcs = calloc(n + 1, sizeof(*dcs));
			for (size_t i = 0; dcs && i < n; i++)
				dcs[i].id = geo_dc_id(geo, i);
			probe_config_t *pc = NULL;
			if (dcs != NULL && probe_config_parse(json_object_get(root, "probes"), dcs,
							      n, fuzz_path, &pc, d) == 0)
				probe_config_free(pc);
			free(dcs);
			geo_ctx_free(geo);
		}
		struct api_config ac;
		api_config_init(&ac);
		int r = api_config_parse(root, fuzz_path, &ac, d);
		(void)r; /* valid or not, it must only ever report */
		api_config_clear(&ac);
	}
	json_decref(root);
	diag_free(d);
	return 0;
}
