"""The HTTP service: ``POST /predict``, ``GET /health``, ``GET /metadata``."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import torch

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"serving needs the package {exc.name!r}; install it with "
        "`pip install 'mtlrec[serve]'`"
    ) from None

from mtlrec.config import parse_config
from mtlrec.serving._batcher import MicroBatcher
from mtlrec.serving._requests import RequestError
from mtlrec.serving._scorer import Scorer
from mtlrec.training import LoadedRun, load_run

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)

# Bodies up to this size are parsed on the event loop (well under a
# millisecond); larger ones in a worker thread, so they do not stall it.
_INLINE_PARSE_BYTES = 64 * 1024


def create_app(run: str | Path | LoadedRun, overrides: Sequence[str] = ()) -> FastAPI:
    """Build the FastAPI application that scores rows with a trained run.

    Args:
        run: A run directory or a run loaded with :func:`~mtlrec.load_run`.
        overrides: Dotted ``serving.*`` settings that replace the run's
            (e.g. ``serving.score.weights.income=2``); default none.

    Returns:
        The application; bad requests get a 4xx JSON body
        ``{"error": {"message", "field"}}``.

    Raises:
        FileNotFoundError: ``run`` is not a finished run directory.
        ValueError: An override sets a key outside ``serving`` or breaks a rule.
    """
    loaded = run if isinstance(run, LoadedRun) else load_run(run)
    if overrides:
        loaded = _with_overrides(loaded, overrides)
    scorer = Scorer(loaded)
    limit = scorer.config.max_body_bytes
    batcher = MicroBatcher(scorer.score_rows, scorer.config.max_batch_rows)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="mtlrec",
        version=scorer.metadata()["version"]["mtlrec"],
        summary=f"{loaded.config.model.name} run {loaded.path.name}",
    )

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Request failed. path=%s", request.url.path)
        body = {"error": {"message": f"internal error: {exc}", "field": None}}
        return JSONResponse(body, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        return scorer.metadata()

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        body = await _read_body(request, limit)
        if len(body) > _INLINE_PARSE_BYTES:
            rows = await run_in_threadpool(scorer.parse, body)
        else:
            rows = scorer.parse(body)
        # Encoding and the forward pass run in a worker thread, joined with
        # other waiting requests; the event loop keeps accepting meanwhile.
        scores = await batcher.submit(rows)
        return JSONResponse(scorer.response(scores))

    return app


def _with_overrides(run: LoadedRun, overrides: Sequence[str]) -> LoadedRun:
    outside = [item for item in overrides if not item.startswith("serving.")]
    if outside:
        raise ValueError(
            f"serve overrides may only set serving.* keys, got {outside!r}; retrain "
            "to change anything else"
        )
    config = parse_config(run.config.model_dump(mode="json"), overrides)
    return dataclasses.replace(run, config=config)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(413, _too_large(int(length), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, _too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"the body holds at least {size} bytes, more than serving.max_body_bytes="
        f"{limit}; send fewer rows per request"
    )


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int | None = None,
    access_log: bool = False,
    log_level: str = "info",
    overrides: Sequence[str] = (),
) -> None:
    """Serve a trained run over HTTP until interrupted.

    Args:
        run_dir: The run directory.
        host: Interface to bind (default ``127.0.0.1``, this machine only).
        port: TCP port (default 8000).
        threads: PyTorch intra-op threads (default: PyTorch's choice).
        access_log: Log every request (default False).
        log_level: uvicorn's log level (default ``"info"``).
        overrides: Dotted ``serving.*`` settings (see :func:`create_app`).

    Raises:
        FileNotFoundError: ``run_dir`` is not a finished run.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    app = create_app(run_dir, overrides)
    if not _is_loopback(host):
        logger.warning(
            "The service listens beyond this machine; it has no authentication. "
            "host=%s",
            host,
        )
    logger.info("Serving run. run_dir=%s url=http://%s:%d", run_dir, host, port)
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level=log_level)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
