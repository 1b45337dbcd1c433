"""Incidents as the decider sees them: which a situation announces, and when each one expires; pure.

One model for one vocabulary: the decider (``arca.decider.loop``: ``events_of``, ``expiry``) and
``arca status`` (``arca.status``) read incidents through these two functions, with the same policy
value (``arca:expirationSeconds``, ``Policy.expiration_s``), so the view never says an incident is
active after the decider expired it (issue 19: status showed an incident 110 s after its onset, from
the analyzer's ``incident_ttl_s`` of 120 s, when the decider had let it go at 45 s).

* ``announced(situation)`` -- the incidents a detector announced (severity > 0, not found from load
  alone): the ones the decider anticipates. A situation without ``incidents`` (an older producer)
  gives its single ``incident_*`` incident.
* ``expired(onset, now, expiration_s)`` -- an anticipation ends ``expiration_s`` after its incident's
  onset: expired strictly after (at exactly ``expiration_s`` it is still active).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from arca.messages import ActiveIncident, Situation


def announced(situation: Situation) -> list[ActiveIncident]:
    """Every incident of ``situation`` announced by a detector (oldest onset first)."""
    if situation.incidents:
        return [i for i in situation.incidents if i.severity > 0 and not i.detected_from_load]
    if (situation.incident_id is None or situation.incident_severity <= 0
            or situation.incident_onset is None or situation.detected_from_load):
        return []
    return [ActiveIncident(incident_id=situation.incident_id, severity=situation.incident_severity,
                           onset=situation.incident_onset,
                           source=situation.incident_source or "unknown")]


def expired(onset: datetime, now: datetime, expiration_s: float) -> bool:
    """Whether an incident of ``onset`` has expired at ``now`` (``expiration_s`` after its onset)."""
    return (now - onset).total_seconds() > expiration_s


def expires_at(onset: datetime, expiration_s: float) -> datetime:
    """The last instant the incident is still active."""
    return onset + timedelta(seconds=expiration_s)
