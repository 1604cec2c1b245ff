"""Several processes sharing one analysis, on JAX's own multi-controller runtime.

Every process runs the same program after ``jax.distributed.initialize`` (one per host, or
several on one host). The work units of an analysis are its checkpoint groups and one unit of
baseline-model fits; unit ``u`` belongs to process ``u % N``, so the division needs no
messages. Each process writes the stage files of its own units into the shared output folder
(``OUT/stages``); process 0 then reads them all and writes the one report. The processes
exchange only small JSON messages through the runtime's key-value store (the fingerprint of
the analysis, "my share is done", the summary); no sockets of our own.

Faults are the runtime's: a process that dies stops sending heartbeats, and after the
heartbeat timeout ``jax.distributed`` ends every other process (with a log of its own). The
command line runs each process's work as a child of a small supervisor that turns that log
into one line (:func:`runtime_failure`); see ``docs/distributed.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "PeerFailed",
    "Processes",
    "check_coordinator",
    "check_count",
    "is_worker",
    "process_index",
    "runtime_failure",
    "share",
    "supervise",
    "tell_failure",
    "worker_stderr",
]

JOIN_S = 600.0  # the longest wait for the other processes to reach the analysis
_POLL_MS = 1000  # waits are slices of this length, so Ctrl-C is handled between them
_CALLS = [0]  # analyses run by this process: keys of successive analyses never meet


def process_index() -> int:
    """This process's index in a ``jax.distributed`` run, 0 otherwise (without starting JAX's
    backend when there is no such run)."""
    import jax

    return jax.process_index() if jax.distributed.is_initialized() else 0


def share(num_units: int, index: int, count: int) -> list[int]:
    """The work units of process ``index`` of ``count``: ``u % count == index``.

    Example:
      >>> share(5, 1, 2)
      [1, 3]
    """
    return list(range(index, num_units, count))


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process's place among the processes of the run (one: ``index 0, count 1``).

    ``client`` is the runtime's client of ``jax.distributed`` (its key-value store), present
    when ``count > 1``; the one use of JAX internals here, the same handle
    ``jax.experimental.multihost_utils`` uses.
    """

    index: int = 0
    count: int = 1
    client: Any = None
    run: str = ""

    @classmethod
    def current(cls) -> Processes:
        """The processes JAX sees now, for the next analysis (every process runs the same
        analyses in the same order: the n-th analysis of each shares the key-value store's
        ``interjax/analysis/n``)."""
        import jax

        count = jax.process_count()
        if count == 1:
            return cls()
        from jax._src import distributed

        _CALLS[0] += 1
        return cls(jax.process_index(), count, distributed.global_state.client,
                   f"interjax/analysis/{_CALLS[0]}")  # fmt: skip

    @property
    def name(self) -> str:
        return f"process {self.index} of {self.count}"

    def publish(self, what: str, value) -> None:
        """Make ``value`` (JSON) readable by every process as ``what`` of this process."""
        if self.count > 1:
            self.client.key_value_set(f"{self.run}/{what}/{self.index}", json.dumps(value))

    def wait_for(self, what: str, index: int, waiting_for: str, timeout: float | None = None):
        """``what`` of process ``index``, waiting for it (``timeout`` seconds; None: as long as
        the runtime sees that process alive: a dead one ends this process, see above); the
        failure of that process (:func:`tell_failure`) is raised here, naming it."""
        key, t0 = f"{self.run}/{what}/{index}", time.monotonic()
        while True:
            try:
                return json.loads(self.client.blocking_key_value_get(key, _POLL_MS))
            except Exception as err:  # the runtime's DEADLINE_EXCEEDED: wait another slice
                if "DEADLINE_EXCEEDED" not in str(err):
                    _runtime_failed(err)
            self.check_peers([index])
            if timeout is not None and time.monotonic() - t0 > timeout:
                raise RuntimeError(
                    f"{self.name} waited {timeout:.0f} s for process {index} to {waiting_for}, "
                    "in vain; start every process with the same command (only the process id "
                    "differs) and the same inputs, then rerun it: the finished work is kept."
                )

    def check_peers(self, which=None) -> None:
        """Raise, naming it, if another process (of ``which``) stopped on an error."""
        for j in range(self.count) if which is None else which:
            if j != self.index and (why := _try_get(self.client, _failed(j))):
                raise PeerFailed(
                    f"process {j} of {self.count} stopped ({why}), so {self.name} stops too; "
                    "the finished checkpoint groups are kept: run the same command on every "
                    "process again to resume"
                )

    def agree(self, key: str, out: Path) -> None:
        """Check, before any work, that every process analyses the same thing into a folder
        process 0 can read: each leaves a marker file in ``out`` and publishes its fingerprint;
        process 0 checks both and publishes one verdict, which every process obeys."""
        marker = out / "stages" / f".process-{self.index}.json"
        marker.parent.mkdir(parents=True, exist_ok=True)
        hello = {"fingerprint": key, "host": socket.gethostname(), "run": self.run}
        marker.write_text(json.dumps(hello))  # plain write: nothing else writes it
        self.publish("hello", hello)
        if self.index == 0:
            problems = []
            for j in range(1, self.count):
                other = self.wait_for("hello", j, "join the analysis", JOIN_S)
                if other["fingerprint"] != key:
                    problems.append(
                        f"process {j} (on {other['host']}) analyses something else (other "
                        "settings, inputs or options)"
                    )
                seen = out / "stages" / f".process-{j}.json"
                if not seen.is_file() or json.loads(seen.read_text()) != other:
                    problems.append(
                        f"process 0 cannot see the files process {j} (on {other['host']}) "
                        f"writes into {out}: the output folder must be one folder every host "
                        "mounts (a shared filesystem)"
                    )
            self.publish("verdict", "; ".join(problems))
        verdict = self.wait_for("verdict", 0, "check the processes", JOIN_S)
        marker.unlink(missing_ok=True)
        if verdict:
            raise RuntimeError(f"{verdict}; run the same command on every process")


def check_count(num_processes: int | None, timeout: float) -> None:
    """Right after ``jax.distributed.initialize``: every process was started with the
    coordinator's process count (``num_processes``, None: detected). A process with another
    count can still join (its id is below the coordinator's count); every process then stops
    with the same line instead of one of them waiting for a process that will never come."""
    import jax
    from jax._src import distributed

    client, me, count = distributed.global_state.client, jax.process_index(), jax.process_count()
    client.key_value_set(f"interjax/join/{me}", json.dumps(num_processes))
    said = {me: num_processes}
    for j in range(count):
        if j != me:
            said[j] = json.loads(client.blocking_key_value_get(f"interjax/join/{j}",
                                                               int(timeout * 1000)))  # fmt: skip
    wrong = {j: n for j, n in said.items() if n is not None and n != count}
    if wrong:
        raise ValueError(
            ", ".join(f"process {j} was started with --num-processes {n}" for j, n in wrong.items())
            + f", but the coordinator runs {count} processes; start every process with the same "
            "--num-processes"
        )


class PeerFailed(RuntimeError):
    """Another process of the run stopped on an error (its message is in this one)."""


def _failed(index: int) -> str:
    return f"interjax/failed/{index}"


def _try_get(client, key: str) -> str | None:
    """The value of ``key`` in the runtime's key-value store, None while there is none."""
    try:
        return client.key_value_try_get(key)
    except Exception as err:  # the runtime's NOT_FOUND
        if "NOT_FOUND" not in str(err):
            _runtime_failed(err)
        return None


def _runtime_failed(err: Exception, wait: float = 5.0):
    """The runtime refused a request: another process failed (or the coordinator is gone).
    The runtime then ends this process itself, with its log (which the command line turns into
    one line); should it not within ``wait`` seconds, raise with its message."""
    time.sleep(wait)
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    raise RuntimeError(
        f"the jax.distributed runtime failed ({first}); the finished checkpoint groups are kept: "
        "run the same command on every process again to resume"
    ) from err


def tell_failure(err: BaseException, grace: float = 10.0) -> None:
    """Tell the other processes of a ``jax.distributed`` run that this one stops, and why
    (``err``), so they stop too instead of waiting for its work. Process 0 hosts the runtime's
    coordinator: it then waits up to ``grace`` seconds for the others to stop first."""
    import jax

    if not jax.distributed.is_initialized() or isinstance(err, PeerFailed):
        return
    from jax._src import distributed

    client, me, count = distributed.global_state.client, jax.process_index(), jax.process_count()
    why = "interrupted" if isinstance(err, KeyboardInterrupt) else str(err) or type(err).__name__
    with contextlib.suppress(Exception):  # the runtime itself may be what failed
        client.key_value_set(_failed(me), why.splitlines()[0][:500], allow_overwrite=True)
        t0 = time.monotonic()
        while me == 0 and time.monotonic() - t0 < grace:
            if all(_try_get(client, _failed(j)) for j in range(1, count)):
                break
            time.sleep(0.2)


def check_coordinator(address: str | None, num_processes, process_id) -> tuple | None:
    """The ``--coordinator HOST:PORT --num-processes N --process-id I`` options, checked before
    any process starts: ``(host, port, N, I)``, or None when none is given (JAX detects them).

    Process 0 runs the coordinator: its port must be free on this host.

    Example:
      >>> check_coordinator("127.0.0.1:0", 2, 1)
      ('127.0.0.1', 0, 2, 1)
    """
    given = {"--coordinator": address, "--num-processes": num_processes,
             "--process-id": process_id}  # fmt: skip
    if all(v is None for v in given.values()):
        return None
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} missing: give --coordinator HOST:PORT, --num-processes N and "
            "--process-id I together (I = 0 .. N-1, the coordinator's host runs process 0), or "
            "--distributed alone to let JAX detect them (SLURM, TPU pods, Open MPI)"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(
            f"--coordinator {address} is not HOST:PORT: expected e.g. 10.0.0.1:1234 (the "
            "address of the host running process 0 and a free port there)"
        )
    if num_processes < 1:
        raise ValueError(f"--num-processes {num_processes} is out of range: expected >= 1")
    if not 0 <= process_id < num_processes:
        raise ValueError(
            f"--process-id {process_id} is out of range: expected 0 .. {num_processes - 1} "
            f"(--num-processes {num_processes}), a different id for each process"
        )
    if process_id == 0 and int(port):
        _check_port_free(int(port), address)
    return host.strip("[]"), int(port), num_processes, process_id


def _check_port_free(port: int, address: str) -> None:
    """Process 0's coordinator binds every address of this host at ``port`` (as JAX does)."""
    for family, host in ((socket.AF_INET6, "::"), (socket.AF_INET, "")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((host, port))
            return
        except OSError as err:
            if err.errno == 98 or "in use" in str(err):  # EADDRINUSE
                raise ValueError(
                    f"port {port} of --coordinator {address} is in use on this host (another "
                    "program, or the coordinator of a run still going); choose another port "
                    "for every process"
                ) from None
            continue  # no IPv6 here: try IPv4


# ------------------------------------------------------------------ the command line's part

_WORKER_ENV = "INTERJAX_WORKER_STDERR_FD"


def is_worker() -> bool:
    """Whether this process is the supervised worker of :func:`supervise`."""
    return _WORKER_ENV in os.environ


def worker_stderr() -> None:
    """In the worker: Python's messages go to the terminal's stderr again (the supervisor
    passed it on); the runtime's own log stays in the log file, fd 2."""
    fd = int(os.environ[_WORKER_ENV])
    if not getattr(sys.stderr, "name", None) == fd:
        sys.stderr = os.fdopen(fd, "w", buffering=1)


def supervise(argv: list[str], log: Path, what: dict) -> int:
    """Run ``interjax`` ``argv`` as a child process whose runtime log (fd 2) goes to ``log``;
    Python's messages reach this stderr. Returns the child's exit status, after printing one
    line naming the cause when the runtime ended it (:func:`runtime_failure`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        f.write(f"--- interjax {' '.join(argv)} (pid {os.getpid()})\n".encode())
        f.flush()
        err = os.dup(sys.stderr.fileno())
        env = {**os.environ, _WORKER_ENV: str(err)}
        # its own session: Ctrl-C reaches it once, forwarded from here; it dies with us
        child = subprocess.Popen([sys.executable, "-m", "interjax.cli", *argv], stderr=f,
                                 pass_fds=(err,), env=env, start_new_session=True,
                                 preexec_fn=_die_with_parent)  # fmt: skip
        os.close(err)
        # Ctrl-C: the worker stops as a single process does; SIGTERM is JAX's preemption
        # notice there, so the worker is killed (its stage files are written atomically)
        forwarded = {
            signal.SIGINT: signal.signal(
                signal.SIGINT, lambda *_: child.send_signal(signal.SIGINT)
            ),
            signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: child.kill()),
            signal.SIGHUP: signal.signal(signal.SIGHUP, lambda *_: child.kill()),
        }
        try:
            rc = child.wait()
        finally:
            for s, handler in forwarded.items():
                signal.signal(s, handler)
    if rc in (0, 2, 130):  # done, or the worker said why itself
        return rc
    text = log.read_text(errors="replace")
    print(f"interjax analyze: error: {runtime_failure(text, rc, log=log, **what)}", file=sys.stderr)
    return 1


def _die_with_parent() -> None:
    """In the child, before it runs: end it when the supervisor ends (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def runtime_failure(text: str, rc: int, *, log, out, process_id, coordinator, timeouts) -> str:
    """One line for a worker the runtime ended (exit status ``rc``), from its log ``text``.

    Example:
      >>> runtime_failure("UNAVAILABLE: The following tasks are unhealthy (stopped sending "
      ...     "heartbeats):\\n1\\nThe tasks have crashed.", -6, log="L", out="O", process_id=0,
      ...     coordinator="h:1", timeouts=(300, 100)).split(";")[0]
      'process 1 stopped: no heartbeat for 100 s (it died, was killed or lost the network)'
    """
    join, heartbeat = timeouts
    me = f"process {process_id}" if process_id is not None else "this process"
    dead = re.search(r"stopped sending heartbeats\):\s*((?:\d+[\s,]*)+)", text)
    one = re.search(r"Task (\d+) heartbeat timeout", text)
    if dead or one:
        ids = sorted({int(i) for i in re.findall(r"\d+", dead.group(1) if dead else one.group(1))})
        who = "processes " + ", ".join(map(str, ids)) if len(ids) > 1 else f"process {ids[0]}"
        cause = (
            f"{who} stopped: no heartbeat for {heartbeat} s (it died, was killed or lost the "
            "network)"
        )
    elif "leader task was preempted" in text or "Failed to send RPC to coordination" in text:
        cause = (
            f"{me} lost the coordinator (process 0 at {coordinator}): it died, was killed or "
            "the network failed"
        )
    elif m := re.search(r"Unexpected task registered with task=(\d+)", text):
        cause = (
            f"the coordinator at {coordinator} refused process {m.group(1)}: it was started "
            "with a smaller --num-processes; start every process with the same --num-processes"
        )
    elif "different incarnation" in text:
        cause = (
            f"two processes joined {coordinator} with the same --process-id (or one restarted "
            "while the others ran); stop them all and start each with its own id"
        )
    elif "RegisterTask" in text:
        cause = (
            f"not every process joined the coordinator at {coordinator} within {join} s: start "
            "all --num-processes processes (ids 0 .. N-1, the same --num-processes) and check "
            "that this host reaches the coordinator's address"
        )
    elif "Failed to add port" in text:
        cause = f"the coordinator could not listen at {coordinator}: the port is in use"
    else:
        how = f"signal {-rc}" if rc < 0 else f"exit status {rc}"
        cause = f"{me} ended abnormally ({how})"
    return (
        f"{cause}; the finished checkpoint groups are kept in {Path(out) / 'stages'}: run the "
        f"same command on every process again to resume (the runtime's log: {log})"
    )
