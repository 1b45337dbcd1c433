"""Nova's server state machine for the actions the testbed serves, as data (warm standby builds on it).

Each action names the Nova ``vm_state``s it is allowed from (Nova's ``check_instance_state`` in
``nova/compute/api.py``), the ``task_state`` the server shows while the action runs, the status
it ends in, and how long the transition takes in *simulated* seconds. A server whose task_state
is not None refuses every action (Nova: 409 ``conflictingRequest`` "Cannot 'stop' instance ...
while it is in task_state powering-off"); a server in a vm_state the action does not allow
refuses it the same way ("... while it is in vm_state stopped").

Status <-> vm_state <-> power_state follow ``nova/api/openstack/common.py`` (``_STATE_MAP``) and
``nova/compute/power_state.py`` (NOSTATE 0, RUNNING 1, PAUSED 3, SHUTDOWN 4, CRASHED 6,
SUSPENDED 7).

Default durations (``DEFAULT_DURATIONS_S``) and where each comes from:

- ``os-stop`` 5 s, ``reboot`` SOFT 5 s: a clean ACPI shutdown of a small Linux guest takes a few
  seconds; Nova waits for it up to ``[DEFAULT] shutdown_timeout`` (60 s) before forcing it off.
  Testbed assumption, bounded by that option.
- ``os-start`` 5 s, ``reboot`` HARD 3 s: power-on of an existing libvirt domain; the guest's own
  boot is not waited for by Nova. Testbed assumption.
- ``suspend`` / ``resume`` 4 s each: libvirt managed save/restore writes/reads the guest's RAM
  (2 GiB for ``m1.servant``) to/from local disk at ~0.5 GB/s. Testbed assumption.
- ``pause`` / ``unpause`` 0.5 s: the vCPUs are only stopped/resumed in place (no I/O). Assumption.
- ``shelve`` 10 s: a snapshot of the root disk (20 GiB sparse, ~1 GiB used) uploaded to Glance.
  Assumption. The offload that follows starts at once: Nova's ``[DEFAULT] shelved_offload_time``
  defaults to 0 (offload immediately); ``shelve_offload`` 2 s (the domain is undefined).
- ``unshelve``: the server is spawned again from its snapshot: the model's boot delay
  (``ModelParams.boot_delay_s``), like a create.

Standby (warm pool) and billing. A servant in one of ``STANDBY_STATUSES`` is *standing by*: it exists
but serves nothing. The accounting integrates it as ``standby_seconds`` (not in ``servant_seconds``,
which keeps meaning running + booting) and weighs every status by ``DEFAULT_BILLING_WEIGHTS``
(share of a running servant's price; ``ModelParams.billing_weights`` overrides them). The defaults
follow EC2, whose warm pools the issue copies, priced for ``m1.servant`` (2 vCPU, 2 GiB RAM, 20 GiB
disk) as an on-demand t3.small ($0.0208/h, us-east-1) with a 20 GiB gp3 root volume ($0.08 per
GB-month = $0.0022/h):

- ACTIVE, BUILD, ERROR, REBOOT, HARD_REBOOT 1.0: instance + volume ($0.0230/h).
- SHUTOFF 0.1: EC2 bills a stopped instance only for its EBS volumes ("Stopped" warm pool state):
  0.0022 / 0.0230 = 0.095, rounded up.
- SUSPENDED 0.11: EC2 "Hibernated": the volumes plus the saved RAM (2 GiB more on the volume:
  22 GiB -> 0.105), rounded up.
- PAUSED 1.0: the guest stays in the host's memory with its vCPUs reserved; no cloud discounts it
  (EC2 has no such state; a "Running" warm pool is billed in full).
- SHELVED 0.1 (still on its host, as stopped); SHELVED_OFFLOADED 0.01: only the Glance snapshot
  (~1 GiB used of 20 GiB) is kept, EBS-snapshot-like storage ($0.05 per GB-month): ~0.003, rounded up.

Caveat: many OpenStack public clouds bill SHUTOFF and SUSPENDED at the full flavor price (Nova keeps
their Placement allocations on the host; only a shelved-offloaded server frees them), so on such a
cloud set SHUTOFF/SUSPENDED to 1.0 and only ``shelve`` saves money.
"""

from __future__ import annotations

from dataclasses import dataclass

# Nova statuses (API) -> (vm_state, power_state)
ACTIVE, BUILD, ERROR, DELETED = "ACTIVE", "BUILD", "ERROR", "DELETED"
SHUTOFF, SUSPENDED, PAUSED = "SHUTOFF", "SUSPENDED", "PAUSED"
SHELVED, SHELVED_OFFLOADED = "SHELVED", "SHELVED_OFFLOADED"
REBOOT, HARD_REBOOT = "REBOOT", "HARD_REBOOT"

VM_STATE = {
    BUILD: "building", ACTIVE: "active", ERROR: "error", DELETED: "deleted", SHUTOFF: "stopped",
    SUSPENDED: "suspended", PAUSED: "paused", SHELVED: "shelved", SHELVED_OFFLOADED: "shelved_offloaded",
}
POWER_STATE = {
    BUILD: 0, ACTIVE: 1, ERROR: 4, DELETED: 0, SHUTOFF: 4, SUSPENDED: 7, PAUSED: 3,
    SHELVED: 4, SHELVED_OFFLOADED: 0,
}


@dataclass(frozen=True)
class Transition:
    """A server action: allowed from ``from_states``, shows ``task_state`` while it runs, ends in ``to``."""

    action: str
    from_states: frozenset[str]
    task_state: str
    to: str
    transient_status: str | None = None
    """The API status while the action runs when it is not the starting one (REBOOT, HARD_REBOOT)."""
    then: str | None = None
    """An action that starts by itself once this one ends (shelve -> shelve_offload)."""


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("os-stop", frozenset({ACTIVE, ERROR}), "powering-off", SHUTOFF),
    Transition("os-start", frozenset({SHUTOFF}), "powering-on", ACTIVE),
    Transition("suspend", frozenset({ACTIVE}), "suspending", SUSPENDED),
    Transition("resume", frozenset({SUSPENDED}), "resuming", ACTIVE),
    Transition("pause", frozenset({ACTIVE}), "pausing", PAUSED),
    Transition("unpause", frozenset({PAUSED}), "unpausing", ACTIVE),
    Transition("shelve", frozenset({ACTIVE, SHUTOFF, PAUSED, SUSPENDED}), "shelving", SHELVED,
               then="shelve_offload"),
    Transition("shelve_offload", frozenset({SHELVED}), "shelving_offloading", SHELVED_OFFLOADED),
    Transition("unshelve", frozenset({SHELVED, SHELVED_OFFLOADED}), "spawning", ACTIVE),
    Transition("reboot:SOFT", frozenset({ACTIVE}), "rebooting", ACTIVE, transient_status=REBOOT),
    Transition("reboot:HARD", frozenset({ACTIVE, SHUTOFF, PAUSED, SUSPENDED, ERROR}), "rebooting_hard",
               ACTIVE, transient_status=HARD_REBOOT),
)}

DEFAULT_DURATIONS_S: dict[str, float] = {
    "os-stop": 5.0, "os-start": 5.0, "suspend": 4.0, "resume": 4.0, "pause": 0.5, "unpause": 0.5,
    "shelve": 10.0, "shelve_offload": 2.0, "reboot:SOFT": 5.0, "reboot:HARD": 3.0,
}
"""Simulated seconds per action (sources in the module docstring); ``unshelve`` = the boot delay."""


STANDBY_STATUSES: frozenset[str] = frozenset({SHUTOFF, SUSPENDED, PAUSED, SHELVED, SHELVED_OFFLOADED})
"""Statuses of a servant that exists but stands by (a warm pool's member)."""

DEFAULT_BILLING_WEIGHTS: dict[str, float] = {
    ACTIVE: 1.0, BUILD: 1.0, ERROR: 1.0, REBOOT: 1.0, HARD_REBOOT: 1.0,
    SHUTOFF: 0.1, SUSPENDED: 0.11, PAUSED: 1.0, SHELVED: 0.1, SHELVED_OFFLOADED: 0.01, DELETED: 0.0,
}
"""Share of a running servant's price billed per status (sources in the module docstring)."""


class Conflict(Exception):
    """The action is not allowed in the server's current state (Nova: 409 conflictingRequest)."""


def check(action: str, server_id: str, status: str, task_state: str | None) -> Transition:
    """The transition ``action`` starts from ``status``, or ``Conflict`` with Nova's message."""
    t = TRANSITIONS[action]
    name = action.split(":")[0].removeprefix("os-")  # Nova names the method: 'start', 'stop'
    if task_state is not None:
        raise Conflict(f"Cannot '{name}' instance {server_id} while it is in task_state {task_state}")
    if status not in t.from_states:
        raise Conflict(
            f"Cannot '{name}' instance {server_id} while it is in vm_state "
            f"{VM_STATE.get(status, status.lower())}"
        )
    return t
