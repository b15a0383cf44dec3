"""Benchmark: FF1 and AES-256-GCM through DuckDB vs a plain Python loop (issue 5).

Over the same 1M distinct card numbers, in one run:

- FF1: `CREATE TABLE AS SELECT veil_mask_fpe(card, 4, 'invalid')` (the Arrow UDF
  the dbt plugin registers) vs `[cipher.encrypt(v, keep_last=4, luhn="invalid") for v in values]`;
- AES-256-GCM: `veil_mask_encrypt(card, 'payments.card_number')` vs `[sealer.seal(v, ctx) for v in values]`.

Prints values/s for each and the ratio UDF time / loop time (target <= 1.3:
no per-row overhead beyond the cryptography itself).

    python scripts/bench/crypto_udfs.py [--values 1000000] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb

from veil.crypto.field import Sealer
from veil.crypto.fpe import FormatPreservingCipher
from veil.duckdb_functions import register_functions
from veil.keyring import keyring_from_key

BENCH_KEY = bytes(range(32))   # a fixed benchmark key, not a secret
TARGET = 1.3


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads (the loop has one)")
    args = parser.parse_args()

    keyring = keyring_from_key(BENCH_KEY)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    register_functions(con, keyring, {"VEIL_VAULT": ":memory:"})
    con.execute("CREATE TABLE cards AS SELECT '4' || lpad(CAST(i * 7919 % 1000000000000000 AS VARCHAR), 15, '0') "
                f"AS card FROM range({args.values}) t(i)")
    values = [v for (v,) in con.execute("SELECT card FROM cards").fetchall()]
    assert len(set(values)) == len(values), "values must be distinct: no cache may help either side"

    cipher = FormatPreservingCipher(keyring.primary("fpe").material)
    sealer = Sealer(keyring.primary("encrypt"))
    cases = {
        "FF1 (fpe, keep_last 4, luhn invalid)": (
            "veil_mask_fpe(card, 4, 'invalid')",
            lambda: [cipher.encrypt(v, keep_last=4, luhn="invalid") for v in values]),
        "AES-256-GCM (encrypt)": (
            "veil_mask_encrypt(card, 'payments.card_number')",
            lambda: [sealer.seal(v, "payments.card_number") for v in values]),
    }
    print(f"{args.values:,} distinct card numbers, DuckDB threads={args.threads}")
    ok = True
    for name, (call, loop) in cases.items():
        udf = timed(lambda: con.execute(f"CREATE OR REPLACE TABLE out AS SELECT {call} AS v FROM cards"))
        python = timed(loop)
        ratio = udf / python
        ok &= ratio <= TARGET
        print(f"  {name:<38} DuckDB UDF {args.values / udf:>9,.0f}/s  Python loop {args.values / python:>9,.0f}/s"
              f"  ratio {ratio:4.2f}x (target <= {TARGET}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
