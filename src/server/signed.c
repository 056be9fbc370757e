/* SPDX-License-Identifier: MIT */
/* signed: queries that carry a TSIG record: verified, answered, and the answer signed. */
#include <time.h>
#include <urcu.h>

#include "acl.h"
#include "signed.h"
#include "tsig.h"

size_t signed_answer(server_t *s, const answer_client_t *client, uint8_t *q, size_t qlen, bool tcp,
                     uint8_t *resp, size_t len, size_t cap, answer_info_t *info)
{
	tsig_verify_t v = {0};
	tsig_rr_t rr;
	uint16_t terr = 0;
	uint64_t now = (uint64_t)time(NULL);
	/* Loaded once, so keys, their count and the zone table are of one configuration. */
	const server_gen_t *g = rcu_dereference(s->gen);
	int key = acl_check_tsig(g->keys, g->conf->nkeys, q, qlen, now, &v, &rr, &terr);
	size_t out, n;
	if (key == ACL_TSIG_BAD)
		server_count_tsig_failure(s);
	if (key == ACL_TSIG_BAD && terr != TSIG_ERR_BADKEY) {
		/* The header is NOTAUTH already; only the TSIG error changes. */
		if (tsig_strip(resp, len, &n) == 1 &&
		    tsig_answer_error(v.key, &rr, terr, resp, n, cap, now, &out) == 0)
			len = out;
	} else if (key >= 0 && tsig_strip(q, qlen, &n) == 1) {
		const tsig_key_t *k = &g->keys[key];
		size_t room = tsig_space(k);
		answer_info_t again = {0};
		size_t alen =
		    answer_query_from(&s->answer, g->db, client, q, n, resp, tcp, room, &again);
		/* Unsigned if signing fails (no memory): the client then rejects it, as it should.
		 */
		if (alen && tsig_sign(k, resp, alen, alen + room, v.mac, v.mac_len, false, now,
		                      TSIG_FUDGE_DEFAULT, &out, NULL, NULL) == 0)
			alen = out;
		*info = again;
		len = alen;
	}
	tsig_verify_deinit(&v);
	return len;
}
