#!/usr/bin/env python3
"""Naive ROCK by its definitions (Guha, Rastogi & Shim 1999), for golden values.

No heaps, no bitsets: neighbours by Jaccard >= theta (a point is not its own
neighbour), link = number of common neighbours, and at every step the pair
of clusters with the largest goodness
    g = link[Ci,Cj] / ((ni+nj)^(1+2f) - ni^(1+2f) - nj^(1+2f)),  f = (1-t)/(1+t)
is merged (link[Ci,Cj] = sum of point links; ties: the pair found first in
cluster-creation order, as the C code's smaller-id rule), until k clusters
remain or no links are left. Clusters are numbered by decreasing size (ties:
smaller first point).

Writes, as `point,items,cluster`:
  tests/golden/rock/paper_example.csv  the paper's example data (the 3-subsets
      of {1..5} and of {1,2,6,7}), theta 0.5, k 2;
  tests/golden/rock/random.csv  90 random baskets from three overlapping item
      groups (random.Random(2024)), theta 0.35, k 3.
Usage: python3 tools/rock_reference.py   (from the source tree)
"""
import itertools
import random


def rock(rows, theta, k):
    n = len(rows)
    nb = [{j for j in range(n) if j != i and
           len(rows[i] & rows[j]) / len(rows[i] | rows[j]) >= theta} for i in range(n)]
    link = [[len(nb[i] & nb[j]) if i != j else 0 for j in range(n)] for i in range(n)]
    e = 1 + 2 * (1 - theta) / (1 + theta)
    cl = {i: [i] for i in range(n)}
    nid = n
    while len(cl) > k:
        best = None
        ids = sorted(cl)
        for a in ids:
            for b in ids:
                if a == b:
                    continue
                lk = sum(link[x][y] for x in cl[a] for y in cl[b])
                if lk == 0:
                    continue
                na, nb_ = len(cl[a]), len(cl[b])
                g = lk / ((na + nb_) ** e - na ** e - nb_ ** e)
                if best is None or g > best[0]:
                    best = (g, a, b)
        if best is None:
            break
        _, a, b = best
        cl[nid] = cl.pop(a) + cl.pop(b)
        nid += 1
    order = sorted(cl.values(), key=lambda c: (-len(c), min(c)))
    lab = [0] * n
    for c, pts in enumerate(order[:k], 1):
        for p in pts:
            lab[p] = c
    return lab


def write(path, rows, lab):
    with open(path, "w") as f:
        f.write("point,items,cluster\n")
        for i, (r, c) in enumerate(zip(rows, lab)):
            f.write(f"{i},{' '.join(map(str, sorted(r)))},{c}\n")


def main():
    rows = [set(c) for c in itertools.combinations([1, 2, 3, 4, 5], 3)]
    rows += [set(c) for c in itertools.combinations([1, 2, 6, 7], 3)]
    write("tests/golden/rock/paper_example.csv", rows, rock(rows, 0.5, 2))
    rng = random.Random(2024)
    groups = [list(range(1, 9)), list(range(7, 15)), list(range(13, 21))]
    rows = []
    for i in range(90):
        g = groups[i % 3]
        r = set(rng.sample(g, rng.randint(3, 6)))
        if rng.random() < 0.3:
            r.add(rng.randint(1, 20))
        rows.append(r)
    write("tests/golden/rock/random.csv", rows, rock(rows, 0.35, 3))


if __name__ == "__main__":
    main()
