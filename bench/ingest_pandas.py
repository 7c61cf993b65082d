#!/usr/bin/python3
"""ingest_pandas.py - the peer figure for bench_ingest: pandas.read_csv of the
same log with the same column types (categories as category dtype).
Usage: /usr/bin/python3 bench/ingest_pandas.py /tmp/offerq-bench/log.csv"""
import resource, sys, time
import pandas as pd

path = sys.argv[1]
t0 = time.perf_counter()
df = pd.read_csv(path, dtype={"category": "category", "coupon_offered": "category"},
                 parse_dates=["snapshot_date"], engine="c")
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"| pandas {pd.__version__} read_csv (C engine) | {len(df)} | - | {t:.3f} | "
      f"{len(df) / t / 1e6:.2f}M | - | {rss:.0f} MB |")
