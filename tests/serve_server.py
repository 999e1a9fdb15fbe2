"""The real `paddle-pp serve` in a subprocess on 127.0.0.1 and an ephemeral port, for the serving tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

STARTUP_SECONDS = 120   # model loading on a busy CI machine
READY_LINE = "paddle-pp serve: http://"


class Server:
    def __init__(self, args: List[str], models_dir: str, log_dir: Path) -> None:
        env = dict(os.environ, PADDLE_PP_MODELS=models_dir)
        env.pop("PADDLE_PP_API_KEY", None)
        self.out, self.err = log_dir / "serve.out", log_dir / "serve.err"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "paddle_pp.cli", "serve", "--port", "0", "--log_level", "warning", *args],
            stdout=self.out.open("w"), stderr=self.err.open("w"), env=env)
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            for line in self.out.read_text().splitlines():
                if line.startswith(READY_LINE):
                    return line[len("paddle-pp serve: "):].split()[0]
            if self.process.poll() is not None:
                raise RuntimeError(f"paddle-pp serve exited {self.process.returncode}: {self.err.read_text()[-2000:]}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"paddle-pp serve did not start in {STARTUP_SECONDS} s: {self.err.read_text()[-2000:]}")

    def stop(self, timeout: float = 30) -> Optional[int]:
        """SIGTERM, then wait (SIGKILL past the timeout); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode
