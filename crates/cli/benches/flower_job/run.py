#!/usr/bin/env python3
"""Run the Flower peer of the federated-job benchmark on Flower's deployment runtime.

    python run.py --secure {0|1} --base-port P --out result.json [--providers 10] [--rounds 5]

Run it with the Python of a virtual environment holding torch and flwr (its bin directory
provides flower-superlink, flower-supernode, flower-superexec and flwr). It starts one
SuperLink and one SuperNode per provider as separate processes on loopback, each SuperNode
talking to the SuperLink through a byte-counting TCP proxy in this process, then times
`flwr run APP local-deployment --stream` (this app) from its start to the end of the run, when
the ServerApp has evaluated the final model on adult.test and written its result file.

Ports: SuperLink P (fleet, control and ServerAppIo); SuperNode k's local API P+1+k; the proxy
of provider k P+1+N+k. Measured: wall time of the run; TCP payload bytes each SuperNode sent
to and received from the SuperLink during the run (mean over providers); peak total PSS and
RSS of every process started here and all their descendants, sampled every 0.2 s. Prints one JSON
line on stdout (also written to --out); progress and Flower's logs go to stderr.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
REPO = APP_DIR.parents[3]  # crates/cli/benches/flower_job -> the repository
BIN = Path(sys.executable).parent  # the virtual environment's bin directory


def log(msg: str) -> None:
    print(f"[run.py] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    """The run failed; the message says why."""


# --- processes: start, follow their descendants, measure RSS, stop exactly them -------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process, None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))
    except (OSError, IndexError, ValueError):
        return None


def _memory(pid: int) -> tuple[int, int]:
    """Resident and proportional memory (PSS: private pages plus a share of shared ones, such
    as the libraries every Python process maps) in bytes; zeros once the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split()[:2] for line in f if line.startswith(("Rss:", "Pss:")))
        return int(fields["Rss:"]) * 1024, int(fields["Pss:"]) * 1024
    except (OSError, KeyError, ValueError):
        return 0, 0


class Processes:
    """The processes started here and their descendants, every one ever seen kept by (pid,
    start time) so a reused pid is never touched: Flower children may outlive their parent and
    be re-parented away from our tree, but once seen they stay on the list."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []
        self.known: set[tuple[int, int]] = set()
        self.lock = threading.Lock()
        self.peak_rss = 0
        self.peak_pss = 0

    def start(self, cmd: list[str], env: dict, out) -> subprocess.Popen:
        # A session of its own: a Ctrl-C on the terminal reaches only us, and we stop them.
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append(p)  # to reap it; `alive` finds it as our child
        return p

    def alive(self) -> set[tuple[int, int]]:
        """Known processes still alive plus all current descendants of them and of this
        process (all recorded as known)."""
        table = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (st := _stat(int(entry))):
                table[int(entry)] = st
        with self.lock:
            live = {(pid, t) for pid, t in self.known if table.get(pid, (0, -1))[1] == t}
            children: dict[int, list[int]] = {}
            for pid, (ppid, _) in table.items():
                children.setdefault(ppid, []).append(pid)
            todo = [pid for pid, _ in live] + [os.getpid()]
            while todo:
                for c in children.get(todo.pop(), []):
                    key = (c, table[c][1])
                    if key not in live:
                        live.add(key)
                        todo.append(c)
            self.known |= live
        return live

    def sample_forever(self, stop: threading.Event, every: float = 0.2) -> None:
        while not stop.wait(every):
            sizes = [_memory(pid) for pid, _ in self.alive()]
            self.peak_rss = max(self.peak_rss, sum(rss for rss, _ in sizes))
            self.peak_pss = max(self.peak_pss, sum(pss for _, pss in sizes))

    def stop_all(self, grace: float = 5.0) -> None:
        """SIGTERM to every live known process, SIGKILL to what is left after `grace`."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            targets = self.alive()
            for pid, _ in targets:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + grace
            while targets and time.monotonic() < deadline:
                for p in self.started:
                    p.poll()  # reap our own children
                time.sleep(0.1)
                targets = self.alive()
            if not targets:
                break
        for p in self.started:
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                log(f"process {p.pid} did not exit")
        left = self.alive()
        if left:
            log(f"still alive after SIGKILL: {sorted(pid for pid, _ in left)}")


# --- byte-counting TCP proxies between each SuperNode and the SuperLink -----------------------


class CountingProxy:
    """Forwards 127.0.0.1:listen to 127.0.0.1:target, counting payload bytes each way."""

    def __init__(self, listen: int, target: int):
        self.listen, self.target = listen, target
        self.sent = 0  # SuperNode -> SuperLink
        self.received = 0  # SuperLink -> SuperNode

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen)

    async def _serve(self, node_r, node_w) -> None:
        try:
            link_r, link_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            node_w.close()
            return
        await asyncio.gather(self._pipe(node_r, link_w, "sent"),
                             self._pipe(link_r, node_w, "received"))
        for w in (node_w, link_w):
            w.close()

    async def _pipe(self, reader, writer, counter: str) -> None:
        try:
            while data := await reader.read(1 << 16):
                setattr(self, counter, getattr(self, counter) + len(data))
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()  # pass the half-close on
        except (ConnectionError, OSError):
            writer.close()


def start_proxies(pairs: list[tuple[int, int]]) -> list[CountingProxy]:
    """One proxy per (listen, target) pair, served by an event loop in a daemon thread."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    proxies = [CountingProxy(a, b) for a, b in pairs]
    for p in proxies:
        asyncio.run_coroutine_threadsafe(p.start(), loop).result()
    return proxies


# --- the run ----------------------------------------------------------------------------------


def wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Fail(f"the SuperLink exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise Fail(f"nothing listens on port {port} after {timeout:.0f} s")


def wait_nodes(procs: Processes, env: dict, n: int, nodes: list, timeout: float) -> None:
    """Until the SuperLink lists n SuperNodes online."""
    deadline, online = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        if dead := [p.pid for p in nodes if p.poll() is not None]:
            raise Fail(f"SuperNode processes {dead} exited")
        with tempfile.TemporaryFile("w+") as out:
            procs.start([str(BIN / "flwr"), "supernode", "list", "local-deployment",
                         "--format", "json"], env, out).wait()
            out.seek(0)
            text = out.read()
        try:
            listed = json.loads(text[text.index("{"):]).get("nodes", [])
            online = sum(node.get("status") == "online" for node in listed)
        except ValueError:
            online = 0
        if online >= n:
            return
        time.sleep(1)
    raise Fail(f"only {online} of {n} SuperNodes online after {timeout:.0f} s")


def run(args, work: Path, procs: Processes) -> dict:
    n, port = args.providers, args.base_port
    home, logs = work / "flwr-home", Path(args.log_dir) if args.log_dir else work / "logs"
    home.mkdir()
    logs.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[superlink]\ndefault = "local-deployment"\n\n'
        f'[superlink.local-deployment]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
    )
    env = dict(os.environ, FLWR_HOME=str(home), FLWR_TELEMETRY_ENABLED="0",
               FLWR_DISABLE_UPDATE_CHECK="1", NO_PROXY="127.0.0.1,localhost",
               # Flower spawns flower-superexec and the app processes by name.
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    result_file = work / "server_result.json"
    overrides = work / "run_config.toml"
    overrides.write_text(
        f"secure = {'true' if args.secure else 'false'}\n"
        f"num-server-rounds = {args.rounds}\n"
        f"num-providers = {n}\n"
        f"seed = {args.seed}\n"
        f"adult-dir = {json.dumps(str(Path(args.adult_dir).resolve()))}\n"
        f"result-file = {json.dumps(str(result_file))}\n"
    )

    def start_logged(cmd: list[str], name: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "w") as out:
            return procs.start(cmd, env, out)

    log(f"starting the SuperLink on 127.0.0.1:{port} (logs in {logs})")
    link = start_logged([str(BIN / "flower-superlink"), "--insecure", "--host", "127.0.0.1",
                         "--port", str(port), "--disable-runtime-dependency-installation"],
                        "superlink")
    wait_port(port, link, 60)
    proxies = start_proxies([(port + 1 + n + k, port) for k in range(n)])
    log(f"starting {n} SuperNodes, each behind its byte-counting proxy")
    nodes = [
        start_logged([str(BIN / "flower-supernode"), "--insecure",
                      "--superlink", f"127.0.0.1:{port + 1 + n + k}",
                      "--host", "127.0.0.1", "--port", str(port + 1 + k),
                      "--node-config", f"partition-id={k} num-partitions={n}"],
                     f"supernode-{k}")
        for k in range(n)
    ]
    wait_nodes(procs, env, n, nodes, 180)

    log(f"all {n} SuperNodes online; flwr run ({'SecAgg+' if args.secure else 'plain FedAvg'})")
    before = [(p.sent, p.received) for p in proxies]
    t0 = time.perf_counter()
    flwr_run = procs.start([str(BIN / "flwr"), "run", str(APP_DIR), "local-deployment",
                            "--stream", "--run-config", str(overrides)], env, sys.stderr)
    try:
        code = flwr_run.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise Fail(f"the run did not finish within {args.timeout} s")
    wall, returned = time.perf_counter() - t0, time.time()
    sent = [p.sent - b[0] for p, b in zip(proxies, before)]
    received = [p.received - b[1] for p, b in zip(proxies, before)]
    if code != 0:
        raise Fail(f"`flwr run` exited with {code}")
    if not result_file.exists():
        raise Fail(f"the ServerApp wrote no result file ({result_file}): the run failed")
    server = json.loads(result_file.read_text())
    if server["round_clients"] != [n] * args.rounds or server["accuracy"] is None:
        raise Fail(f"not every provider's update was aggregated in every round: {server}")
    lag = returned - result_file.stat().st_mtime
    log(f"ServerApp result (written {lag:.1f} s before `flwr run` returned): {json.dumps(server)}")
    return {
        "variant": "flower-secaggplus" if args.secure else "flower-plain",
        "wall_s": round(wall, 3),
        "accuracy": server["accuracy"],
        "round_accuracy": server["round_accuracy"],
        "bytes_sent_per_provider": sum(sent) / n,
        "bytes_received_per_provider": sum(received) / n,
        "peak_rss_mb": None,  # filled in once the processes are stopped
        "peak_pss_mb": None,
        "flwr_version": version("flwr"),
        "providers": n,
        "rounds": args.rounds,
    }


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secure", type=int, choices=[0, 1], required=True)
    ap.add_argument("--base-port", type=int, required=True)
    ap.add_argument("--out", required=True, help="also write the JSON line here")
    ap.add_argument("--providers", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="initial model and shuffling")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds for `flwr run`")
    ap.add_argument("--adult-dir", default=str(REPO / "data" / "adult"))
    ap.add_argument("--log-dir", help="keep Flower's process logs here (default: discarded)")
    args = ap.parse_args()
    if not (BIN / "flower-superlink").exists():
        sys.exit(f"run.py: no flower-superlink next to {sys.executable}: use the venv's python")

    # Ctrl-C, SIGTERM and SIGHUP unwind (even when started with SIGINT ignored, as `&` in a
    # script does), so the `finally` below always stops what was started.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    procs, stop = Processes(), threading.Event()
    sampler = threading.Thread(target=procs.sample_forever, args=(stop,), daemon=True)
    sampler.start()
    work = Path(tempfile.mkdtemp(prefix="flower-job-"))
    result, error = None, None
    try:
        result = run(args, work, procs)
    except Fail as e:
        error = str(e)
    except KeyboardInterrupt as e:
        error = f"interrupted by {e or 'SIGINT'}"
    finally:
        for sig in STOP_SIGNALS:  # the clean-up itself must not be cut short
            signal.signal(sig, signal.SIG_IGN)
        stop.set()
        sampler.join()
        procs.stop_all()
        if error and not args.log_dir:
            for name in ("superlink", "supernode-0"):
                path = work / "logs" / f"{name}.log"
                if path.exists():
                    tail = path.read_text(errors="replace").splitlines()[-25:]
                    log(f"last lines of {name}.log:\n" + "\n".join(tail))
        shutil.rmtree(work, ignore_errors=True)
    if error:
        log(f"FAILED: {error}")
        return 1
    result["peak_rss_mb"] = round(procs.peak_rss / 2**20, 1)
    result["peak_pss_mb"] = round(procs.peak_pss / 2**20, 1)
    line = json.dumps(result)
    Path(args.out).write_text(line + "\n")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
