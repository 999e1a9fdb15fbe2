"""The ASGI app of `paddle-pp serve` (Starlette): routes, limits, errors, API key, CORS, metrics.

Routes: POST /ocr (an image, PDF or TIFF as a multipart upload, the raw body or JSON {"image": base64};
the answer as JSON, txt, hOCR or a searchable PDF: paddle_pp/serving/documents.py), POST /predict/ocr_system
(PaddleOCR hubserving's request and response), GET / (the web page and its /static files), GET /healthz,
GET /readyz, GET /metrics. Every error is JSON {"error": {"code", "message"}} with its status; no traceback
ever reaches a client. The server never fetches a URL and never opens a path taken from a request: uploads are
bytes, file names are only echoed as page ids.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from paddle_pp.resources import package_path
from paddle_pp.serving.documents import XHTML, ResponseBuilder, decode_upload, error_status
from paddle_pp.serving.metrics import Metrics
from paddle_pp.serving.options import OptionError, applied, parse_options
from paddle_pp.serving.workers import OcrPool, QueueFull
from paddle_pp.utils.errors import printable
from paddle_pp.utils.image_io import ImageOptions, ImageReadError

log = logging.getLogger("paddle_pp.serve")
STATIC_DIR = package_path("serving", "static")
# The only files GET / and /static serve: a fixed table, never a path from the request.
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
PUBLIC_PATHS = ("/healthz", "/readyz")   # no API key: a load balancer's probes
MULTIPART_OVERHEAD = 64 * 1024           # boundaries and part headers around the file in a multipart body
MAX_NAME = 200                           # characters of an uploaded file name kept as its page id
MAX_PASSWORD = 1024                      # characters of a pdf_password
# Accept header media types -> (format, the response's media type); the first acceptable one by q wins
ACCEPTED = {"application/json": ("json", None), "text/plain": ("txt", None), "text/html": ("hocr", None),
            "application/xhtml+xml": ("hocr", XHTML), "application/pdf": ("pdf", None)}


@dataclass
class Settings:
    """The server's limits and switches: paddle-pp serve's flags take their defaults from here."""
    max_upload_bytes: int = 20 * 1024 * 1024
    max_json_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 0
    max_pages: int = 100
    max_images: int = 16
    timeout: float = 60.0
    read_timeout: float = 30.0
    retry_after: int = 1
    api_key: Optional[str] = None
    cors_origins: Tuple[str, ...] = ()


@dataclass
class ServerState:
    pool: OcrPool
    settings: Settings
    metrics: Metrics
    draining: bool = False   # set at the first SIGTERM/SIGINT: new OCR requests get 503, readyz fails
    started: float = field(default_factory=time.time)


class ApiError(Exception):
    """An error answered as JSON {"error": {"code", "message"}} with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, printable(message), headers or {}


def error_body(code: str, message: str) -> Dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)


# ---------------------------------------------------------------- middleware (pure ASGI)

async def _send_error(send: Callable, exc: ApiError) -> None:
    body = json.dumps(error_body(exc.code, exc.message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class MetricsMiddleware:
    """Counts every request by route and status, with its latency (a crash counts as 500)."""

    def __init__(self, app: Callable, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def send_status(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.state.metrics.observe(scope["path"], status[0], time.perf_counter() - start)


def api_key_matches(headers: Dict[str, str], key: str) -> bool:
    """X-API-Key: KEY, Authorization: Bearer KEY, or HTTP Basic with KEY as the password (what a browser asks
    for on the web page); compared in constant time."""
    offered = []
    if "x-api-key" in headers:
        offered.append(headers["x-api-key"])
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        offered.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            offered.append(base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2])
        except (binascii.Error, UnicodeDecodeError):
            pass
    expected = key.encode("utf-8")
    # every offered value is compared (no early exit on the first header's mismatch)
    return any([hmac.compare_digest(o.encode("utf-8", "surrogateescape"), expected) for o in offered])


class ApiKeyMiddleware:
    """Every route but the health probes needs the API key, when the server has one."""

    def __init__(self, app: Callable, key: Optional[str]) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not self.key or scope["path"] in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not api_key_matches(headers, self.key):
            return await _send_error(send, ApiError(
                401, "unauthorized", "missing or wrong API key (X-API-Key, Authorization: Bearer, or Basic)",
                {"WWW-Authenticate": 'Basic realm="paddle-pp", charset="UTF-8"'}))
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Request bodies are bounded in size (413) and in the time between two chunks (408): a declared
    Content-Length over the limit is refused before a byte is read, a chunked body when it passes the limit,
    and a client that stalls mid-upload (slowloris) is cut after `read_timeout` seconds."""

    def __init__(self, app: Callable, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def limit(self, headers: Dict[str, str]) -> Tuple[int, str]:
        if headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
            return self.settings.max_json_bytes, "--max_json_bytes"
        return self.settings.max_upload_bytes + MULTIPART_OVERHEAD, "--max_upload_bytes"

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit, flag = self.limit(headers)
        too_large = ApiError(413, "too_large", f"the request body is larger than the limit of {limit:,} bytes "
                                               f"({flag})")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await _send_error(send, too_large)
        received, finished = 0, False
        read_timeout = self.settings.read_timeout

        async def limited_receive() -> Dict[str, Any]:
            nonlocal received, finished
            if finished:  # the body is in: what follows is the disconnect, however late
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), read_timeout)
            except asyncio.TimeoutError:
                raise ApiError(408, "upload_too_slow",
                               f"no data from the client for {read_timeout:g} s while reading the body") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
                if received > limit:
                    raise too_large
            return message

        await self.app(scope, limited_receive, send)


# ---------------------------------------------------------------- reading a request

def _state(request: Request) -> ServerState:
    return request.app.state.serving


def _reserve(state: ServerState):
    """A place in the worker pool, or 503 at once (full, or shutting down)."""
    retry = {"Retry-After": str(state.settings.retry_after)}
    if state.draining:
        raise ApiError(503, "shutting_down", "the server is shutting down; retry on another instance", retry)
    try:
        return state.pool.reserve()
    except QueueFull as exc:
        raise ApiError(503, "queue_full", f"{exc}; retry later", retry) from None


def _options(request: Request) -> Dict[str, Any]:
    try:
        return parse_options(request.query_params, lambda name: len(request.query_params.getlist(name)))
    except OptionError as exc:
        raise ApiError(400 if exc.unknown else 422, "bad_option", str(exc)) from None


def _format(request: Request, options: Dict[str, Any]) -> Tuple[str, Optional[str]]:
    """(format, media type or None for the format's own): format= wins; else the Accept header's most preferred
    type we give (application/json, text/plain, text/html or application/xhtml+xml for hOCR, application/pdf);
    else json (also for */*)."""
    if "format" in options:
        return options["format"], None
    offered = []
    for position, item in enumerate(request.headers.get("accept", "").split(",")):
        media, *params = [part.strip() for part in item.split(";")]
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() in ACCEPTED and quality > 0:
            offered.append((-quality, position, media.lower()))
    return ACCEPTED[min(offered)[2]] if offered else ("json", None)


def _safe_name(name: Optional[str], fallback: str) -> str:
    """An uploaded file's name as a page id: its last path component, printable and short. Never opened."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return printable(base, MAX_NAME) if base and base not in (".", "..") else fallback


def _b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ApiError(400, "bad_request", f"{what} must be a base64 string, got {type(text).__name__}")
    if text.startswith("data:") and "," in text[:200]:   # a data URL, as browsers and RapidOCR clients send
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_base64", f"{what} is not valid base64") from None


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"the body is not valid JSON ({exc})") from None


def _password(value: Any) -> Optional[str]:
    """A pdf_password from the body: a string (empty = none). Never echoed in a message or a log."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_PASSWORD:
        raise ApiError(422, "bad_option", f"pdf_password must be a string of at most {MAX_PASSWORD} characters")
    return value


async def _read_upload(request: Request) -> Tuple[str, bytes, Optional[str]]:
    """(page id, file bytes, pdf_password) of POST /ocr: multipart (the first file part, and a pdf_password
    field), JSON {"image": base64, "name"?, "pdf_password"?}, or the raw file as the body (image/*,
    application/pdf, application/octet-stream; no password then)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)
        except MultiPartException as exc:
            raise ApiError(400, "bad_multipart", f"cannot read the multipart body ({exc.message})") from None
        try:
            files = [value for _, value in form.multi_items() if not isinstance(value, str)]
            if not files:
                raise ApiError(400, "no_file", "the multipart body holds no file (send it as -F file=@NAME)")
            password = _password(form.get("pdf_password"))
            return _safe_name(files[0].filename, "upload"), await files[0].read(), password
        finally:
            await form.close()
    if media == "application/json":
        body = await _json_body(request)
        if not isinstance(body, dict) or "image" not in body:
            raise ApiError(400, "bad_request", 'the JSON body must be an object {"image": "<base64>"}')
        password = _password(body.get("pdf_password"))
        return _safe_name(body.get("name"), "image"), _b64decode(body["image"], "image"), password
    if media.startswith("image/") or media in ("application/pdf", "application/octet-stream"):
        return "upload", await request.body(), None
    raise ApiError(415, "unsupported_media_type",
                   f"Content-Type {media or '(none)'} is not accepted; send multipart/form-data, "
                   "application/json {\"image\": base64}, or the file's bytes as image/*, application/pdf or "
                   "application/octet-stream")


def _read_error(exc: ImageReadError, password_given: bool = False) -> ApiError:
    return ApiError(*error_status(exc, password_given))


# ---------------------------------------------------------------- running OCR

@dataclass
class Upload:
    """One file of a request, as read from the body: its page id (never a path), bytes and PDF password."""
    name: str
    data: bytes
    pdf_password: Optional[str] = None


def ocr_job(uploads: List[Upload], options: Dict[str, Any], settings: Settings, submitted: float,
            builder: ResponseBuilder, timeout: float,
            documents: bool = True) -> Callable[[Any], Tuple[Optional[bytes], Dict[str, float]]]:
    """The work of one request, run by a worker with its own PPOCR: read each upload page by page (here, in the
    worker, so a big decode never blocks the event loop and counts against the queue), OCR each page and hand
    it to the builder at once (one page image in memory at a time), then write the document format. Past the
    request's timeout (its client already has its 504) the job stops at the next page, freeing the worker."""

    def run(ocr: Any) -> Tuple[Optional[bytes], Dict[str, float]]:
        started = time.perf_counter()
        deadline = submitted + timeout
        spent = {"decode": 0.0, "ocr": 0.0}
        image = ImageOptions.of(options)
        with applied(ocr, options):
            for upload in uploads:
                pages = decode_upload(upload.data, upload.name, settings.max_pixels, settings.max_pages,
                                      options.get("pages"), options.get("pdf_dpi", getattr(ocr, "pdf_dpi", None)),
                                      upload.pdf_password, documents, image.background)
                while True:
                    mark = time.perf_counter()
                    try:
                        page = next(pages, None)
                    except ImageReadError as exc:
                        raise _read_error(exc, upload.pdf_password is not None) from None
                    spent["decode"] += time.perf_counter() - mark
                    if page is None:
                        break
                    if time.perf_counter() > deadline:
                        raise ApiError(504, "timeout", f"the OCR did not finish within {timeout:g} s")
                    mark = time.perf_counter()
                    _ocr_page(ocr, page, builder, image)
                    page.image = None   # the builder kept what it needs
                    spent["ocr"] += time.perf_counter() - mark
        mark = time.perf_counter()
        try:
            document = builder.document()
        except ImageReadError as exc:   # no page could be read: the first page's error is the request's
            raise _read_error(exc, any(u.pdf_password is not None for u in uploads)) from None
        return document, {"queue": _ms(started - submitted), "decode": _ms(spent["decode"]),
                          "ocr": _ms(spent["ocr"]), "write": _ms(time.perf_counter() - mark)}

    return run


def _ocr_page(ocr: Any, page: Any, builder: ResponseBuilder, image: ImageOptions) -> None:
    if page.error is not None:
        builder.add(page)
        return
    try:
        read = ocr.system(image.adjust(page.image))   # the page image answered (include_image) is the one sent
    except ImageReadError as exc:   # an image the pipeline cannot take (e.g. too small): that page fails
        builder.add(page, error=exc)
        return
    builder.add(page, [r.to_dict() for r in read], angle=ocr.page_angle(read))


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


async def run_ocr(request: Request, uploads: Callable[[], Awaitable[List[Upload]]], options: Dict[str, Any],
                  builder: ResponseBuilder, documents: bool = True) -> Tuple[Optional[bytes], Dict[str, float]]:
    """Reserve a place (503 when full), read the upload, queue the job, wait for it (504 past the timeout)."""
    state = _state(request)
    start = time.perf_counter()
    with _reserve(state) as place:
        files = await uploads()
        timeout = min(state.settings.timeout, options.get("timeout", state.settings.timeout))
        submitted = time.perf_counter()
        future = place.submit(ocr_job(files, options, state.settings, submitted, builder, timeout, documents))
        try:
            document, timing = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            # A queued job is cancelled; a running one cannot be stopped and keeps its place until it ends.
            raise ApiError(504, "timeout", f"the OCR did not finish within {timeout:g} s") from None
        except OptionError as exc:
            raise ApiError(422, "bad_option", str(exc)) from None
    state.metrics.pages.inc(len(builder.pages))
    timing["total"] = _ms(time.perf_counter() - start)
    return document, timing


# ---------------------------------------------------------------- routes

async def ocr_route(request: Request) -> Response:
    options = _options(request)
    fmt, media_type = _format(request, options)
    if fmt in ("hocr", "pdf"):   # as paddle-pp ocr --output_format: words on their own boxes, unless refused
        options.setdefault("return_word_box", True)
    read: List[Upload] = []

    async def uploads() -> List[Upload]:
        read.append(Upload(*await _read_upload(request)))
        builder.name(read[0].name)
        return read

    builder = ResponseBuilder(fmt, include_image=bool(options.get("include_image")),
                              media_type=media_type)
    document, timing = await run_ocr(request, uploads, options, builder)
    headers = {"X-Content-Type-Options": "nosniff"}
    failed = builder.failed_pages()
    if failed:   # the body holds each failed page's error only in JSON: the other formats say it here
        headers["X-Failed-Pages"] = ",".join(str(n) for n in failed)
    if fmt == "pdf":
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in read[0].name.rsplit(".", 1)[0])[:100]
        headers["Content-Disposition"] = f'inline; filename="{stem or "ocr"}.ocr.pdf"'
    return Response(builder.body(document, timing), media_type=builder.media_type, headers=headers)


async def hubserving_route(request: Request) -> Response:
    """PaddleOCR hubserving's ocr_system: {"images": [base64, ...]} -> {"msg", "results", "status": "000"}.
    Errors keep hubserving's keys ("msg", "results": [], "status": the HTTP status) next to "error"."""
    try:
        settings = _state(request).settings

        async def uploads() -> List[Upload]:
            if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                raise ApiError(415, "unsupported_media_type", 'send application/json {"images": [base64, ...]}')
            body = await _json_body(request)
            images = body.get("images") if isinstance(body, dict) else None
            if not isinstance(images, list) or not images:
                raise ApiError(400, "bad_request", 'the JSON body must be {"images": ["<base64>", ...]}')
            if len(images) > settings.max_images:
                raise ApiError(413, "too_many_images",
                               f"{len(images)} images in one request; the limit is {settings.max_images} (--max_images)")
            return [Upload(f"images[{i}]", _b64decode(text, f"images[{i}]")) for i, text in enumerate(images)]

        builder = ResponseBuilder("json")
        await run_ocr(request, uploads, {}, builder, documents=False)   # images only, as PaddleOCR's
    except ApiError as exc:
        _state(request).metrics.failures.labels(exc.code).inc()
        body = {"msg": exc.message, "results": [], "status": str(exc.status)}
        body.update(error_body(exc.code, exc.message))
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)
    results = [[{"text": line["text"], "confidence": line["score"], "text_region": line["points"]}
                for line in page["lines"]] for page in builder.pages]
    return JSONResponse({"msg": "", "results": results, "status": "000"})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = _state(request)
    pool = state.pool
    info = {"workers": pool.workers, "busy": pool.running, "waiting": pool.waiting, "queue_size": pool.queue_size}
    if state.draining:
        return JSONResponse({**error_body("shutting_down", "the server is shutting down"), **info}, 503)
    if pool.full():
        return JSONResponse({**error_body("queue_full", "every worker is busy and the queue is full"), **info}, 503)
    return JSONResponse({"status": "ready", **info})


async def metrics_route(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(_state(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


async def static_file(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC_FILES:
        raise ApiError(404, "not_found", "no such file")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------- errors

async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    _state(request).metrics.failures.labels(exc.code).inc()
    return error_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {404: "no such route", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    """A bug: logged with its traceback on the server, a fixed message to the client."""
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    _state(request).metrics.failures.labels("internal").inc()
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


def create_app(pool: OcrPool, settings: Settings) -> Starlette:
    """The app around a started pool. Middleware, outermost first: metrics, CORS (only with cors_origins),
    API key, body limits."""
    state = ServerState(pool, settings, Metrics(pool))
    middleware = [Middleware(MetricsMiddleware, state=state)]
    if settings.cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                                     allow_methods=["GET", "POST"], max_age=600,
                                     allow_headers=["Authorization", "X-API-Key", "Content-Type", "Accept"]))
    middleware += [Middleware(ApiKeyMiddleware, key=settings.api_key),
                   Middleware(BodyLimitMiddleware, settings=settings)]
    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static_file, methods=["GET"]),
        Route("/ocr", ocr_route, methods=["POST"]),
        Route("/predict/ocr_system", hubserving_route, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    handlers = {ApiError: api_error_handler, HTTPException: http_error_handler, Exception: internal_error_handler}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.serving = state
    return app
