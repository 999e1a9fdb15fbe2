"""OCR as a service: `paddle-pp serve` (an ASGI app on uvicorn; see docs/serving.md).

- `workers.OcrPool`: a fixed number of OCR workers, each with its own PPOCR, behind a bounded queue.
- `documents`: an upload -> pages, and a result -> the response format (the documents issue's reader and
  writers plug in there).
- `options`: per-request options, checked with the command line's ranges.
- `app.create_app`: the routes, limits, API key, CORS and metrics; `cli.main`: the command.
"""
