"""Prometheus metrics for the server, kept in plain dicts (cheap on the hot path).

Labels are bounded: actions the play does not know are counted as ``(unknown)``, so bad
traffic cannot grow the label set.
"""

from __future__ import annotations

from bisect import bisect_left

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


class Histogram:
    __slots__ = ("counts", "sum", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.sum = 0.0
        self.total = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds
        self.total += 1


class Metrics:
    """Request counts by action, result code and status; latency by action; in-flight."""

    __slots__ = ("errors", "in_flight", "latency", "requests")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.errors: dict[tuple[str, int], int] = {}
        self.in_flight = 0

    def observe(self, action: str, result_code: str, status: int, seconds: float) -> None:
        key = (action, result_code, status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        hist = self.latency.get(action)
        if hist is None:
            hist = self.latency[action] = Histogram()
        hist.counts[bisect_left(BUCKETS, seconds)] += 1
        hist.sum += seconds
        hist.total += 1

    def rejected(self, code: str, status: int) -> None:
        """A request answered with a 4xx before reaching an action."""
        key = (code, status)
        self.errors[key] = self.errors.get(key, 0) + 1

    def render(self) -> bytes:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines = [
            "# HELP voicehook_requests_total Action calls by action, result code and HTTP status.",
            "# TYPE voicehook_requests_total counter",
        ]
        for (action, code, status), n in sorted(self.requests.items()):
            lines.append(
                f'voicehook_requests_total{{action="{_esc(action)}",result_code="{_esc(code)}",'
                f'status="{status}"}} {n}'
            )
        lines += [
            "# HELP voicehook_rejected_total Requests rejected before an action, by error code.",
            "# TYPE voicehook_rejected_total counter",
        ]
        for (code, status), n in sorted(self.errors.items()):
            lines.append(f'voicehook_rejected_total{{code="{_esc(code)}",status="{status}"}} {n}')
        lines += [
            "# HELP voicehook_request_duration_seconds Action call latency.",
            "# TYPE voicehook_request_duration_seconds histogram",
        ]
        for action, hist in sorted(self.latency.items()):
            label = _esc(action)
            cumulative = 0
            for bound, count in zip(BUCKETS, hist.counts, strict=False):
                cumulative += count
                lines.append(
                    f'voicehook_request_duration_seconds_bucket{{action="{label}",le="{bound}"}} '
                    f"{cumulative}"
                )
            lines.append(
                f'voicehook_request_duration_seconds_bucket{{action="{label}",le="+Inf"}} '
                f"{hist.total}"
            )
            lines.append(f'voicehook_request_duration_seconds_sum{{action="{label}"}} {hist.sum}')
            lines.append(
                f'voicehook_request_duration_seconds_count{{action="{label}"}} {hist.total}'
            )
        lines += [
            "# HELP voicehook_in_flight Action calls being handled now.",
            "# TYPE voicehook_in_flight gauge",
            f"voicehook_in_flight {self.in_flight}",
        ]
        return ("\n".join(lines) + "\n").encode()


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
