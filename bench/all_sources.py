"""Records/s loaded per cloud source from its emulator, beside each source's fetch-only baseline.

One entry point for the three per-vendor benchmarks (bench/sources_<vendor>.py), each of
which measures its source against a baseline in the same run:

    .venv/bin/python bench/all_sources.py [--runs 3] [--only shopify stripe]

(Not `bench/sources.py`: run as a script, bench/ comes first on sys.path and a file of
that name would shadow the `sources` package for every other benchmark.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDORS = ("shopify", "stripe", "mailchimp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=VENDORS, default=list(VENDORS))
    args = parser.parse_args()
    failed = []
    for vendor in args.only:
        print(f"\n== {vendor} ==", flush=True)
        result = subprocess.run([sys.executable, str(HERE / f"sources_{vendor}.py"), "--runs", str(args.runs)])
        if result.returncode:
            failed.append(vendor)
    if failed:
        sys.exit(f"error: the {', '.join(failed)} benchmark failed")


if __name__ == "__main__":
    main()
