#!/usr/bin/env python3
"""shard_of.py - offerq's shard of a customer, written again from the
definition (an independent reference for tests/cli/cli_pg_shards.sh):
splitmix64's finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom
number generators", OOPSLA 2014; the constants of Vigna's splitmix64.c)
applied to user_id + 0x9e3779b97f4a7c15, modulo the number of shards.

    python3 tools/shard_of.py N < ids      # one user_id a line -> its shard
"""
import sys

M64 = (1 << 64) - 1


def shard_of(u, n):
    if n <= 1:
        return 0
    z = (u + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return (z ^ (z >> 31)) % n


if __name__ == "__main__":
    n = int(sys.argv[1])
    for line in sys.stdin:
        if line.strip():
            print(shard_of(int(line), n))
