"""`vaern verify` on a large archive: time and peak memory for N snapshots (default 10,000).

Builds an archive of N synthetic snapshots in a temporary folder, each with four files (unique
bytes, ~30 KB together) and an RFC 3161 token from the tests' local OpenSSL TSA (root ->
intermediate -> TSA, root configured as the trust anchor), the chain's head stamped every 500
entries. Then runs the archive's whole check (every file re-hashed, every manifest, the chain,
every token's signature and anchor, the head stamps) in a fresh process and prints its wall time
and peak resident memory, for N and for N/10, so that a memory that grows with the archive shows.
Target (the evidence-trust issue): under 60 s for 10,000 snapshots on the 2-core machine, memory flat.

    .venv/bin/python bench/verify.py [--snapshots N] [--keep DIR]

`--keep DIR` builds the archives (and the TSA's root) into DIR and reuses them on the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.storage.conftest import make_capture  # noqa: E402

from vaern.storage.archive import Archive  # noqa: E402
from vaern.testing.tsa import local_tsa  # noqa: E402

CHECK = """
import json, resource, sys, time
from pathlib import Path
from vaern.storage.archive import Archive
root, anchor = Path(sys.argv[1]), Path(sys.argv[2])
start = time.perf_counter()
report = Archive(root, tsa_ca_files=[anchor]).check()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "problems": len(report.problems), "chain": report.chain_length, "tokens_ok": report.tokens_ok,
                  "anchored_through": report.anchored_through}))
"""


def build(root: Path, count: int, tsa_url: str) -> float:
    start = time.perf_counter()
    archive = Archive(root, tsa_urls=[tsa_url])
    for n in range(1, count + 1):
        seed = n.to_bytes(4, "big")
        capture = make_capture(
            url=f"http://127.0.0.1:1/post/{n}",
            screenshot=b"\x89PNG" + os.urandom(16_000) + seed,
            html=b"<p>" + os.urandom(4_000).hex().encode()[:4_000] + seed + b"</p>",
            text=f"René Rosenkilde {n}".encode(),
            warc=os.urandom(8_000) + seed,
        )
        stored = archive.store(capture, n)
        if n % 500 == 0:
            archive.stamp_head(stored.manifest_path, stored.manifest_sha256, [tsa_url])
        if n % 1000 == 0:
            print(f"  built {n} snapshots ({time.perf_counter() - start:.0f} s)", flush=True)
    return time.perf_counter() - start


def check(root: Path, anchor: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHECK, str(root), str(anchor)], capture_output=True, text=True,
                         check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(count: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="vaern-bench-verify-") as tmp, local_tsa() as tsa:
        base = keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        anchor = base / "tsa-root.pem"
        for n in (max(1, count // 10), count):
            root = base / f"archive-{n}"
            if (base / f"archive-{n}.built").exists() and anchor.exists():
                built = 0.0
            else:
                shutil.rmtree(root, ignore_errors=True)
                anchor.write_bytes(tsa.ca_file.read_bytes())
                print(f"building an archive of {n} snapshots (one token each, head stamped every 500) ...",
                      flush=True)
                built = build(root, n, tsa.url)
                (base / f"archive-{n}.built").touch()  # only a whole archive is reused
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
            result = check(root, anchor)
            assert result["problems"] == 0 and result["chain"] == n, result
            print(f"{n:>6} snapshots ({size:,.0f} MB, built in {built:.0f} s): verify {result['seconds']:6.1f} s, "
                  f"peak memory {result['peak_mb']:6.1f} MB, {result['tokens_ok']:.0f} tokens anchored, "
                  f"chain anchored through entry {result['anchored_through']:.0f}")
    print("target: 10,000 snapshots verified in under 60 s on this machine, peak memory flat (N/10 vs N)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None, help="build the archives here and reuse them")
    arguments = parser.parse_args()
    main(arguments.snapshots, arguments.keep)
