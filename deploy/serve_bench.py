"""Load benchmark of paddle-pp serve against the Python API (throughput, p50/p99 latency, RSS)."""
import sys

from paddle_pp.serving.bench import main

if __name__ == "__main__":
    sys.exit(main())
