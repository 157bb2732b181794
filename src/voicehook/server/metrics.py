"""Prometheus metrics for the server, kept in plain dicts (cheap on the hot path).

Labels are bounded: actions the play does not know are counted as ``(unknown)``, so bad
traffic cannot grow the label set.

Several workers (``voicehook serve --workers N``): each worker writes a snapshot of its
numbers to a shared directory about once a second (:class:`MetricsShare`), and ``/metrics``
in any worker serves the sum of every worker's counters (its own live, the others' from
their last snapshot, so up to ~1 s old). Counters of a worker that exited stay in the sums,
so totals never go down. The hot path does not change: a request updates a dict, and the
snapshot is written by a timer. Process metrics (memory, CPU, open files, GC) are per worker,
labelled with its ``pid``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from bisect import bisect_left
from pathlib import Path
from typing import Any

BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

#: ``events`` counters: name -> help. Anything else counted by ``event()`` is rendered too.
EVENTS: dict[str, str] = {
    "state_conflicts": "State saves refused because another turn wrote the state first.",
    "state_save_errors": "State saves that failed for another reason (store down, disk full).",
    "store_probe_failures": "Health checks whose store write probe failed.",
    "thread_pool_saturated": "Plain def handler calls that found every handler thread busy.",
    "blocked_deadline": "Calls that ran past the deadline while blocking the event loop.",
    "loop_blocked": "Times the event loop was blocked longer than loop_lag_warning.",
    "logs_suppressed": "Log lines held back by the rate limit (the calls are counted).",
    "upstream_requests": "Calls made with the upstream HTTP client.",
    "upstream_errors": "Upstream calls that failed (connection error, timeout, bad status).",
    "guard_header_timeout": "Connections closed: the request head came too slowly.",
    "guard_body_timeout": "Connections closed: the body came too slowly.",
    "guard_header_too_large": "Connections closed: the request head was too big.",
    "guard_evicted": "Slow connections closed to make room at max_connections.",
    "guard_refused": "New connections refused at max_connections.",
    "guard_over_concurrency": "Requests answered 503 at max_concurrency.",
}


_FIRST_BOUND = BUCKETS[0]


class _ActionStats:
    """One action's numbers: OK answers, other outcomes by (result code, status), and its
    latency histogram. Plain ints on the hot path; totals are summed when scraped."""

    __slots__ = ("counts", "ok", "other", "sum")

    def __init__(self) -> None:
        self.ok = 0  # result code "OK" with status 200, the common case: no key to build
        self.other: dict[tuple[str, int], int] = {}
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0


class Metrics:
    """Request counts by action, result code and status; latency by action; in-flight;
    event counters (``event()``); and whatever :meth:`snapshot` is given to add.

    :meth:`observe` runs for every call, so it does as little as it can: one dict lookup by
    the action name (a str whose hash is cached), an int increment, one float comparison
    for the usual sub-millisecond call (a bisect only for slower ones) and a float add
    (about 1,100 instructions instead of 4,400 with a key tuple and a bisect every time).
    """

    __slots__ = ("_actions", "errors", "events", "in_flight")

    def __init__(self) -> None:
        self._actions: dict[str, _ActionStats] = {}
        self.errors: dict[tuple[str, int], int] = {}
        self.events: dict[str, int] = {}
        self.in_flight = 0

    def observe(self, action: str, result_code: str, status: int, seconds: float) -> None:
        stats = self._actions.get(action)
        if stats is None:
            stats = self._actions[action] = _ActionStats()
        if status == 200 and result_code == "OK":
            stats.ok += 1
        else:
            key = (result_code, status)
            stats.other[key] = stats.other.get(key, 0) + 1
        if seconds <= _FIRST_BOUND:
            stats.counts[0] += 1
        else:
            stats.counts[bisect_left(BUCKETS, seconds)] += 1
        stats.sum += seconds

    @property
    def requests(self) -> dict[tuple[str, str, int], int]:
        """Calls by (action, result code, status)."""
        out: dict[tuple[str, str, int], int] = {}
        for action, stats in self._actions.items():
            if stats.ok:
                out[(action, "OK", 200)] = stats.ok
            for (code, status), n in stats.other.items():
                out[(action, code, status)] = n
        return out

    def rejected(self, code: str, status: int) -> None:
        """A request answered with a 4xx before reaching an action."""
        key = (code, status)
        self.errors[key] = self.errors.get(key, 0) + 1

    def event(self, name: str, n: int = 1) -> None:
        """Count ``n`` of an event (see :data:`EVENTS`)."""
        self.events[name] = self.events.get(name, 0) + n

    # -- snapshots -------------------------------------------------------------------

    def snapshot(
        self,
        *,
        extra_events: dict[str, int] | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """This process's numbers as JSON-ready data (what :class:`MetricsShare` writes)."""
        events = dict(self.events)
        for name, n in (extra_events or {}).items():
            events[name] = events.get(name, 0) + n
        return {
            "pid": os.getpid(),
            "requests": [[a, c, s, n] for (a, c, s), n in self.requests.items()],
            "errors": [[c, s, n] for (c, s), n in self.errors.items()],
            "latency": {
                a: [list(st.counts), st.sum, sum(st.counts)] for a, st in self._actions.items()
            },
            "events": events,
            "in_flight": self.in_flight,
            "custom": custom or {},
            "process": process_stats(),
        }


def process_stats() -> dict[str, float]:
    """Memory, CPU, open files and GC counts of this process (Linux ``/proc``)."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        out["cpu_seconds"] = (int(fields[11]) + int(fields[12])) / ticks
        with open("/proc/self/statm", "rb") as fh:
            out["resident_bytes"] = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        out["open_fds"] = len(os.listdir("/proc/self/fd"))
    for gen, stats in enumerate(gc.get_stats()):
        out[f"gc_collections_{gen}"] = stats.get("collections", 0)
    return out


class MetricsShare:
    """A directory where each worker leaves its latest snapshot (``worker-PID.json``)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)

    def write(self, snapshot: dict[str, Any]) -> None:
        path = self.dir / f"worker-{snapshot['pid']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)

    def others(self, own_pid: int) -> list[dict[str, Any]]:
        """Every other worker's last snapshot, with ``alive`` set."""
        out = []
        for path in sorted(self.dir.glob("worker-*.json")):
            try:
                snap = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(snap, dict) or snap.get("pid") == own_pid:
                continue
            snap["alive"] = _alive(int(snap.get("pid", 0)))
            out.append(snap)
        return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render(snapshots: list[dict[str, Any]]) -> bytes:
    """The Prometheus text format (0.0.4) of the summed snapshots."""
    requests: dict[tuple[str, str, int], int] = {}
    errors: dict[tuple[str, int], int] = {}
    latency: dict[str, list[Any]] = {}
    events: dict[str, int] = {}
    custom: dict[str, dict[str, Any]] = {}
    in_flight = 0
    for snap in snapshots:
        for a, c, s, n in snap.get("requests", ()):
            requests[(a, c, s)] = requests.get((a, c, s), 0) + n
        for c, s, n in snap.get("errors", ()):
            errors[(c, s)] = errors.get((c, s), 0) + n
        for a, (counts, total_sum, total) in snap.get("latency", {}).items():
            cur = latency.get(a)
            if cur is None:
                latency[a] = [list(counts), total_sum, total]
            else:
                cur[0] = [x + y for x, y in zip(cur[0], counts, strict=False)]
                cur[1] += total_sum
                cur[2] += total
        for name, n in snap.get("events", {}).items():
            events[name] = events.get(name, 0) + n
        if snap.get("alive", True):
            in_flight += snap.get("in_flight", 0)
        for name, spec in snap.get("custom", {}).items():
            cur_c = custom.setdefault(
                name, {"help": spec["help"], "labels": spec["labels"], "values": {}}
            )
            for *labels, value in spec["values"]:
                key = tuple(labels)
                cur_c["values"][key] = cur_c["values"].get(key, 0.0) + value
    lines = [
        "# HELP voicehook_requests_total Action calls by action, result code and HTTP status.",
        "# TYPE voicehook_requests_total counter",
    ]
    for (action, code, status), n in sorted(requests.items()):
        lines.append(
            f'voicehook_requests_total{{action="{_esc(action)}",result_code="{_esc(code)}",'
            f'status="{status}"}} {n}'
        )
    lines += [
        "# HELP voicehook_rejected_total Requests rejected before an action, by error code.",
        "# TYPE voicehook_rejected_total counter",
    ]
    for (code, status), n in sorted(errors.items()):
        lines.append(f'voicehook_rejected_total{{code="{_esc(code)}",status="{status}"}} {n}')
    lines += [
        "# HELP voicehook_request_duration_seconds Action call latency.",
        "# TYPE voicehook_request_duration_seconds histogram",
    ]
    for action, (counts, total_sum, total) in sorted(latency.items()):
        label = _esc(action)
        cumulative = 0
        for bound, count in zip(BUCKETS, counts, strict=False):
            cumulative += count
            lines.append(
                f'voicehook_request_duration_seconds_bucket{{action="{label}",le="{bound}"}} '
                f"{cumulative}"
            )
        lines.append(
            f'voicehook_request_duration_seconds_bucket{{action="{label}",le="+Inf"}} {total}'
        )
        lines.append(f'voicehook_request_duration_seconds_sum{{action="{label}"}} {total_sum}')
        lines.append(f'voicehook_request_duration_seconds_count{{action="{label}"}} {total}')
    lines += [
        "# HELP voicehook_in_flight Action calls being handled now.",
        "# TYPE voicehook_in_flight gauge",
        f"voicehook_in_flight {in_flight}",
    ]
    for name in sorted(set(EVENTS) | set(events)):
        metric = f"voicehook_{_metric_name(name)}_total"
        lines += [
            f"# HELP {metric} {EVENTS.get(name, name)}",
            f"# TYPE {metric} counter",
            f"{metric} {events.get(name, 0)}",
        ]
    lines += [
        "# HELP voicehook_workers Worker processes whose numbers are in these totals.",
        "# TYPE voicehook_workers gauge",
        f"voicehook_workers {sum(1 for s in snapshots if s.get('alive', True))}",
    ]
    process = [
        ("process_resident_memory_bytes", "resident_bytes", "gauge", "Resident memory."),
        ("process_cpu_seconds_total", "cpu_seconds", "counter", "User and system CPU time."),
        ("process_open_fds", "open_fds", "gauge", "Open file descriptors."),
    ]
    live = [s for s in snapshots if s.get("alive", True)]
    for metric, field, kind, help_text in process:
        lines += [f"# HELP {metric} {help_text} Per worker.", f"# TYPE {metric} {kind}"]
        for snap in live:
            value = snap.get("process", {}).get(field)
            if value is not None:
                lines.append(f'{metric}{{pid="{snap.get("pid")}"}} {value}')
    lines += [
        "# HELP python_gc_collections_total Garbage collections by generation. Per worker.",
        "# TYPE python_gc_collections_total counter",
    ]
    for snap in live:
        proc = snap.get("process", {})
        for gen in range(3):
            value = proc.get(f"gc_collections_{gen}")
            if value is not None:
                lines.append(
                    f'python_gc_collections_total{{pid="{snap.get("pid")}",generation="{gen}"}} '
                    f"{value}"
                )
    for name, spec in sorted(custom.items()):
        lines += [f"# HELP {name} {_esc(spec['help'])}", f"# TYPE {name} counter"]
        label_names = spec["labels"]
        for key, value in sorted(spec["values"].items()):
            if label_names:
                text = ",".join(
                    f'{ln}="{_esc(v)}"' for ln, v in zip(label_names, key, strict=False)
                )
                lines.append(f"{name}{{{text}}} {value}")
            else:
                lines.append(f"{name} {value}")
    return ("\n".join(lines) + "\n").encode()


def _metric_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
