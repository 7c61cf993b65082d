/* rules.h - market baskets, frequent itemsets (FP-growth) and positive and
 * negative association rules.
 *
 * Frequent itemsets: FP-growth (Han, Pei & Yin, "Mining frequent patterns
 * without candidate generation", SIGMOD 2000). An itemset Z is frequent when
 * count(Z) >= ceil(min_support * n - 1e-9), n = number of baskets (the
 * convention of Borgelt's apriori that R's arules calls).
 *
 * Positive rules (Agrawal, Imielinski & Swami 1993), with a single item as
 * consequent, as arules/apriori generate them: for every frequent Z with
 * 2 <= |Z| <= max_len and every y in Z, X = Z \ {y}:
 *     support(X => y)    = s(Z) = count(Z) / n
 *     confidence(X => y) = s(Z) / s(X)
 *     lift(X => y)       = confidence / s(y)
 * kept when confidence >= min_confidence and lift >= min_lift. Rules with an
 * empty lhs ({} => y) are never generated. With these conventions R's
 * `apriori(Groceries, parameter = list(support = 0.001, confidence = 0.5))`
 * gives the same 5,668 rules (tests/xsell/test_rules.c).
 *
 * Negative rules X => not y (docs/readme/rules.md; Wu, Zhang & Zhang, "Efficient mining of
 * both positive and negative association rules", TOIS 2004):
 *     s(X u not y)          = s(X) - s(X u y)
 *     confidence(X => not y) = 1 - confidence(X => y)
 *     lift(X => not y)       = confidence(X => not y) / (1 - s(y))
 * Nearly every pair (X, rare y) satisfies support and confidence for
 * "X => not y", so such a rule is only reported when it says something: it is
 * generated for a frequent X (1 <= |X| <= max_len - 1) and a frequent item
 * y not in X when
 *     (a) s(X) * s(y) >= min_support  (under independence X u y would be
 *         frequent: the absence is unexpected),
 *     (b) lift(X => y) <= neg_max_lift (default 0.5: y is bought with X at most
 *         half as often as independence predicts),
 *     (c) s(X u not y) >= min_support, confidence(X => not y) >=
 *         min_confidence, lift(X => not y) >= min_lift.
 * count(X u y) is counted exactly even when X u y is not frequent.
 *
 * Basket files: one basket per line, items separated by commas, RFC 4180
 * quoting allowed (an item name may contain spaces, commas in quotes). Like
 * arules' read.transactions (trimws), leading and trailing white space of an
 * item is removed ("cream cheese " in groceries.csv is "cream cheese") and
 * empty items are dropped; an item repeated in a basket counts once. Blank
 * lines are skipped (arules would count them as empty baskets); a file with
 * no basket, or whose last line has no newline (a file cut off), is
 * OQ_EPARSE. At most OQ_MAX_CATEGORIES distinct items.
 */
#ifndef OFFERQ_RULES_H
#define OFFERQ_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

/* ---- baskets --------------------------------------------------------------- */

typedef struct oq_baskets {
    size_t n;   /* baskets */
    size_t nnz; /* item occurrences (after de-duplication) */
    size_t cap_n, cap_nnz;
    uint64_t *off;  /* (n + 1) basket b owns item[off[b] .. off[b+1]) */
    uint32_t *item; /* (nnz) item ids, ascending and unique within a basket */
    oq_dict items;  /* names; an item's id is its position */
} oq_baskets;

/* Baskets are numbered with 32-bit ids (tid lists of the miner, ROCK's
 * item records): more is OQ_ELIMIT. */
#define OQ_MAX_BASKETS (UINT32_MAX - 1u)

/* Empty basket set (names interned with oq_dict_intern(&b->items, ...)).
 * NULL when out of memory. Free with oq_baskets_free. */
oq_baskets *oq_baskets_new(void);
/* Append a basket of k item ids (any order, repeats allowed: they are sorted
 * and de-duplicated). Ids must be < b->items.n. OQ_EINVAL / OQ_ENOMEM /
 * OQ_ELIMIT (more than OQ_MAX_BASKETS). */
int oq_baskets_add(oq_baskets *b, const uint32_t *ids, size_t k, oq_error *err) OQ_WUR;
/* Read a basket file (path "-" = stdin). *out is the caller's (oq_baskets_free);
 * NULL on error, with err naming file:line:column. */
int oq_baskets_read(const char *path, oq_baskets **out, oq_error *err) OQ_WUR;
/* Same from memory; name is used in messages. */
int oq_baskets_read_mem(const char *name, const char *data, size_t len, oq_baskets **out,
                        oq_error *err) OQ_WUR;
void oq_baskets_free(oq_baskets *b);

/* ---- frequent itemsets ------------------------------------------------------- */

typedef struct oq_itemsets {
    size_t n;         /* itemsets */
    size_t n_baskets; /* n of the basket set they were mined from */
    uint64_t *off;    /* (n + 1) set s owns item[off[s] .. off[s+1]) */
    uint32_t *item;   /* item ids, ascending within a set */
    uint64_t *count;  /* (n) baskets that contain the set */
    size_t cap, cap_items;
    uint32_t *slots; /* private: hash index (set + 1, 0 = empty) */
    size_t nslots;
} oq_itemsets;

/* The bound on mining: at most this many frequent itemsets by default. A
 * low support over long baskets has exponentially many (one basket of 30
 * items at support 0.5: 2^30), so without a bound memory grows until the
 * system kills the process. An itemset takes about 32 + 4 |Z| bytes (x2 for
 * the growth of the arrays), and each gives at most |Z| rules of about
 * 48 + 4 |Z| bytes: 1,000,000 itemsets of up to 10 items stay under ~1 GB
 * with their rules, and about 150 MB when the rules are few. */
#define OQ_RULES_MAX_ITEMSETS ((size_t)1000000)

/* All itemsets with count >= ceil(min_support * n) and 1 <= size <= max_len
 * (max_len <= 0 means no limit), by FP-growth. min_support in (0, 1].
 * *out is the caller's (oq_itemsets_free). OQ_EINVAL, OQ_ENOMEM, and
 * OQ_ELIMIT when there are more than OQ_RULES_MAX_ITEMSETS (the message
 * says which parameter to change). */
int oq_itemsets_mine(const oq_baskets *b, double min_support, int max_len, oq_itemsets **out,
                     oq_error *err) OQ_WUR;
/* Same with the bound max_itemsets (0: no bound). */
int oq_itemsets_mine_max(const oq_baskets *b, double min_support, int max_len, size_t max_itemsets,
                         oq_itemsets **out, oq_error *err) OQ_WUR;
/* Count of the itemset ids[0..k) (ascending ids) if it is in the set, else -1. */
int64_t oq_itemsets_count(const oq_itemsets *s, const uint32_t *ids, size_t k);
void oq_itemsets_free(oq_itemsets *s);

/* ---- rules --------------------------------------------------------------------- */

enum { OQ_RULE_POSITIVE = 0, OQ_RULE_NEGATIVE = 1 };

typedef struct oq_rule {
    int type;         /* OQ_RULE_POSITIVE (X => y) or OQ_RULE_NEGATIVE (X => not y) */
    uint32_t lhs_len; /* |X| >= 1 */
    uint64_t lhs_off; /* X = ruleset->items[lhs_off .. lhs_off + lhs_len), in name order */
    uint32_t rhs;     /* y */
    double support;   /* s(X u y), or s(X u not y) for a negative rule */
    double confidence;
    double lift;
    uint64_t count; /* baskets behind support: count(X u y) or count(X) - count(X u y) */
} oq_rule;

typedef struct oq_rules_params {
    double min_support;    /* (0, 1] */
    double min_confidence; /* [0, 1] */
    double min_lift;       /* default 0 (no filter, like arules) */
    int max_len;           /* largest |X| + 1; default 10 (arules' maxlen); <= 0: none */
    int negative;          /* also generate negative rules (default 0) */
    double neg_max_lift;   /* negative rules need lift(X => y) <= this; default 0.5 */
    size_t max_itemsets;   /* most frequent itemsets mined, else OQ_ELIMIT; default
                            * OQ_RULES_MAX_ITEMSETS; 0: no bound */
} oq_rules_params;

void oq_rules_params_default(oq_rules_params *p);

typedef struct oq_ruleset {
    size_t n, cap;
    oq_rule *rule;   /* (n) sorted: lift desc, support desc, confidence desc,
                      * positive first, then by item names */
    uint32_t *items; /* lhs storage */
    size_t n_items, cap_items;
    size_t n_baskets;
    size_t n_positive, n_negative;
    size_t n_itemsets; /* frequent itemsets the rules came from */
} oq_ruleset;

/* Mine rules from baskets (names of b->items are used for the final sort).
 * *out is the caller's (oq_ruleset_free). OQ_EINVAL on bad parameters,
 * OQ_ELIMIT beyond p->max_itemsets frequent itemsets. */
int oq_rules_mine(const oq_baskets *b, const oq_rules_params *p, oq_ruleset **out,
                  oq_error *err) OQ_WUR;
/* Write rules as CSV `type,lhs,rhs,support,confidence,lift,count` (type
 * positive|negative; lhs items in name order joined by " & "; rhs the item y
 * also for a negative rule; RFC 4180 quoting) atomically to path. */
int oq_rules_write_csv(const oq_ruleset *r, const oq_dict *names, const char *path,
                       oq_error *err) OQ_WUR;
void oq_ruleset_free(oq_ruleset *r);

#endif
