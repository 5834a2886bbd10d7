/* tickets.h: the tickets service: tickets for sale, and the site's landing
 * page and 404 page (nginx sends every path no other service owns here). */
#ifndef TX_TICKETS_H
#define TX_TICKETS_H

#include "core/http.h"

extern const struct tx_service tickets_service;

tx_handler tickets_page_index;

#endif
