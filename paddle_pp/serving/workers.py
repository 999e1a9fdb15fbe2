"""A fixed pool of OCR workers behind a bounded queue.

Each running job holds one predictor (a PPOCR) of its own: the per-request options are set on its stages for the
length of the job, and on the paddle engine a predictor runs one call at a time, so requests in parallel need
predictors of their own. No predictor is ever shared by two jobs. A request first reserves a place (`reserve`):
when the workers are busy and the queue holds `queue_size` waiting jobs, that fails at once (the server answers
503 with Retry-After) before the upload is even read, so memory is bounded by (workers + queue_size) uploads and
the wait by the queue's length.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, List, Optional


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""

    def __init__(self, waiting: int, limit: int) -> None:
        super().__init__(f"the queue is full ({waiting} requests waiting, limit {limit})")
        self.waiting, self.limit = waiting, limit


class Reservation:
    """A place in the pool held by one request, from before its upload is read until its job ends."""

    def __init__(self, pool: "OcrPool") -> None:
        self.pool = pool
        self.submitted = False
        self.released = False

    def submit(self, job: Callable[[Any], Any]) -> "Future[Any]":
        """Run job(predictor) on a worker; the place is given back when the job ends (even after a timeout)."""
        self.submitted = True
        future = self.pool.executor.submit(self.pool.run_job, job)
        future.add_done_callback(lambda _: self.release())
        return future

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool.give_back()

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.submitted:  # the request failed before its job was queued (bad upload, bad options)
            self.release()


class OcrPool:
    """`workers` threads, one predictor each, and at most `queue_size` jobs waiting for them."""

    def __init__(self, predictors: List[Any], queue_size: int) -> None:
        if not predictors:
            raise ValueError("an OCR pool needs at least one predictor")
        self.workers = len(predictors)
        self.queue_size = int(queue_size)
        self.capacity = self.workers + self.queue_size
        self._idle: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        for predictor in predictors:
            self._idle.put(predictor)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="paddle-pp-ocr")
        self._lock = threading.Lock()
        self.holding = 0   # reserved places: requests being read, waiting or running
        self.running = 0

    @property
    def waiting(self) -> int:
        """Requests holding a place without a worker (reading their upload or queued)."""
        return max(0, self.holding - self.running)

    def full(self) -> bool:
        return self.holding >= self.capacity

    def reserve(self) -> Reservation:
        """A place for one request, or QueueFull at once."""
        with self._lock:
            if self.holding >= self.capacity:
                raise QueueFull(self.waiting, self.queue_size)
            self.holding += 1
        return Reservation(self)

    def give_back(self) -> None:
        with self._lock:
            self.holding -= 1

    def run_job(self, job: Callable[[Any], Any]) -> Any:
        predictor = self._idle.get()
        with self._lock:
            self.running += 1
        try:
            return job(predictor)
        finally:
            with self._lock:
                self.running -= 1
            self._idle.put(predictor)

    def close(self, wait: bool = True) -> None:
        """Stop the workers: jobs already running finish (wait=True), queued ones still run."""
        self.executor.shutdown(wait=wait)


def default_workers(cores: int, cpu_threads: Optional[int], workers: Optional[int]) -> tuple:
    """(workers, threads per predictor) so that workers x threads = cores unless both are given.

    Neither given: about one worker per 4 cores (a request's latency stays low, several run at once on big
    machines): 2 cores -> 1 x 2, 8 -> 2 x 4, 16 -> 4 x 4. One given: the other fills the cores.
    """
    cores = max(1, int(cores))
    threads = int(cpu_threads or 0)
    if workers and threads:
        return int(workers), threads
    if workers:
        return int(workers), max(1, cores // int(workers))
    if threads:
        return max(1, cores // threads), threads
    workers = max(1, cores // 4)
    return workers, max(1, cores // workers)
