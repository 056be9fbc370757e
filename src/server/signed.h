/* SPDX-License-Identifier: MIT */
/* signed: queries that carry a TSIG record: verified, answered, and the answer signed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "answer.h"
#include "server.h"

/*
 * Answers anew the query q[0..qlen) that answer_query found signed (info->tsig), whose answer,
 * NOTAUTH with TSIG error BADKEY, is in resp[0..len) (cap bytes). When the key is one of ours
 * and the signature is good, q is stripped of its TSIG record in place and answered as an
 * unsigned query would be, in no more room than that answer would take, and the answer is
 * signed over the request's MAC (RFC 8945 5.3): secondaries sign their SOA queries. A bad
 * signature gets NOTAUTH with BADSIG (unsigned) or BADTIME (signed) instead, an unknown key
 * keeps BADKEY (5.2). client is as for answer_query_from (NULL: none; over TCP it carries the
 * keepalive our answer signals). Returns the answer's length; info describes it.
 */
size_t signed_answer(server_t *s, const answer_client_t *client, uint8_t *q, size_t qlen, bool tcp,
                     uint8_t *resp, size_t len, size_t cap, answer_info_t *info);
