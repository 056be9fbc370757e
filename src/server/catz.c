/* SPDX-License-Identifier: MIT */
/* catz: the daemon's catalog zones (RFC 9432): producer catalogs generated from the config. */
#include <stdlib.h>

#include "catalog.h"
#include "catz.h"
#include "error.h"
#include "serial.h"

int catz_generate(const conf_t *conf, const conf_zone_t *cat, const zone_t *prev, uint32_t now,
                  zone_t **out, char *err, size_t errlen)
{
	int self = (int)(cat - conf->zones);
	size_t n = 0;
	for (size_t i = 0; i < conf->nzones; i++)
		n += conf->zones[i].catalog_zone == self;
	catalog_entry_t *e = n ? calloc(n, sizeof(*e)) : NULL;
	if (n && !e)
		return US_ENOMEM;
	n = 0;
	for (size_t i = 0; i < conf->nzones; i++) {
		const conf_zone_t *m = &conf->zones[i];
		if (m->catalog_zone == self)
			e[n++] = (catalog_entry_t){m->name, m->name_len, m->catalog_group};
	}
	zone_t *z = NULL;
	int ret = 0;
	if (prev) {
		/* Built at prev's serial first: the same records are the same version. */
		if ((ret = catalog_build(cat->name, cat->name_len, prev->serial, e, n, &z, err,
		                         errlen)) != 0)
			goto cleanup;
		if (zone_same(z, prev))
			goto cleanup;
		zone_unref(z);
		z = NULL;
	}
	uint32_t serial = now;
	if (prev && serial_cmp(now, prev->serial + 1) < 0)
		serial = prev->serial + 1;
	ret = catalog_build(cat->name, cat->name_len, serial, e, n, &z, err, errlen);
cleanup:
	free(e);
	if (ret == 0)
		*out = z;
	return ret;
}
