"""Load test of ``mtlrec serve`` on loopback: throughput, latency, correctness.

Starts ``mtlrec serve RUN_DIR`` on a free loopback port (or uses ``--url``),
then runs phases of concurrent clients that send single rows and batches of
rows taken from the run's test split. Every response is checked against
``mtlrec.predict`` on the same rows; a non-200 answer, a transport error or a
prediction off by more than ``--tolerance`` is counted. Each phase is bounded
by a number of requests and a number of seconds.

Example::

    python benchmarks/load_serve.py /tmp/census-mmoe --data-dir /work/shared/data
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

import mtlrec
from mtlrec.data import load_splits


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="A trained run directory.")
    parser.add_argument("--data-dir", default=None, help="Base folder of its data.")
    parser.add_argument("--url", default=None, help="Use a running server.")
    parser.add_argument("--threads", type=int, default=1, help="Server threads.")
    parser.add_argument("--pool-rows", type=int, default=2000)
    parser.add_argument("--batch-rows", type=int, default=64)
    parser.add_argument("--single-clients", type=int, default=32)
    parser.add_argument("--single-requests", type=int, default=3000)
    parser.add_argument("--batch-clients", type=int, default=8)
    parser.add_argument("--batch-requests", type=int, default=400)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--json", default=None, help="Write the summary here.")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(run_dir: str, threads: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ)
    source = str(Path(mtlrec.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "mtlrec", "--quiet", "serve", run_dir]
    command += ["--port", str(port), "--threads", str(threads)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.25)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


def _cpu_seconds(pid: int | None) -> float | None:
    # User + system CPU time of the server process (Linux only).
    stat = Path(f"/proc/{pid}/stat")
    if pid is None or not stat.is_file():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pool(run_dir: str, data_dir: str | None, size: int) -> tuple[list, pd.DataFrame]:
    run = mtlrec.load_run(run_dir)
    frame = load_splits(run.config.data, data_dir or run.info.get("data_dir"))["test"]
    frame = frame.iloc[:size].reset_index(drop=True)
    features = run.feature_map.columns
    records = json.loads(frame[features].to_json(orient="records"))
    return records, mtlrec.predict(run, frame)


async def _phase(
    url: str,
    records: list[dict[str, Any]],
    expected: pd.DataFrame,
    rows_per_request: int,
    clients: int,
    requests: int,
    max_seconds: float,
    tolerance: float,
    server_pid: int | None = None,
) -> dict[str, Any]:
    latencies: list[float] = []
    counts = {"sent": 0, "errors": 0, "wrong": 0, "rows": 0}
    deadline = time.monotonic() + max_seconds

    async def client(worker: int, http: httpx.AsyncClient) -> None:
        while counts["sent"] < requests and time.monotonic() < deadline:
            index = counts["sent"]
            counts["sent"] += 1
            start = (index * rows_per_request + worker) % (
                len(records) - rows_per_request
            )
            chunk = slice(start, start + rows_per_request)
            began = time.perf_counter()
            try:
                response = await http.post(
                    url + "/predict", json={"rows": records[chunk]}
                )
            except httpx.HTTPError:
                counts["errors"] += 1
                continue
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                counts["errors"] += 1
                continue
            counts["rows"] += rows_per_request
            predictions = response.json()["predictions"]
            for name, values in predictions.items():
                want = expected[name].to_numpy()[chunk]
                if np.abs(np.asarray(values) - want).max() > tolerance:
                    counts["wrong"] += 1
                    break

    cpu_before = _cpu_seconds(server_pid)
    # One client (one keep-alive connection) per worker: a shared pool adds
    # lock contention on the client side that is not the server's cost.
    http_clients = [httpx.AsyncClient(timeout=30.0) for _ in range(clients)]
    began = time.perf_counter()
    await asyncio.gather(*(client(w, h) for w, h in enumerate(http_clients)))
    seconds = time.perf_counter() - began
    for http in http_clients:
        await http.aclose()
    cpu_after = _cpu_seconds(server_pid)
    done = len(latencies)
    server_cpu = (
        round((cpu_after - cpu_before) / max(done, 1) * 1000.0, 2)
        if cpu_before is not None and cpu_after is not None
        else None
    )
    millis = np.array(latencies) * 1000.0
    return {
        "rows_per_request": rows_per_request,
        "clients": clients,
        "requests": done,
        "seconds": round(seconds, 2),
        "requests_per_s": round(done / seconds, 1),
        "rows_per_s": round(counts["rows"] / seconds, 1),
        "p50_ms": round(float(np.percentile(millis, 50)), 2) if done else None,
        "p99_ms": round(float(np.percentile(millis, 99)), 2) if done else None,
        "server_cpu_ms_per_request": server_cpu,
        "errors": counts["errors"],
        "wrong": counts["wrong"],
    }


async def _run(
    args: argparse.Namespace,
    url: str,
    records: list,
    expected: pd.DataFrame,
    server_pid: int | None,
) -> dict:
    # A short warm-up so first-call costs do not count.
    await _phase(url, records, expected, 1, 2, 20, 30.0, args.tolerance)
    sequential = await _phase(
        url, records, expected, 1, 1, 200, args.max_seconds, args.tolerance, server_pid
    )
    single = await _phase(
        url,
        records,
        expected,
        1,
        args.single_clients,
        args.single_requests,
        args.max_seconds,
        args.tolerance,
        server_pid,
    )
    batch = await _phase(
        url,
        records,
        expected,
        args.batch_rows,
        args.batch_clients,
        args.batch_requests,
        args.max_seconds,
        args.tolerance,
        server_pid,
    )
    return {"sequential": sequential, "single": single, "batch": batch}


def main() -> None:
    """Run the load test and print a JSON summary."""
    args = _parse_args()
    records, expected = _pool(args.run_dir, args.data_dir, args.pool_rows)
    process, url = (
        (None, args.url) if args.url else _start_server(args.run_dir, args.threads)
    )
    try:
        pid = process.pid if process is not None else None
        phases = asyncio.run(_run(args, url, records, expected, pid))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    summary = {
        "run_dir": args.run_dir,
        "load_average": os.getloadavg(),
        "server_threads": args.threads,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "mtlrec": mtlrec.__version__,
        **phases,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if any(p["errors"] or p["wrong"] for p in phases.values()):
        raise SystemExit("errors or wrong answers; see the summary above")


if __name__ == "__main__":
    main()
