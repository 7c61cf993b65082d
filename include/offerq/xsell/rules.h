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
 * Further measures of every rule, as R's arules interestMeasure() defines
 * them (Hahsler, "A probabilistic comparison of commonly used interest
 * measures for association rules", 2015; Brin et al. 1997 for conviction),
 * with n baskets, c(.) counts, X the lhs and y the rhs:
 *     coverage   = s(X)                          (arules' coverage, lhs support)
 *     leverage   = s(X u y) - s(X) s(y)          (Piatetsky-Shapiro 1991)
 *     conviction = (1 - s(y)) / (1 - confidence) (+infinity when confidence = 1,
 *                                                 written "Inf" as R prints it)
 *     chisq      = sum over the 2x2 table (X / not X) x (y / not y) of
 *                  (observed - expected)^2 / expected on counts of baskets,
 *                  expected = row total * column total / n, no continuity
 *                  correction (arules' chiSquared); in closed form
 *                  n (n c(X u y) - c(X) c(y))^2 / (c(X) (n - c(X)) c(y) (n - c(y))).
 *                  When a margin is empty (c(X) = n or c(y) = n) arules gets
 *                  NaN (0/0); here chisq = 0 (no evidence of dependence).
 * For a negative rule X => not y the same formulas hold with "not y" as the
 * rhs: s(not y) = 1 - s(y), s(X u not y) as below; so leverage is minus that
 * of X => y, conviction = s(y) / confidence(X => y), and chisq is that of
 * X => y (the same table, columns swapped).
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

/* Closed and maximal itemsets (Pasquier et al. 1999; Bayardo 1998), judged
 * within s: a set is closed when no proper superset in s has the same
 * count, maximal when no proper superset is in s. With s mined without a
 * length limit (max_len <= 0) these are the closed / maximal frequent
 * itemsets; with a limit, a set of max_len items has no superset in s. */
enum { OQ_ITEMSETS_FREQUENT = 0, OQ_ITEMSETS_CLOSED, OQ_ITEMSETS_MAXIMAL };
/* The kind of "frequent", "closed" or "maximal", or -1. */
int oq_itemsets_kind_parse(const char *name);
/* The sets of s of that kind and of at least min_len items, as a new set
 * (*out, oq_itemsets_free; in s's order). Closed / maximal are judged on all
 * of s (min_len only shortens the answer). OQ_EINVAL, OQ_ENOMEM. */
int oq_itemsets_select(const oq_itemsets *s, int kind, int min_len, oq_itemsets **out,
                       oq_error *err) OQ_WUR;
/* Write itemsets as CSV `items,size,support,count` (items in name order
 * joined by " & ", RFC 4180 quoting; support = count / n_baskets, %.10g),
 * sorted by support descending, then size, then item names; atomically. */
int oq_itemsets_write_csv(const oq_itemsets *s, const oq_dict *names, const char *path,
                          oq_error *err) OQ_WUR;

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
    uint64_t count;    /* baskets behind support: count(X u y) or count(X) - count(X u y) */
    double coverage;   /* s(X) */
    double leverage;   /* s(X u y) - s(X) s(y) */
    double conviction; /* (1 - s(y)) / (1 - confidence); INFINITY when confidence = 1 */
    double chisq;      /* chi-squared of the 2x2 table on counts (0 with an empty margin) */
} oq_rule;

/* Orders of a rule set (oq_rules_params.sort): the named measure descending,
 * ties (equal up to 1e-12 relative) broken by the default order: lift,
 * support, confidence descending, positive before negative, then lhs
 * (shorter first, then item names), then rhs name. */
enum {
    OQ_RULES_SORT_LIFT = 0, /* the default */
    OQ_RULES_SORT_SUPPORT,
    OQ_RULES_SORT_CONFIDENCE,
    OQ_RULES_SORT_COVERAGE,
    OQ_RULES_SORT_LEVERAGE,
    OQ_RULES_SORT_CONVICTION,
    OQ_RULES_SORT_CHISQ,
};
/* The sort of a measure's name ("lift", "support", "confidence",
 * "coverage", "leverage", "conviction", "chisq"), or -1 when unknown. */
int oq_rules_sort_parse(const char *name);

typedef struct oq_rules_params {
    double min_support;    /* (0, 1] */
    double min_confidence; /* [0, 1] */
    double min_lift;       /* default 0 (no filter, like arules) */
    int max_len;           /* largest |X| + 1; default 10 (arules' maxlen); <= 0: none */
    int negative;          /* also generate negative rules (default 0) */
    double neg_max_lift;   /* negative rules need lift(X => y) <= this; default 0.5 */
    size_t max_itemsets;   /* most frequent itemsets mined, else OQ_ELIMIT; default
                            * OQ_RULES_MAX_ITEMSETS; 0: no bound */
    int min_len;           /* smallest rule length |X| + 1 (arules' minlen); default 1,
                            * which like 2 keeps every rule (|X| >= 1) */
    int sort;              /* OQ_RULES_SORT_*; default OQ_RULES_SORT_LIFT */
    /* Appearance constraints, by item name (borrowed; NULL: no constraint).
     * A rule is kept only when every item of X is in lhs_items and y is in
     * rhs_items (for X => not y: the absent item y). An item may be in both
     * lists. A name that is not an item of the baskets is OQ_EINVAL. The
     * measures are those of the whole data: the lists only select rules. */
    const char *const *lhs_items;
    size_t n_lhs_items;
    const char *const *rhs_items;
    size_t n_rhs_items;
    /* Drop redundant rules (arules' is.redundant): X => y is redundant when
     * a more general rule X' => y (X' a non-empty proper subset of X, same
     * rhs and type) has confidence(X' => y) >= confidence(X => y). Every
     * such X' is judged, also rules other filters (min_len, appearance)
     * drop, so the answer does not depend on them; compared exactly, on
     * counts. Default 0. */
    int prune_redundant;
} oq_rules_params;

void oq_rules_params_default(oq_rules_params *p);

typedef struct oq_ruleset {
    size_t n, cap;
    oq_rule *rule;   /* (n) sorted by p->sort (default: lift desc, support desc,
                      * confidence desc, positive first, then by item names) */
    uint32_t *items; /* lhs storage */
    size_t n_items, cap_items;
    size_t n_baskets;
    size_t n_positive, n_negative;
    size_t n_itemsets;  /* frequent itemsets the rules came from */
    size_t n_redundant; /* rules the other filters kept, dropped as redundant */
    int sort;           /* the order of rule[] (OQ_RULES_SORT_*) */
} oq_ruleset;

/* Mine rules from baskets (names of b->items are used for the final sort).
 * *out is the caller's (oq_ruleset_free). OQ_EINVAL on bad parameters,
 * OQ_ELIMIT beyond p->max_itemsets frequent itemsets. */
int oq_rules_mine(const oq_baskets *b, const oq_rules_params *p, oq_ruleset **out,
                  oq_error *err) OQ_WUR;
/* Write rules as CSV
 * `type,lhs,rhs,support,confidence,lift,count,coverage,leverage,conviction,chisq`
 * (type positive|negative; lhs items in name order joined by " & "; rhs the
 * item y also for a negative rule; RFC 4180 quoting; numbers %.10g, an
 * infinite conviction "Inf") atomically to path. */
int oq_rules_write_csv(const oq_ruleset *r, const oq_dict *names, const char *path,
                       oq_error *err) OQ_WUR;
void oq_ruleset_free(oq_ruleset *r);

#endif
