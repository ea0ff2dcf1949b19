"""A local RFC 3161 timestamp authority for tests: root -> intermediate -> TSA certificates made
with `openssl`, and a route of a `SiteServer` on 127.0.0.1 that answers each query with
`openssl ts -reply`.

Three modes, as production TSAs behave: the reply carries the TSA's and the intermediate's
certificates but not the root (`include_root=False`, the usual case), or the root too; and a TSA
that is down (`down = True`: every query gets a 503)."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vaern.testing.siteserver import Exchange, SiteServer

TSA_CONF = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/sent.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5.6
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa_files(folder: Path, include_root: bool = False) -> None:
    """A self-signed test root, an intermediate it signed, and a TSA certificate (extendedKeyUsage
    timeStamping) the intermediate signed. `sent.pem` is what each reply carries."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=Test Root CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr",
             "-subj", "/CN=Test Intermediate CA", cwd=folder)
    (folder / "int.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
    _openssl("x509", "-req", "-in", "int.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "int.crt", "-days", "2", "-extfile", "int.ext", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=Test TSA", cwd=folder)
    (folder / "tsa.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n"
    )
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "int.crt", "-CAkey", "int.key", "-CAcreateserial",
             "-out", "tsa.crt", "-days", "2", "-extfile", "tsa.ext", cwd=folder)
    sent = (folder / "int.crt").read_bytes() + ((folder / "ca.crt").read_bytes() if include_root else b"")
    (folder / "sent.pem").write_bytes(sent)
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(TSA_CONF.format(dir=folder))


@dataclass
class LocalTsa:
    url: str
    folder: Path
    requests: list[bytes]
    down: bool = False

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.crt"


@contextmanager
def local_tsa(include_root: bool = False) -> Iterator[LocalTsa]:
    """A timestamp authority on a SiteServer (`POST /tsa`), with its CA, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="tsa-") as tmp:
        folder = Path(tmp)
        make_tsa_files(folder, include_root)
        lock = threading.Lock()
        seen: list[bytes] = []
        state: list[LocalTsa] = []

        def reply(ex: Exchange) -> None:
            if state and state[0].down:
                ex.send(503, b"", "text/plain")
                return
            seen.append(ex.body)
            with lock, tempfile.TemporaryDirectory(dir=folder) as work:
                (Path(work) / "q.tsq").write_bytes(ex.body)
                proc = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(folder / "tsa.cnf"), "-queryfile",
                     "q.tsq", "-out", "r.tsr"], cwd=work, capture_output=True,
                )
                answer = (Path(work) / "r.tsr").read_bytes() if proc.returncode == 0 else b""
            ex.send(200 if answer else 500, answer, "application/timestamp-reply")

        with SiteServer() as server:
            server.route("/tsa", reply)
            state.append(LocalTsa(server.url("/tsa"), folder, seen))
            yield state[0]
