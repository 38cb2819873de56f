"""Real Spark servers for the tests, started from the pyspark package's own jars on
loopback ports: a Spark Connect server (``sc://127.0.0.1:PORT``) and a standalone
cluster, a master with one worker (``spark://127.0.0.1:PORT``). Never a mock.

Each runs in a process group of its own, is ready when its port accepts a
connection (a worker: when its log says it registered with the master), shows its
log's tail when it fails to start, and is stopped with SIGTERM and then SIGKILL of
the whole group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

READY_SECONDS = 120
"""A server on a busy 2-core machine starts in 6–15 s; JIT and all, give it time."""


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def spark_connect_server(
    folder: Path, conf: Mapping[str, str], memory: str = "1g", token: str | None = None
) -> Iterator[str]:
    """Start a Spark Connect server (``local[2]``, ``memory`` of driver) writing under
    ``folder``; yields its ``sc://`` URL. With ``token``, the server takes only clients
    that present it (``spark.connect.authenticate.token``); the URL then names the host
    ``localhost`` (a token over plain gRPC only to localhost: elsewhere Spark's client
    asks for TLS) and carries ``;token=``."""
    port = free_port()
    log = folder / "spark-connect.log"
    settings = {
        **conf,
        **({"spark.connect.authenticate.token": token} if token else {}),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
    }
    argv = [
        str(spark_home() / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[2]",
        "--driver-memory",
        memory,
    ]
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-30:]
                raise RuntimeError(
                    f"Spark Connect did not start on port {port}:\n" + "\n".join(tail)
                )
            time.sleep(0.25)
        yield f"sc://localhost:{port}/;token={token}" if token else f"sc://127.0.0.1:{port}"
    finally:
        _stop(process)


@contextmanager
def spark_standalone(folder: Path, cores: int = 2, memory: str = "1g") -> Iterator[str]:
    """Start a standalone master and one worker (``cores``, ``memory`` for executors)
    under ``folder``; yields the master's ``spark://`` URL."""
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
    launch = str(spark_home() / "bin" / "spark-class")
    master_argv = [launch, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
    master_argv += ["--port", str(port), "--webui-port", str(free_port())]
    worker_argv = [launch, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1"]
    worker_argv += ["--cores", str(cores), "--memory", memory, "--webui-port", str(free_port())]
    worker_argv += ["--work-dir", str(folder / "work")]
    started: list[subprocess.Popen[bytes]] = []
    try:
        master_log = folder / "spark-master.log"
        started.append(_start(master_argv, master_log, env, folder))
        _wait(lambda: _listening(port), started[0], master_log, f"master on port {port}")
        worker_log = folder / "spark-worker.log"
        started.append(_start(worker_argv, worker_log, env, folder))
        _wait(
            lambda: "Successfully registered with master" in worker_log.read_text(errors="replace"),
            started[1],
            worker_log,
            "worker",
        )
        yield url
    finally:
        for process in reversed(started):
            _stop(process)


def _start(
    argv: list[str], log: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(f"the Spark {what} did not start:\n" + "\n".join(tail))
        time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        process.wait(timeout=15)
