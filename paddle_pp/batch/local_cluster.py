"""A real Ray cluster of two nodes on this machine, for the batch tests and benchmark: `ray start --head --num-cpus 1` and a
second `ray start --address ... --num-cpus 1`, each with its own temp dir and ports, both stopped at the end
(even when the test fails) by their own process ids, never by `ray stop`, which stops every Ray on the machine.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT = 120


def free_ports(count: int) -> List[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _node_ports() -> List[str]:
    """Ports of one node's own services: two nodes on one machine must not both take Ray's fixed defaults."""
    node, objects, agent, agent_grpc, runtime_env, metrics = free_ports(6)
    return ["--node-manager-port", str(node), "--object-manager-port", str(objects),
            "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
            "--runtime-env-agent-port", str(runtime_env), "--metrics-export-port", str(metrics)]


def alive_nodes(address: str, env: Dict[str, str]) -> int:
    code = ("import ray,logging; ray.init(address=%r, logging_level=logging.ERROR); "
            "print(sum(1 for n in ray.nodes() if n['Alive'])); ray.shutdown()" % address)
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return 0
    if os.environ.get("RAY_CLUSTER_DEBUG"):
        print(out.stderr[-1500:], file=sys.stderr)
    lines = out.stdout.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def _descendants(pid: int) -> List[int]:
    """Every process under `pid` (Ray's workers call setsid, so they leave its process group; not its tree)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to `ray start --block` (it stops its node's processes), then SIGKILL to what is left of its
    tree and process group: only processes this fixture started."""
    tree = _descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    for pid in tree + _descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)   # the group this test started (start_new_session), nothing else
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def cluster_env(env: Dict[str, str]) -> Dict[str, str]:
    """The environment of the nodes and of the drivers that connect to them. Token authentication off: Ray
    turns it on by itself when ~/.ray/auth_token exists (a local ray.init writes one), and a throw-away cluster
    on one machine has nothing to protect."""
    return dict(env, RAY_AUTH_MODE="disabled")


@contextmanager
def two_node_cluster(env: Dict[str, str]) -> Iterator[str]:
    """Yield the head's address (host:port) once both nodes are up; `env` should come from cluster_env."""
    temps = [tempfile.mkdtemp(prefix="rayh", dir="/tmp"), tempfile.mkdtemp(prefix="rayw", dir="/tmp")]
    processes: List[subprocess.Popen] = []
    gcs_port = free_ports(1)[0]
    from ray.util import get_node_ip_address

    address = f"{get_node_ip_address()}:{gcs_port}"   # the address Ray's services listen on (not 127.0.0.1)
    common = ["--num-cpus", "1", "--block", "--disable-usage-stats"]
    try:
        head = [RAY, "start", "--head", "--port", str(gcs_port), "--include-dashboard", "false", "--temp-dir", temps[0]] + common + _node_ports()
        processes.append(subprocess.Popen(head, env=env, stdout=_log(temps[0]), stderr=subprocess.STDOUT,
                                          start_new_session=True))
        _wait_for(lambda: alive_nodes(address, env) >= 1, "the head node", temps[0])
        worker = [RAY, "start", "--address", address, "--temp-dir", temps[1]] + common + _node_ports()
        processes.append(subprocess.Popen(worker, env=env, stdout=_log(temps[1]), stderr=subprocess.STDOUT,
                                          start_new_session=True))
        _wait_for(lambda: alive_nodes(address, env) >= 2, "the second node", temps[1])
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)
        for temp in temps:
            shutil.rmtree(temp, ignore_errors=True)


def _log(temp: str):
    return open(os.path.join(temp, "ray_start.log"), "wb")


def _wait_for(ready, what: str, temp: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(1)
    log = Path(temp, "ray_start.log").read_text(errors="replace")[-2000:]
    raise TimeoutError(f"{what} of the test Ray cluster did not come up in {START_TIMEOUT} s; ray start said:\n{log}")
