"""Settings of the testbed (the ``testbed`` group of ``ArcaSettings``; env ``ARCA_TESTBED__<FIELD>``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field


class TestbedSettings(BaseModel):
    """Knobs of the testbed; each field documents itself."""

    __test__ = False  # not a pytest class

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
    host: str = Field(default="127.0.0.1", description="Address every emulated API listens on.")
    port_base: int | None = Field(
        default=None,
        ge=0,
        le=65500,
        description="First port: identity, compute, image, metric, load-balancer, osm, haproxy, control, "
        "network take port_base+0..8; free ports when unset.",
    )
    step_s: float = Field(default=1.0, gt=0, le=10, description="Simulation step (accounting resolution).")
    boot_delay_s: float = Field(default=10.0, ge=0, description="Nova server BUILD -> ACTIVE (draft 7.4).")
    osm_boot_delay_s: float = Field(
        default=42.0, ge=0, description="VDU boot through OSM (Ukko's measured mean)."
    )
    telemetry_granularity_s: float = Field(
        default=10.0, gt=0, description="Gnocchi measure granularity (OpenStack's floor per the draft)."
    )
    detector_delay_s: float = Field(
        default=0.5, ge=0, description="Incident -> detector notification published."
    )
    detector_kind: Literal["seismometer", "bigdata", "both"] = Field(
        default="seismometer", description="Which emulated detectors report incidents."
    )
    capacity_rps: float = Field(
        default=210.0, gt=0, description="Requests/s one ACTIVE servant serves at 100 % CPU (calibrated)."
    )
    queue_limit: int = Field(default=50, ge=0, description="Requests each load balancer may queue.")
    initial_servants: int = Field(default=1, ge=0, le=15, description="Servants ACTIVE at time 0.")
    initial_owner: Literal["nova", "osm"] = Field(
        default="nova", description="Initial servants are ARCA-managed Nova servers or the NS's relay VDUs."
    )
    osm_scaling_aspects: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: {"relay-scaling": 1}, min_length=1,
        description="Scaling aspects of the OSM relay VNFD: aspect name -> relays one scale operation "
        "adds (vdu-delta number-of-instances). Ukko's VNFD has only the one-VDU 'relay-scaling'; add e.g. "
        "'relay-scaling-4': 4 for an aspect that adds four relays per operation.",
    )
    require_pool_membership: bool = Field(
        default=False, description="A servant serves only while in an Octavia pool (else ACTIVE is enough)."
    )
    noise_sd: float = Field(default=0.03, ge=0, le=0.2, description="Std-dev of the demand noise.")
    username: str = Field(default="arca", description="Keystone user of the emulated cloud.")
    password: str = Field(default="arca-secret", description="Keystone password of the emulated cloud.")
    osm_username: str = Field(default="admin", description="OSM NBI user.")
    osm_password: str = Field(default="admin", description="OSM NBI password.")
    collector_url: str | None = Field(
        default=None,
        description="Detector notifications are POSTed here (the collector's RESTCONF event URL); "
        "kept in memory when unset.",
    )
    detector_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Collector token per detector source (seismometer-<domain>, bigdata-analyser): sent "
        "as the HTTP bearer token or the AMQP x-arca-token header of that source's notifications.",
    )
    detector_exchange: str | None = Field(
        default=None, description="Also publish detector notifications to this AMQP exchange (bus URL)."
    )
    alarm_webhook_url: str | None = Field(
        default=None, description="OSM alarm webhooks are POSTed here (the collector's /osm/alarm)."
    )
    nova_notifications: bool = Field(
        default=False,
        description="Publish Nova versioned notifications on the broker (exchange 'nova', "
        "key versioned_notifications.info).",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="Broker for Nova notifications and AMQP detector events.",
    )
