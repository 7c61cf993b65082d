/* rawfeat.h - features a shop's raw orders and browsing events give each
 * contact, as of the contact's date and never looking ahead (issue 17).
 *
 * For customer u on day d, from u's orders and events strictly before d:
 *   recency_days      d - the last order's day (missing without an order)
 *   orders_before     orders before d (0 without)
 *   monetary_mean     mean order value (missing without an order)
 *   tenure_days       d - the first order's day (missing without an order)
 *   orders_<k>d       orders in [d - k, d) (0 without; k as visits_<k>d)
 *   p_alive           BG/NBD P(alive | x, t_x, T) (x = distinct order days - 1,
 *                     t_x = last - first, T = d - first, days; 1 without an
 *                     order), the model fitted once on the orders before the
 *                     campaign (before fit_end); left out when the fit ran to
 *                     a boundary or did not converge (a warning says so)
 *   fav_category      the most frequent category of the orders (text; ties:
 *                     the first in sorted order); only with a category column
 *   visits_<k>d       events in [d - k, d)                 (events only)
 *   days_since_visit  d - the last event's day (missing without one)
 *   fav_share         share of the events before d whose category is the
 *                     favourite (fav_category, or without orders the most
 *                     viewed category; missing without events)
 *   browse_repeat     (same + 0.3) / (pairs + 1) over consecutive events:
 *                     same = pairs on one category (missing without events)
 *   visit_rate        distinct event days / (d - the first event's day)
 *   browse_focus      sum over the events of log p_hi(e) - log p_lo(e),
 *                     p(e | earlier) = (1 - conc) / K + conc pi_e, conc 0.8
 *                     against 0.2, pi_e the earlier events' share of e's
 *                     category weighted exp(-0.05 x days ago), K categories
 *                     (0 without events): > 0 keeps to a drifting favourite
 *   browse_evidence   with orders and events: the log path's browse
 *                     concentration evidence (gross.h, oq_gross_evidence) of
 *                     u's events before d, the favourite filter's drift
 *                     fitted on the raw tables
 *   gross_value       g, gross.h's expected gross profit of u's next order
 *                     (oq_gross_predict: the level of u's order values before
 *                     d, shrunk; the category mix of the favourite filter
 *                     over u's events before d; each category's value effect
 *                     and margin)
 *     Both come from gross.c's own fit (oq_gross_fit), run on the raw tables
 *     mapped onto its inputs: users as their index in the sorted ids of the
 *     orders, events and contacts, categories as their levels (at most
 *     65,535), the orders with a value > 0 (an order's category: its day's
 *     event, gross.h step 1), the events with a category, and one log row
 *     per user and contact day of ct whose ordered contacts' summed value is
 *     the gross profit that gross.h step 4 divides by the day's order values
 *     for the margins. The fit reads only the orders, events and contacts
 *     dated before the day after ct's latest contact, so that rows appended
 *     after the campaign change neither it nor any contact's features.
 *     A prediction that is not a positive finite number (a fit without
 *     residual spread, every customer one order) is missing (NaN).
 *     Absent without orders or events, and (with a note) when the fit has
 *     no order with a category or no ordered contact matched to an order
 *     (no contacts: oq_rawfeat_new).
 *   contacts_control, contacts_offered      earlier contacts (before d) with
 *                     the control offer / with any other (oq_rawfeat_new2)
 *   order_rate_control, order_rate_offered  their order rates, smoothed:
 *                     (orders + 0.2) / (contacts + 1)
 * Orders and events of users not asked about are never read; users are
 * matched by their id text.
 */
#ifndef OFFERQ_RAWFEAT_H
#define OFFERQ_RAWFEAT_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"
#include "offerq/core/tables.h"
#include "offerq/coupon/bgnbd.h"

#define OQ_RAWFEAT_MAX 20

typedef struct oq_rawfeat oq_rawfeat;

typedef struct oq_rawfeat_info {
    int have_orders, have_events, has_category;
    int alive_used;          /* 1: the BG/NBD fit is sound and p_alive is a feature */
    size_t fit_customers;    /* customers with an order before fit_end */
    oq_bgnbd_fit_report fit; /* when fit_customers > 0 */
    int32_t fit_end;         /* orders before this day fit BG/NBD */
    size_t ncat;             /* categories over orders and events */
    /* the gross-profit model of gross.h (orders and events): fitted on the
       orders, events and contacts before filter_end, over filter_orders
       orders with a category; drift, conc, alpha: its favourite filter */
    int filter_used;      /* 1: browse_evidence and gross_value are features */
    int32_t filter_end;   /* the day after the latest contact (INT32_MAX: none) */
    size_t filter_orders; /* orders with a known category in the fit */
    size_t margin_rows;   /* ordered contact days matched to an order (margins) */
    double drift, conc, alpha, filter_loglik;
    char note[512]; /* what is not used and why ("" when all is) */
} oq_rawfeat_info;

/* Index orders and events (either may be NULL; both borrowed, must outlive
 * the result) and fit BG/NBD on the orders before fit_end. visit_days: k of
 * visits_<k>d (>= 1). OQ_ENOMEM; a failed fit is a note, not an error. */
int oq_rawfeat_new(const oq_txtab *orders, const oq_txtab *events, int32_t fit_end, int visit_days,
                   oq_rawfeat **out, oq_error *err) OQ_WUR;
/* Same, with the response history of the contacts ct and ho (either may be
 * NULL; borrowed, must outlive the result; contacts without dates are
 * left out) against the control offer (index; < 0: no history features). */
int oq_rawfeat_new2(const oq_txtab *orders, const oq_txtab *events, const oq_contacts *ct,
                    const oq_contacts *ho, int control, int32_t fit_end, int visit_days,
                    oq_rawfeat **out, oq_error *err) OQ_WUR;
const oq_rawfeat_info *oq_rawfeat_info_get(const oq_rawfeat *rf);

/* Which of the features above the tables (oq_rawfeat_contacts,
 * oq_rawfeat_customers) hold:
 *   OQ_RAWFEAT_FULL     every one (the default)
 *   OQ_RAWFEAT_COMPACT  one per kind of evidence, the log path's set
 *                       (response.h: recency, frequency in the last k days,
 *                       order value, P(alive), browse repeat, visit rate,
 *                       visits, the concentration evidence, g, the contact
 *                       history) plus fav_category: without orders_before,
 *                       tenure_days, days_since_visit, fav_share and
 *                       browse_focus, which repeat what those say (the
 *                       order count and tenure are in P(alive)'s x and T and
 *                       orders_<k>d, the last visit in visits_<k>d and
 *                       visit_rate, the favourite's share and focus in
 *                       browse_repeat and browse_evidence). `offerq run
 *                       --contacts` trains on this set by default: with the
 *                       five repeats its trees chose worse offers in every
 *                       world measured (docs/readme/realdata.md).
 * Returns 0, or -1 for another value. */
#define OQ_RAWFEAT_FULL 0
#define OQ_RAWFEAT_COMPACT 1
int oq_rawfeat_set_features(oq_rawfeat *rf, int set);
/* The names of the features computed (extra 0: in both sets; 1: only in
 * the full set) into names (OQ_RAWFEAT_MAX), borrowed from rf; returns how
 * many. */
size_t oq_rawfeat_names(const oq_rawfeat *rf, int extra, const char **names);
/* The gross-profit model fitted on the raw tables (browse_evidence,
 * gross_value), or NULL without one; borrowed from rf. */
const struct oq_gross *oq_rawfeat_gross(const oq_rawfeat *rf);
void oq_rawfeat_free(oq_rawfeat *rf);

/* The model's table of the contacts ct: one row per contact, cust's
 * attributes of its customer plus the features above as of its date, and
 * ct->xrow set to each contact's row (so uplift.h's functions read it).
 * ct needs dates (OQ_EINVAL naming the file otherwise); a contact whose
 * customer is not in cust is OQ_EPARSE naming file:line:column. */
int oq_rawfeat_contacts(const oq_rawfeat *rf, const oq_customers *cust, oq_contacts *ct,
                        oq_customers **out, oq_error *err) OQ_WUR;
/* Every customer of cust as of day asof (one row each, ids indexed): what
 * recommendations are made from. */
int oq_rawfeat_customers(const oq_rawfeat *rf, const oq_customers *cust, int32_t asof,
                         oq_customers **out, oq_error *err) OQ_WUR;

#endif
