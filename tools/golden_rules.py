#!/usr/bin/env python3
"""Reference values for offerq's association rules and itemsets, on Groceries.

An independent implementation in pure Python (no numpy, no offerq code): a
level-wise Apriori (Agrawal & Srikant 1994) over tid-sets held as Python
integers (bit b = basket b), every count an AND and a popcount. Rules and
measures follow the definitions of R's arules (interestMeasure, is.redundant)
and offerq's negative rules as docs/readme/rules.md states them; nothing is
computed the way src/xsell/rules.c computes it:
  - chi-squared: sum over the 4 cells of (observed - expected)^2 / expected
    (rules.c uses the closed form n (ad - bc)^2 / margins);
  - conviction: (1 - s(rhs)) / (1 - confidence) in floats, inf when
    confidence = 1 (rules.c works on counts);
  - redundancy: every non-empty proper subset of the lhs enumerated
    (rules.c compares the generated rules pairwise);
  - closed / maximal: each frequent (k+1)-set marks its k-subsets
    (rules.c looks up one-item extensions).

Input: ../shared/data/groceries.csv (9,835 baskets, 169 items; arules:
5,668 rules at support 0.001, confidence 0.5, which this script reproduces
and asserts). Writes:
  tests/golden/rules/groceries_rules.csv
      type,lhs,rhs,count,support,confidence,lift,coverage,leverage,conviction,chisq
      at support 0.001, confidence 0.5: every 20th positive rule in (lhs
      names, rhs) order, every rule with conviction Inf, and every 5th
      negative rule (offerq's --negative, neg-max-lift 0.5); 17 digits,
      conviction "Inf" as R prints it.
  tests/golden/rules/groceries_counts.csv
      what,min_support,min_confidence,options,count: rule counts with the
      options of `offerq rules` (min_len=K, lhs=a|b, rhs=a|b, prune,
      negative) and itemset counts (itemsets=frequent|closed|maximal).
  tests/golden/rules/groceries_top.csv
      measure,rank,value: the 20 largest values of each measure among the
      5,668 rules (what --sort must put first, whatever the ties).
Usage: python3 tools/golden_rules.py [SHARED_DIR]   (from the source tree;
SHARED_DIR defaults to ../shared). Runs in about a second.
"""
import csv
import itertools
import math
import os
import sys

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared"
OUT = "tests/golden/rules"


def read_baskets(path):
    """arules' read.transactions: items trimmed, empty ones dropped, a
    repeated item counted once; blank lines skipped (offerq's choice)."""
    baskets = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            items = {x.strip() for x in row if x.strip()}
            if items:
                baskets.append(items)
    return baskets


def tidsets(baskets):
    t = {}
    for b, items in enumerate(baskets):
        for x in items:
            t[x] = t.get(x, 0) | (1 << b)
    return t


def apriori(items, tids, n, minc, max_len=0):
    """All itemsets (sorted name tuples) with count >= minc: {set: (count, tids)}."""
    level = {}
    for x in sorted(items):
        c = tids[x].bit_count()
        if c >= minc:
            level[(x,)] = (c, tids[x])
    freq = dict(level)
    k = 1
    while level and (max_len <= 0 or k < max_len):
        keys = sorted(level)
        nxt = {}
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if a[:-1] != b[:-1]:
                    break
                cand = a + (b[-1],)
                if any(cand[:j] + cand[j + 1:] not in level for j in range(len(cand) - 2)):
                    continue
                t = level[a][1] & tids[b[-1]]
                c = t.bit_count()
                if c >= minc:
                    nxt[cand] = (c, t)
        freq.update(nxt)
        level = nxt
        k += 1
    return freq


def chisq_cells(n, cx, cy, cxy):
    obs = [cxy, cx - cxy, cy - cxy, n - cx - cy + cxy]
    row, col = [cx, n - cx], [cy, n - cy]
    x2 = 0.0
    for i in range(4):
        e = row[i // 2] * col[i % 2] / n
        if e == 0:
            return 0.0  # an empty margin (arules: NaN; offerq: 0)
        x2 += (obs[i] - e) ** 2 / e
    return x2


def measures(n, cx, cy, cxy):
    """Of X => r with counts c(X), c(r), c(X u r); r may be "not y"."""
    supp, sx, sy = cxy / n, cx / n, cy / n
    conf = cxy / cx
    return {
        "support": supp,
        "confidence": conf,
        "lift": conf / sy,
        "coverage": sx,
        "leverage": supp - sx * sy,
        "conviction": math.inf if cxy == cx else (1 - sy) / (1 - conf),
        "chisq": chisq_cells(n, cx, cy, cxy),
    }


def count_of(freq, tids, n, s):
    if not s:
        return n
    s = tuple(sorted(s))
    if s in freq:
        return freq[s][0]
    t = (1 << n) - 1
    for x in s:
        t &= tids[x]
    return t.bit_count()


def mine_rules(freq, tids, n, min_support, minconf, max_len=10, negative=False,
               neg_max_lift=0.5):
    """Rules as dicts: type, lhs (name tuple), rhs, count, cx, cy, cxy."""
    minc = max(1, math.ceil(min_support * n - 1e-9))
    rules = []
    for z, (cz, _) in freq.items():
        if len(z) < 2 or len(z) > max_len:
            continue
        for y in z:
            x = tuple(v for v in z if v != y)
            cx = freq[x][0]
            if cz / cx >= minconf - 1e-12:
                rules.append(dict(type="positive", lhs=x, rhs=y, count=cz, cx=cx,
                                  cy=freq[(y,)][0], cxy=cz))
    if negative:
        single = {z[0]: c for z, (c, _) in freq.items() if len(z) == 1}
        for x, (cx, tx) in freq.items():
            if len(x) + 1 > max_len:
                continue
            for y, cyy in single.items():
                # under independence X u y would be frequent: s(X) s(y) >= S
                if y in x or (cx / n) * (cyy / n) < min_support - 1e-12:
                    continue
                cxy = (tx & tids[y]).bit_count()
                if (cxy / cx) / (cyy / n) > neg_max_lift + 1e-12:
                    continue
                cneg = cx - cxy
                if cneg < minc or cneg / cx < minconf - 1e-12:
                    continue
                rules.append(dict(type="negative", lhs=x, rhs=y, count=cneg, cx=cx,
                                  cy=n - cyy, cxy=cneg, cy_pos=cyy, cxy_pos=cxy))
    return rules


def redundant(r, freq, tids, n):
    """arules' is.redundant: a non-empty proper subset X' of X with
    conf(X' => rhs) >= conf(X => rhs); compared exactly on counts."""
    x, y = r["lhs"], r["rhs"]
    for k in range(1, len(x)):
        for sub in itertools.combinations(x, k):
            cs = count_of(freq, tids, n, sub)
            csy = count_of(freq, tids, n, sub + (y,))
            num = csy if r["type"] == "positive" else cs - csy
            if num * r["cx"] >= r["count"] * cs:
                return True
    return False


def closed_maximal(freq):
    closed = {s: True for s in freq}
    maximal = {s: True for s in freq}
    for t, (ct, _) in freq.items():
        if len(t) < 2:
            continue
        for j in range(len(t)):
            s = t[:j] + t[j + 1:]
            maximal[s] = False
            if freq[s][0] == ct:
                closed[s] = False
    return sum(closed.values()), sum(maximal.values())


def fmt(v):
    if v == math.inf:
        return "Inf"
    return repr(float(v)) if isinstance(v, float) else str(v)


def main():
    baskets = read_baskets(os.path.join(SHARED, "data/groceries.csv"))
    n = len(baskets)
    tids = tidsets(baskets)
    assert n == 9835 and len(tids) == 169, (n, len(tids))
    os.makedirs(OUT, exist_ok=True)
    counts = []

    # itemsets and their kinds, at three supports (no length limit)
    for sup in (0.001, 0.005, 0.01):
        minc = max(1, math.ceil(sup * n - 1e-9))
        freq = apriori(tids.keys(), tids, n, minc)
        ncl, nmx = closed_maximal(freq)
        counts += [("itemsets", sup, "", "itemsets=frequent", len(freq)),
                   ("itemsets", sup, "", "itemsets=closed", ncl),
                   ("itemsets", sup, "", "itemsets=maximal", nmx)]
        print(f"support {sup}: {len(freq)} frequent, {ncl} closed, {nmx} maximal itemsets",
              file=sys.stderr)

    # rules at arules' documented setting
    min_support, minconf = 0.001, 0.5
    minc = math.ceil(min_support * n - 1e-9)
    freq = apriori(tids.keys(), tids, n, minc, max_len=10)
    rules = mine_rules(freq, tids, n, min_support, minconf, negative=True)
    pos = [r for r in rules if r["type"] == "positive"]
    neg = [r for r in rules if r["type"] == "negative"]
    assert len(pos) == 5668, len(pos)  # arules: "set of 5668 rules"
    for r in rules:
        r.update(measures(n, r["cx"], r["cy"], r["cxy"]))
    counts.append(("rules", min_support, minconf, "", len(pos)))
    counts.append(("rules", min_support, minconf, "negative", len(pos) + len(neg)))
    for k in (3, 4, 5):
        counts.append(("rules", min_support, minconf, f"min_len={k}",
                       sum(len(r["lhs"]) + 1 >= k for r in pos)))
    counts.append(("rules", min_support, minconf, "rhs=whole milk",
                   sum(r["rhs"] == "whole milk" for r in pos)))
    counts.append(("rules", min_support, minconf, "rhs=whole milk|yogurt",
                   sum(r["rhs"] in ("whole milk", "yogurt") for r in pos)))
    lhs_ok = {"other vegetables", "yogurt", "root vegetables", "tropical fruit", "butter",
              "whipped/sour cream", "curd", "citrus fruit"}
    counts.append(("rules", min_support, minconf, "lhs=" + "|".join(sorted(lhs_ok)),
                   sum(set(r["lhs"]) <= lhs_ok for r in pos)))
    counts.append(("rules", min_support, minconf,
                   "lhs=" + "|".join(sorted(lhs_ok)) + ";rhs=whole milk",
                   sum(set(r["lhs"]) <= lhs_ok and r["rhs"] == "whole milk" for r in pos)))
    nonred = [r for r in pos if not redundant(r, freq, tids, n)]
    counts.append(("rules", min_support, minconf, "prune", len(nonred)))
    nonred_all = [r for r in rules if not redundant(r, freq, tids, n)]
    counts.append(("rules", min_support, minconf, "negative;prune", len(nonred_all)))
    counts.append(("rules", min_support, minconf, "prune;min_len=4;rhs=whole milk",
                   sum(len(r["lhs"]) + 1 >= 4 and r["rhs"] == "whole milk" for r in nonred)))
    print(f"support 0.001, confidence 0.5: {len(pos)} rules (arules: 5668), {len(neg)} negative, "
          f"{len(nonred)} not redundant", file=sys.stderr)

    cols = ["support", "confidence", "lift", "coverage", "leverage", "conviction", "chisq"]
    with open(os.path.join(OUT, "groceries_counts.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["what", "min_support", "min_confidence", "options", "count"])
        for row in counts:
            w.writerow(row)

    key = lambda r: (r["lhs"], r["rhs"])
    pos.sort(key=key)
    neg.sort(key=key)
    pick = [r for i, r in enumerate(pos) if i % 20 == 0 or r["conviction"] == math.inf]
    pick += [r for i, r in enumerate(neg) if i % 5 == 0]
    with open(os.path.join(OUT, "groceries_rules.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["type", "lhs", "rhs", "count"] + cols)
        for r in pick:
            w.writerow([r["type"], " & ".join(r["lhs"]), r["rhs"], r["count"]] +
                       [fmt(r[c]) for c in cols])

    with open(os.path.join(OUT, "groceries_top.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["measure", "rank", "value"])
        for c in cols:
            for i, v in enumerate(sorted((r[c] for r in pos), reverse=True)[:20]):
                w.writerow([c, i + 1, fmt(v)])
    print(f"wrote {len(pick)} rules, {len(counts)} counts, {20 * len(cols)} top values "
          f"to {OUT}/", file=sys.stderr)


if __name__ == "__main__":
    main()
