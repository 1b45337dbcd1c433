"""The one contract every enforcer action keeps, and the actions of the servant lifecycle.

An action has typed params (pydantic), a pre-condition (already true -> ``skipped``: idempotent),
an ``execute`` that issues its side effects step by step, a post-condition that verifies the
effect, and explicit states::

    pending -> running -> verifying -> succeeded
        \\-> skipped     \\-> failed (deadline, refusal, retries exhausted)

Nothing waits on wall time: ``step(now)`` advances the action as far as it can and returns; the
reconciler calls it again on the next tick or message. Transient driver errors (5xx, timeouts,
lost connections) are retried with exponential backoff, bounded by ``RetryPolicy``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from arca.enforcer.drivers.base import DriverError, PermanentError, ServantDriver, TransientError
from arca.enforcer.model import STANDBY_STATUS, Servant


class ActionState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        return self in (ActionState.SUCCEEDED, ActionState.FAILED, ActionState.SKIPPED)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff for transient failures, and the action's overall deadline."""

    max_attempts: int = 5
    initial_s: float = 0.5
    factor: float = 2.0
    max_backoff_s: float = 10.0
    deadline_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based)."""
        return float(min(self.initial_s * self.factor ** (attempt - 1), self.max_backoff_s))


class ActionParams(BaseModel):
    """Params every action carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    system: str = Field(min_length=1)


class Action(ABC):
    """One change to the infrastructure, driven by ``step`` until a terminal state."""

    kind: ClassVar[str]
    """Name of the action (metric label, ``Enforcement.action``)."""
    category: ClassVar[str]
    """Which policy permission it needs: ``scale-out``, ``scale-in`` or ``heal``."""
    driver_name: str = "none"

    def __init__(self, params: ActionParams, *, action_id: str, retry: RetryPolicy,
                 decision_id: str | None = None) -> None:
        self.params = params
        self.id = action_id
        self.retry = retry
        self.decision_id = decision_id
        self.state = ActionState.PENDING
        self.attempts = 0
        self.created_at: datetime | None = None
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.next_attempt_at: datetime | None = None
        self.detail = ""
        self.target: str | None = None
        self.history: list[tuple[datetime, ActionState]] = []

    # --- the contract -------------------------------------------------------------------------
    @abstractmethod
    def precondition(self, servants: Sequence[Servant]) -> bool:
        """True when the effect already holds in the observed state (the action is then skipped)."""

    @abstractmethod
    def execute(self, now: datetime) -> bool:
        """Issue the next side effect; True once every side effect has been issued."""

    @abstractmethod
    def postcondition(self, now: datetime) -> bool:
        """True once the effect is verified on the infrastructure (False: not yet)."""

    # --- the state machine -------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.state.terminal

    def _to(self, state: ActionState, now: datetime, detail: str | None = None) -> None:
        self.state = state
        self.history.append((now, state))
        if detail is not None:
            self.detail = detail
        if state.terminal:
            self.finished_at = now

    def _past_deadline(self, now: datetime) -> bool:
        return self.started_at is not None and now - self.started_at > timedelta(
            seconds=self.retry.deadline_s
        )

    def on_deadline(self, now: datetime) -> None:  # noqa: B027 - optional hook
        """Called once when the deadline passes (e.g. to note the resource as condemned)."""

    def step(self, now: datetime, servants: Sequence[Servant] = ()) -> ActionState:
        """Advance as far as possible without waiting; returns the state reached."""
        if self.done or (self.next_attempt_at is not None and now < self.next_attempt_at):
            return self.state
        if self.created_at is None:
            self.created_at = now
        try:
            if self.state is ActionState.PENDING:
                self.started_at = now
                if self.precondition(servants):
                    self._to(ActionState.SKIPPED, now, "already in the desired state")
                    return self.state
                self._to(ActionState.RUNNING, now)
            if self.state is ActionState.RUNNING:
                if self._past_deadline(now):
                    return self._fail_deadline(now, "not executed")
                if not self.execute(now):
                    return self.state
                self._to(ActionState.VERIFYING, now)
            if self.state is ActionState.VERIFYING:
                if self.postcondition(now):
                    self._to(ActionState.SUCCEEDED, now)
                elif self._past_deadline(now):
                    return self._fail_deadline(now, "not verified")
        except TransientError as exc:
            self.attempts += 1
            if self.attempts >= self.retry.max_attempts or self._past_deadline(now):
                self._to(ActionState.FAILED, now, f"gave up after {self.attempts} attempts: {exc}")
            else:
                delay = self.retry.backoff(self.attempts)
                self.next_attempt_at = now + timedelta(seconds=delay)
                self.detail = f"retry {self.attempts} in {delay:g}s: {exc}"
        except (PermanentError, DriverError) as exc:
            self._to(ActionState.FAILED, now, f"refused: {exc}")
        return self.state

    def cancel(self, now: datetime, why: str) -> None:
        """Stop this action where it is (a later plan made it unnecessary): it ends ``skipped`` with
        ``why`` as its detail; what it already did stays (the planner removes it if it must go)."""
        if not self.done:
            self._to(ActionState.SKIPPED, now, f"cancelled: {why}")

    def _fail_deadline(self, now: datetime, what: str) -> ActionState:
        self.on_deadline(now)
        self._to(ActionState.FAILED, now, f"{what} within the {self.retry.deadline_s:g}s deadline")
        return self.state


# --- servant lifecycle (any ServantDriver: OpenStack) ---------------------------------------------


class CreateParams(ActionParams):
    name: str = Field(min_length=1)


class ServantParams(ActionParams):
    server_id: str = Field(min_length=1)
    name: str = ""


class CreateServant(Action):
    """Boot a servant, wait (tick by tick) for ACTIVE, add it to the pools, verify membership."""

    kind = "create_servant"
    category = "scale-out"
    params: CreateParams

    def __init__(self, params: CreateParams, driver: ServantDriver, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.joined = False
        self.active_at: datetime | None = None

    def precondition(self, servants: Sequence[Servant]) -> bool:
        for s in servants:
            if s.name == self.params.name:
                self.target = s.id
                return s.status == "active" and s.in_pool
        return False

    def execute(self, now: datetime) -> bool:
        p = self.params
        if self.target is None:
            self.target = _find_or_create(self.driver, p, bool(self.attempts))
        server = self.driver.get_servant(p.system, self.target, pools=False)
        if server is None:
            raise PermanentError(f"server {self.target} ({p.name}) disappeared while booting")
        if server.status in ("error", "shutoff", "deleted"):
            raise PermanentError(f"server {self.target} ({p.name}) went {server.status} while booting")
        if server.status != "active":
            return False
        if self.active_at is None:
            self.active_at = now
        _join_once(self, p.system, self.target)
        return True

    def postcondition(self, now: datetime) -> bool:
        assert self.target is not None
        return _serving(self.driver, self.params.system, self.target)


def _find_or_create(driver: ServantDriver, p: CreateParams, retried: bool) -> str:
    """The server of a create: a retried or redelivered one first looks for what it may have made."""
    found = driver.find_servant(p.system, p.name) if retried else None
    return found.id if found else driver.create_servant(p.system, p.name)


def _join_once(action: Any, system: str, server_id: str) -> None:
    """Add the servant to every pool, once per action (``action.joined`` remembers it)."""
    if not action.joined:
        action.driver.add_to_pool(system, server_id)
        action.joined = True


def _drained(action: Any, system: str, server_id: str, now: datetime) -> bool:
    """Take the servant out of every pool (once), then True when ``action.drain_s`` has passed."""
    if action.drained_at is None:
        action.driver.remove_from_pool(system, server_id)
        action.drained_at = now
    return bool(now - action.drained_at >= timedelta(seconds=action.drain_s))


def _serving(driver: ServantDriver, system: str, server_id: str) -> bool:
    """The postcondition of a servant put in service: ACTIVE and in every pool."""
    server = driver.get_servant(system, server_id)
    return server is not None and server.status == "active" and server.in_pool


class RemoveServant(Action):
    """Drain a servant out of the pools, then delete it; verified when it is gone."""

    kind = "remove_servant"
    category = "scale-in"
    params: ServantParams

    def __init__(self, params: ServantParams, driver: ServantDriver, *, drain_s: float = 0.0,
                 category: str = "scale-in", **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.drain_s = drain_s
        self.category = category  # type: ignore[misc]  # heal when removing a broken servant
        self.target = params.server_id
        self.drained_at: datetime | None = None
        self.deleted = False

    def precondition(self, servants: Sequence[Servant]) -> bool:
        return all(s.id != self.params.server_id for s in servants)

    def execute(self, now: datetime) -> bool:
        p = self.params
        if not _drained(self, p.system, p.server_id, now):
            return False
        if not self.deleted:
            self.driver.delete_servant(p.system, p.server_id)
            self.deleted = True
        return True

    def postcondition(self, now: datetime) -> bool:
        server = self.driver.get_servant(self.params.system, self.params.server_id)
        return server is None or server.status == "deleted"


class JoinPool(Action):
    """Repair drift: an ACTIVE servant missing from a pool is added back."""

    kind = "join_pool"
    category = "heal"
    params: ServantParams

    def __init__(self, params: ServantParams, driver: ServantDriver, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.target = params.server_id

    def precondition(self, servants: Sequence[Servant]) -> bool:
        return any(s.id == self.params.server_id and s.in_pool for s in servants)

    def execute(self, now: datetime) -> bool:
        self.driver.add_to_pool(self.params.system, self.params.server_id)
        return True

    def postcondition(self, now: datetime) -> bool:
        server = self.driver.get_servant(self.params.system, self.params.server_id)
        if server is None:
            raise PermanentError(f"server {self.params.server_id} is gone")
        return server.in_pool


# --- warm pool (EC2 Auto Scaling warm pools over Nova server actions) ------------------------------


class StandbyParams(ServantParams):
    state: str = Field(pattern="^(stopped|suspended|paused|shelved)$")


class RefillParams(CreateParams):
    state: str = Field(pattern="^(stopped|suspended|paused|shelved)$")


class ResumeServant(Action):
    """Bring a pool servant back: resume it (ACTIVE), add it to every pool, verify both.

    Idempotent: a servant already resuming (task_state set, e.g. after an enforcer restart) is not
    asked again, only waited for; a servant that never reaches ACTIVE within the deadline is
    condemned by the reconciler (removed and replaced)."""

    kind = "resume_servant"
    category = "scale-out"
    params: ServantParams

    def __init__(self, params: ServantParams, driver: ServantDriver, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.target = params.server_id
        self.joined = False

    def precondition(self, servants: Sequence[Servant]) -> bool:
        return any(s.id == self.params.server_id and s.status == "active" and s.in_pool
                   and s.task_state is None for s in servants)

    def execute(self, now: datetime) -> bool:
        p = self.params
        server = self.driver.get_servant(p.system, p.server_id, pools=False)
        if server is None:
            raise PermanentError(f"server {p.server_id} ({p.name}) disappeared while resuming")
        if server.status in ("error", "deleted"):
            raise PermanentError(f"server {p.server_id} ({p.name}) went {server.status} while resuming")
        if server.task_state is not None:
            return False  # a transition in flight (ours, before a restart, or another): wait
        if server.standing_by:
            self.driver.resume_servant(p.system, p.server_id)
            return False
        if server.status != "active":
            return False
        _join_once(self, p.system, p.server_id)
        return True

    def postcondition(self, now: datetime) -> bool:
        return _serving(self.driver, self.params.system, self.params.server_id)


class StandbyServant(Action):
    """Put a surplus servant back in the warm pool: drain it out of the pools, then stand it by."""

    kind = "standby_servant"
    category = "scale-in"
    params: StandbyParams

    def __init__(self, params: StandbyParams, driver: ServantDriver, *, drain_s: float = 0.0,
                 **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.drain_s = drain_s
        self.target = params.server_id
        self.drained_at: datetime | None = None
        self.asked = False

    def precondition(self, servants: Sequence[Servant]) -> bool:
        want = STANDBY_STATUS[self.params.state]
        return any(s.id == self.params.server_id and s.status == want and s.task_state is None
                   for s in servants)

    def execute(self, now: datetime) -> bool:
        p = self.params
        if not _drained(self, p.system, p.server_id, now):
            return False
        if not self.asked:
            self.driver.standby_servant(p.system, p.server_id, p.state)
            self.asked = True
        return True

    def postcondition(self, now: datetime) -> bool:
        p = self.params
        server = self.driver.get_servant(p.system, p.server_id, pools=False)
        if server is None or server.status in ("error", "deleted"):
            raise PermanentError(f"server {p.server_id} ({p.name}) is gone or broken while standing by")
        return server.status == STANDBY_STATUS[p.state] and server.task_state is None


class RefillPool(Action):
    """Create a servant for the warm pool: boot it, then stand it by (or, once claimed by a scale-out
    before it stood by, add it to the pools instead)."""

    kind = "refill_pool"
    category = "scale-out"
    params: RefillParams

    def __init__(self, params: RefillParams, driver: ServantDriver, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.driver = driver
        self.driver_name = driver.name
        self.claimed = False
        self.asked = False
        self.joined = False

    def claim(self) -> bool:
        """Serve instead of standing by; False once the standby was asked (resume it later)."""
        if self.asked or self.done:
            return False
        self.claimed = True
        return True

    def precondition(self, servants: Sequence[Servant]) -> bool:
        want = STANDBY_STATUS[self.params.state]
        for s in servants:
            if s.name == self.params.name:
                self.target = s.id
                return s.status == want and s.task_state is None
        return False

    def execute(self, now: datetime) -> bool:
        p = self.params
        if self.target is None:
            self.target = _find_or_create(self.driver, p, bool(self.attempts))
        server = self.driver.get_servant(p.system, self.target, pools=False)
        if server is None:
            raise PermanentError(f"server {self.target} ({p.name}) disappeared while booting")
        if server.status in ("error", "deleted"):
            raise PermanentError(f"server {self.target} ({p.name}) went {server.status} while booting")
        if server.status != "active" or server.task_state is not None:
            # booting, or entering standby (asked by us, or before a restart): done once it stands by
            return server.standing_by and server.task_state is None and not self.claimed
        if self.claimed:
            _join_once(self, p.system, self.target)
            return True
        if not self.asked:
            self.driver.standby_servant(p.system, self.target, p.state)
            self.asked = True
        return True

    def postcondition(self, now: datetime) -> bool:
        assert self.target is not None
        server = self.driver.get_servant(self.params.system, self.target, pools=self.claimed)
        if server is None or server.status in ("error", "deleted"):
            raise PermanentError(f"server {self.target} ({self.params.name}) is gone or broken")
        if self.claimed:
            return server.status == "active" and server.in_pool
        return server.status == STANDBY_STATUS[self.params.state] and server.task_state is None


# --- OSM network-service operations -----------------------------------------------------------


class OsmOps(Protocol):
    """What OSM actions need from the NBI client."""

    name: str

    def scale(self, ns_id: str, scaling_group: str, member_vnf_index: str, direction: str) -> str: ...

    def heal(self, ns_id: str, vnf_instance_id: str, vdu_id: str | None = None) -> str: ...

    def operation_state(self, op_id: str) -> str: ...


class OsmScaleParams(ActionParams):
    ns_id: str = Field(min_length=1)
    scaling_group: str = Field(min_length=1)
    member_vnf_index: str = Field(min_length=1)
    direction: str = Field(pattern="^(SCALE_OUT|SCALE_IN)$")
    instances: int = Field(default=1, ge=1)
    """VDUs the aspect (``scaling_group``) adds or removes: its vdu-delta's number-of-instances."""
    plan: str = ""
    """The whole plan this operation starts (``osm_plan.describe``), for the report."""


class OsmHealParams(ActionParams):
    ns_id: str = Field(min_length=1)
    vnf_instance_id: str = Field(min_length=1)
    vdu_id: str | None = None


class _OsmOperation(Action):
    """Common part: one NBI operation, verified when ``ns_lcm_op_occs/{id}`` is COMPLETED."""

    def __init__(self, params: ActionParams, client: OsmOps, **kw: object) -> None:
        super().__init__(params, **kw)  # type: ignore[arg-type]
        self.client = client
        self.driver_name = client.name
        self.op_id: str | None = None

    def precondition(self, servants: Sequence[Servant]) -> bool:
        return False  # OSM operations are decided from counts the reconciler already checked

    @abstractmethod
    def _start(self) -> str: ...

    def execute(self, now: datetime) -> bool:
        if self.op_id is None:
            self.op_id = self._start()
            self.target = self.op_id
        return True

    def postcondition(self, now: datetime) -> bool:
        assert self.op_id is not None
        state = self.client.operation_state(self.op_id)
        if state in ("FAILED", "FAILED_TEMP", "ROLLED_BACK"):
            raise PermanentError(f"OSM operation {self.op_id} ended {state}")
        return state == "COMPLETED"


class OsmScale(_OsmOperation):
    """Apply one scaling aspect (scaling group) of an NS instance out or in: its whole delta."""

    kind = "osm_scale"
    category = "scale-out"
    params: OsmScaleParams

    def __init__(self, params: OsmScaleParams, client: OsmOps, **kw: object) -> None:
        super().__init__(params, client, **kw)
        if params.direction == "SCALE_IN":
            self.category = "scale-in"  # type: ignore[misc]

    def _start(self) -> str:
        p = self.params
        return self.client.scale(p.ns_id, p.scaling_group, p.member_vnf_index, p.direction)


class OsmHeal(_OsmOperation):
    """Heal (re-create) a dead VNF instance."""

    kind = "osm_heal"
    category = "heal"
    params: OsmHealParams

    def _start(self) -> str:
        p = self.params
        return self.client.heal(p.ns_id, p.vnf_instance_id, p.vdu_id)
