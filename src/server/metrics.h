/* SPDX-License-Identifier: MIT */
/* metrics: /metrics in the Prometheus text format, and /health: what the zones' states mean. */
#pragma once

#include "ctl.h"
#include "server.h"

/*
 * GET /metrics: appends the Prometheus text format (version 0.0.4) to r: the workers' counters
 * summed, every zone's serial, timers and states, its transfers, its fleet (docs/monitoring.md).
 * Zone manager thread only: it reads zone and fleet state.
 */
void metrics_render(server_t *s, ctl_reply_t *r);

/*
 * GET /health: appends {"status": "ok"} or {"status": "degraded"|"fail", "zones": [...]}, each
 * zone that is not ok with its reasons (fleet_verdict); returns the HTTP status, 503 for fail
 * and 200 otherwise. Zone manager thread only.
 */
unsigned metrics_health(server_t *s, ctl_reply_t *r);
