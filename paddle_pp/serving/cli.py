"""`paddle-pp serve`: OCR over HTTP (docs/serving.md).

    paddle-pp serve                                   # http://127.0.0.1:8866, the web page at /
    paddle-pp serve --host 0.0.0.0 --api_key "$KEY" --lang en
    curl -F file=@receipt.jpg http://127.0.0.1:8866/ocr

Takes every model and engine flag of `paddle-pp ocr`, with the same defaults (configs/system.yml and the models'
YAML); the models are loaded once, one PPOCR per worker, before the server listens. SIGTERM or Ctrl-C: the
server stops taking requests (503 during --drain_seconds, readyz fails), in-flight ones finish, then it exits 0.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from typing import Any, List, Optional, Sequence

from paddle_pp.engine.base import available_cores
from paddle_pp.tools import utility

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8866   # PaddleOCR hubserving's port
# paddle-pp ocr's flags about files and pictures (a server reads uploads and draws nothing) and about one
# document (pages, its password, the output format: a request's own, as query options or in its body)
# the ocr flags about local files, which a server and a batch job take their own way
FILE_FLAGS = ("image_dir", "output", "visualize", "vis_font_path", "save_crop_res", "crop_res_save_dir")
# the ocr flags of one command-line run (one stage alone, PaddleOCR's processes), which a server and a batch job do
# not take
RUN_FLAGS = ("det", "rec", "use_mp", "total_process_num")
# and the ones a server takes per request instead (query or form fields); a batch job takes the image options
PER_REQUEST_FLAGS = ("pages", "page_num", "pdf_password", "output_format", "invert", "binarize", "alphacolor")
EXTRA_HINT = "paddle-pp serve needs the serving packages: pip install 'paddle-pp[serve]'"
EXIT_USAGE = 2
EPILOG = """\
endpoints:
  POST /ocr                  an image, PDF or TIFF: multipart (-F file=@x.pdf [-F pdf_password=...]), JSON
                             {"image": base64[, "pdf_password"]} or the file's bytes; query options: det_*,
                             cls_thresh, drop_score, reading_order, light_text_share, use_angle_cls,
                             use_doc_orientation_classify, rec_widen_inked_ends, rec_dense_pitch, rec_unsure_below,
                             rec_unsure_blur, return_word_box, as_paddleocr, pages=1-3,7, pdf_dpi, invert, binarize,
                             alphacolor=R,G,B,
                             format=json|txt|hocr|pdf (or Accept), include_image, timeout
                             -> {"pages": [{"page", "id", "width", "height", "lines"[, "angle"]}], "timing_ms"}
  POST /predict/ocr_system   PaddleOCR hubserving: {"images": [base64, ...]} -> {"msg", "results", "status"}
  GET  /                     the web page;  GET /healthz, /readyz, /metrics (Prometheus)

errors are JSON {"error": {"code", "message"}}: 400 malformed, 401 API key, 408 stalled upload, 413 too large
(bytes, pixels, pages, images), 415 unsupported type, 422 unusable value, image or document (encrypted, corrupt,
empty), 503 queue full or shutting down (Retry-After), 504 timeout.
"""


def _drop_arguments(parser: argparse.ArgumentParser, dests: Sequence[str]) -> None:
    """Remove flags from a parser built by utility.build_parser (argparse has no public way to)."""
    for action in [a for a in parser._actions if a.dest in dests]:
        parser._remove_action(action)
        for group in parser._action_groups:
            if action in group._group_actions:
                group._group_actions.remove(action)
        for option in action.option_strings:
            parser._option_string_actions.pop(option, None)


def _positive(kind: type, low: float = 0, open_low: bool = False) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
        if value < low or (open_low and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if open_low else '>='} {low}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    from paddle_pp.serving.app import Settings

    parser = utility.build_parser("system", __doc__)
    _drop_arguments(parser, FILE_FLAGS + RUN_FLAGS + PER_REQUEST_FLAGS)
    parser.epilog = EPILOG
    defaults = Settings()
    serve = parser.add_argument_group("server")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST}; "
                                                            "0.0.0.0 = every interface)")
    serve.add_argument("--port", type=_positive(int), default=DEFAULT_PORT,
                       help=f"port (default: {DEFAULT_PORT}; 0 = any free port, printed at start-up)")
    serve.add_argument("--workers", type=_positive(int, 1), default=None,
                       help="OCR workers, one PPOCR each (default: workers x --cpu_threads = the CPU cores)")
    serve.add_argument("--queue_size", type=_positive(int), default=None,
                       help="requests that may wait for a worker; more get 503 + Retry-After (default: 4 x workers)")
    serve.add_argument("--timeout", type=_positive(float, 0, True), default=defaults.timeout,
                       help=f"seconds a request may wait and run before 504 (default: {defaults.timeout:g})")
    serve.add_argument("--retry_after", type=_positive(int, 1), default=defaults.retry_after,
                       help=f"Retry-After seconds of a 503 (default: {defaults.retry_after})")
    serve.add_argument("--drain_seconds", type=_positive(float), default=0.0,
                       help="after SIGTERM, answer 503 (and fail /readyz) this long before closing, so a load "
                            "balancer stops sending (default: 0)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--max_upload_bytes", type=_positive(int, 1), default=defaults.max_upload_bytes,
                        help=f"largest upload (default: {defaults.max_upload_bytes:,}); more: 413")
    limits.add_argument("--max_json_bytes", type=_positive(int, 1), default=defaults.max_json_bytes,
                        help=f"largest JSON body (base64 images; default: {defaults.max_json_bytes:,}); more: 413")
    limits.add_argument("--max_pages", type=_positive(int, 1), default=defaults.max_pages,
                        help=f"most pages of a PDF or TIFF read in one request (default: {defaults.max_pages}); "
                             "more: 413 (a request chooses fewer with pages=)")
    limits.add_argument("--max_images", type=_positive(int, 1), default=defaults.max_images,
                        help=f"most images in one /predict/ocr_system request (default: {defaults.max_images})")
    limits.add_argument("--read_timeout", type=_positive(float, 0, True), default=defaults.read_timeout,
                        help=f"seconds a client may stall while sending a body before 408 "
                             f"(default: {defaults.read_timeout:g})")
    limits.add_argument("--limit_concurrency", type=_positive(int, 1), default=256,
                        help="open connections before uvicorn answers 503 (default: 256)")
    limits.add_argument("--timeout_keep_alive", type=_positive(int, 1), default=5,
                        help="seconds an idle keep-alive connection stays open (default: 5)")
    access = parser.add_argument_group("access")
    access.add_argument("--api_key", default=None,
                        help="require this key on every route but /healthz and /readyz (X-API-Key, Authorization: "
                             "Bearer, or Basic with the key as password); default: $PADDLE_PP_API_KEY, else none")
    access.add_argument("--cors_origin", action="append", default=[],
                        help="allow browser calls from this origin (repeatable); default: CORS off")
    access.add_argument("--log_level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                        help="uvicorn's log level (default: info, with an access log line per request)")
    return parser


def _check_extra() -> bool:
    try:
        import multipart  # noqa: F401  (python-multipart)
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(f"{EXTRA_HINT} ({exc.name} is missing)", file=sys.stderr)
        return False
    return True


def build_predictors(args: argparse.Namespace, workers: int, threads: int) -> List[Any]:
    """One PPOCR per worker (a predictor is never run by two threads at once), built with paddle-pp ocr's
    options; a bad option or model is an exception naming it."""
    from paddle_pp import PPOCR

    engine = utility.engine_options(args)
    engine["cpu_threads"] = threads
    return [PPOCR(**utility.system_options(args), lang=args.lang, slim=args.slim, max_pixels=args.max_pixels,
                  pdf_dpi=args.pdf_dpi, return_word_box=args.return_word_box, **engine,
                  **utility.model_options(args, "det", "cls", "rec"))
            for _ in range(workers)]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket (IPv4 or IPv6 by the host); port 0 picks a free one."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=2048)


def make_server(app: Any, args: argparse.Namespace, state: Any) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server with a drain: the first signal marks the app draining (503s, readyz fails) and
        closes the listener --drain_seconds later; in-flight requests finish; a second Ctrl-C forces exit."""

        exit_at: Optional[float] = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            if state.draining:
                if sig == signal.SIGINT:
                    self.force_exit = True
                return
            state.draining = True
            self.exit_at = time.monotonic() + args.drain_seconds

        async def on_tick(self, counter: int) -> bool:
            if self.exit_at is not None and time.monotonic() >= self.exit_at:
                self.should_exit = True
            return await super().on_tick(counter)

    config = uvicorn.Config(app, log_level=args.log_level, lifespan="off", limit_concurrency=args.limit_concurrency,
                            timeout_keep_alive=args.timeout_keep_alive,
                            timeout_graceful_shutdown=int(args.timeout + args.drain_seconds + 5),
                            h11_max_incomplete_event_size=64 * 1024, server_header=False)
    return Server(config)


def main(argv: Optional[Sequence[str]] = None) -> int:
    if not _check_extra():
        return EXIT_USAGE
    from paddle_pp.serving.app import Settings, create_app
    from paddle_pp.serving.workers import OcrPool, default_workers
    from paddle_pp.utils.image_io import resolve_max_pixels

    args = build_parser().parse_args(argv)
    workers, threads = default_workers(available_cores(), args.cpu_threads, args.workers)
    queue_size = 4 * workers if args.queue_size is None else args.queue_size
    settings = Settings(max_upload_bytes=args.max_upload_bytes, max_json_bytes=args.max_json_bytes,
                        max_pixels=resolve_max_pixels(args.max_pixels), max_pages=args.max_pages,
                        max_images=args.max_images, timeout=args.timeout, read_timeout=args.read_timeout,
                        retry_after=args.retry_after,
                        api_key=args.api_key or os.environ.get("PADDLE_PP_API_KEY") or None,
                        cors_origins=tuple(args.cors_origin))
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_USAGE
    predictors, status = utility._build_predictor(lambda: build_predictors(args, workers, threads))
    if predictors is None:
        sock.close()
        return status
    pool = OcrPool(predictors, queue_size)
    app = create_app(pool, settings)
    server = make_server(app, args, app.state.serving)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"paddle-pp serve: http://{shown}:{port} ({workers} workers x {threads} threads, queue {queue_size}, "
          f"engine {predictors[0].engine}, API key {'on' if settings.api_key else 'off'})", flush=True)
    logging.getLogger("paddle_pp.serve").setLevel(logging.INFO)
    try:
        server.run(sockets=[sock])
    finally:
        pool.close(wait=True)
        sock.close()
    print("paddle-pp serve: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
