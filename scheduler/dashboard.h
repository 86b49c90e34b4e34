/* dashboard.h -- the page `serve` answers at /: scheduler/dashboard.html,
 * built into the binary (dashboard.c), so nothing is installed beside it and
 * nothing is fetched from elsewhere: the page's script and styles are inline
 * and it loads only /api/status.json from the same server. */
#ifndef HAUL_DASHBOARD_H
#define HAUL_DASHBOARD_H

#include <stddef.h>

/* The page's bytes (static, not NUL-counted) and their number. */
const char *haul_dashboard_html(void);
size_t haul_dashboard_len(void);

#endif
