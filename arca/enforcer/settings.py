"""Settings of the enforcer (the ``enforcer`` group of ``ArcaSettings``; env ``ARCA_ENFORCER__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EnforcerSettings(BaseModel):
    """Knobs of the enforcer; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
    driver: Literal["openstack", "osm", "none"] = Field(
        default="openstack",
        description="Infrastructure driver: 'openstack' (Nova + Octavia), 'osm' (NBI scale/heal), "
        "'none' (decisions are recorded, nothing is touched).",
    )
    systems: list[str] = Field(
        default_factory=list,
        description="Systems reconciled from the start (repairs only until their first decision).",
    )
    resync_interval_s: float = Field(
        default=10.0, gt=0, description="Seconds between full re-reads of the actual state (drift repair)."
    )
    refusal_record_interval_s: float = Field(
        default=60.0, ge=0,
        description="A refusal repeated for the same system, action, servant and guard is stored in the "
        "knowledge base at most once per this many seconds, the next record counting the repeats "
        "(every one is still published and counted); 0: store every one.",
    )
    boot_timeout_s: float = Field(
        default=120.0, gt=0,
        description="Deadline for a servant to be ACTIVE and in the pool, timed on the enforcer's own "
        "clock (from its create, or from when it first saw the server building; never from the "
        "cloud's 'created' time); past it the server is condemned, removed and replaced.",
    )
    resume_timeout_s: float = Field(
        default=60.0, gt=0,
        description="Seconds a warm-pool servant may take to be ACTIVE and in the pools again; past it the "
        "servant is condemned (removed and replaced).",
    )
    remove_timeout_s: float = Field(
        default=60.0, gt=0, description="Deadline for a removal (drain + delete) to be verified."
    )
    drain_s: float = Field(
        default=0.0, ge=0,
        description="Seconds between taking a servant out of the pool and deleting it.",
    )
    retry_max_attempts: int = Field(
        default=5, ge=1, description="Attempts of one step on transient errors (5xx, timeouts)."
    )
    retry_initial_s: float = Field(default=0.5, gt=0, description="First retry backoff.")
    retry_max_s: float = Field(default=8.0, gt=0, description="Longest retry backoff.")
    min_servants: int = Field(
        default=1, ge=0, description="Lower bound when the knowledge base holds no policy for a system."
    )
    max_servants: int = Field(
        default=15, ge=0, description="Upper bound when the knowledge base holds no policy for a system."
    )
    allowed_actions: list[str] = Field(
        default_factory=lambda: ["scale-out", "scale-in", "heal"],
        description="Action categories allowed when no policy says otherwise.",
    )
    # --- OpenStack ---
    os_cloud: str | None = Field(
        default=None,
        description="Cloud name in clouds.yaml (like OS_CLOUD); unset: OS_CLOUD or the explicit "
        "auth settings below.",
    )
    auth_url: str | None = Field(default=None, description="Keystone v3 URL (explicit settings).")
    username: str | None = Field(default=None, description="OpenStack user (explicit settings).")
    password: str | None = Field(default=None, description="OpenStack password (explicit settings).")
    project_name: str | None = Field(default=None, description="OpenStack project (explicit settings).")
    user_domain_name: str = Field(default="Default", description="Domain of the user.")
    project_domain_name: str = Field(default="Default", description="Domain of the project.")
    region_name: str | None = Field(default=None, description="OpenStack region, if several.")
    image: str = Field(default="emergency-servant", description="Image (name or id) servants boot from.")
    flavor: str = Field(default="m1.servant", description="Flavor (name or id) of servants.")
    network: str | None = Field(default=None, description="Network (name or id) servants attach to.")
    pools: list[str] = Field(
        default_factory=list,
        description="Octavia pools (names or ids) servants join, one member each; empty: every pool "
        "whose name starts with the system id.",
    )
    member_port: int = Field(default=80, ge=1, le=65535, description="Protocol port of pool members.")
    api_timeout_s: float = Field(default=5.0, gt=0, description="HTTP timeout of one API call.")
    # --- OSM ---
    osm_url: str = Field(default="http://127.0.0.1:9999", description="Base URL of OSM's NBI.")
    osm_username: str = Field(default="admin", description="OSM user.")
    osm_password: str = Field(default="admin", description="OSM password.")
    osm_project: str = Field(default="admin", description="OSM project.")
    osm_ns_id: str | None = Field(
        default=None, description="NS instance scaled for the system (OSM mode); in OpenStack mode, "
        "recorded on the servers ARCA creates (metadata osm_ns_id): an OSM alarm acts only on a "
        "servant whose own NS record is the alarm's NS.")
    osm_scaling_group: str = Field(
        default="relay-scaling",
        description="Scaling-group descriptor (scaling aspect) used when the VNFD cannot be read; its VDU "
        "is the one scaled.")
    osm_scaling_aspects: list[str] = Field(
        default_factory=list,
        description="Scaling aspects of the VNFD the enforcer may apply (empty: every aspect of the VNFD "
        "that scales the VDU of osm_scaling_group). Each scale operation applies one aspect's whole "
        "delta; the enforcer picks the largest that does not overshoot (arca/enforcer/osm_plan.py).")
    osm_member_vnf_index: str = Field(default="2", description="member-vnf-index of the scaled VNF.")
    osm_fault_mode: Literal["heal", "replace"] = Field(
        default="heal",
        description="On a dead-VNF alarm: 'heal' the VNF, or 'replace' it (scale out, then remove "
        "the dead one).",
    )
    osm_op_timeout_s: float = Field(
        default=300.0, gt=0, description="Deadline for an OSM operation to reach COMPLETED."
    )
