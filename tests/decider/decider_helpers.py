"""Builders shared by the decider's tests: situations at scripted times, policies, trained models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from arca.decider.anticipator import Anticipator, LearnedSample
from arca.decider.policy import Policy
from arca.messages import ActiveIncident, Situation

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def situation(t: float, *, demand: float | None = 0.2, active: int = 1, booting: int = 0,
              severity: int = 0, onset: float | None = None, incident: str = "inc-1",
              trigger: str = "telemetry", load: float | None = None, discard: float = 0.0,
              detected_from_load: bool = False, system: str = "emergency",
              incidents: tuple[tuple[str, int, float], ...] | None = None) -> Situation:
    """A situation at ``t`` s; telemetry ones carry a load window ending at ``t``.

    ``incidents``: every active incident as (id, severity, onset s); without it, the single incident
    of ``severity``/``onset``/``incident`` (if any).
    """
    telemetry = trigger == "telemetry"
    avg = load if load is not None else (min(1.0, demand / active) if demand is not None and active else 0.0)
    has_incident = severity > 0 or detected_from_load
    if incidents is None:
        incidents = ((incident, severity, onset or 0.0),) if has_incident else ()
    elif incidents:
        incident, severity, onset = max(incidents, key=lambda i: (i[2], i[1]))
        has_incident = True
    active_incidents = tuple(ActiveIncident(incident_id=i, severity=sv, onset=at(o), source="seismo-1",
                                            detected_from_load=detected_from_load)
                             for i, sv, o in incidents)
    return Situation(
        event_time=at(t), system=system, servants_active=active, servants_booting=booting,
        average_load=avg, discard_ratio=discard,
        incident_severity=severity, incident_id=incident if has_incident else None,
        incident_onset=at(onset if onset is not None else 0.0) if has_incident else None,
        incident_elapsed_s=(t - (onset or 0.0)) if has_incident else None,
        detected_from_load=detected_from_load, trigger=trigger,
        demand_servants=demand, load_time=at(t) if telemetry else None,
        load_window_s=10.0 if telemetry else None, incidents=active_incidents,
    )


def policy(**overrides: object) -> Policy:
    base: dict[str, object] = {"system": "emergency", "low_threshold": 0.5, "high_threshold": 0.7,
                               "min_servants": 1, "max_servants": 15, "default_servants": 1,
                               "expiration_s": 45.0, "lead_time_s": 10.0}
    base.update(overrides)
    return Policy.model_validate(base)


def burst_need(severity: int, elapsed: float) -> int:
    """A severity-dependent burst (peak ~15 s) in servants: the curve the tests teach."""
    if severity == 0 or elapsed < 5 or elapsed > 30:
        return 1
    peak = 2 * severity
    return max(1, round(1 + (peak - 1) * (1 - abs(elapsed - 15) / 15)))


def trained(severities: tuple[int, ...] = (1, 2, 3, 4)) -> Anticipator:
    samples = [LearnedSample(s, float(e), burst_need(s, e), sample_id=f"p-{s}-{e}", source="prior")
               for s in severities for e in range(0, 46, 2)]
    model = Anticipator(samples)
    model.refit()
    return model


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds (wall time: real broker tests)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
