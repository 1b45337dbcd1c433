"""The whole emulated NFVI: the model plus every HTTP API, a real-time ticker, and connection helpers.

tb = Testbed(load_timeline("reference"))
tb.start()                  # binds every API on loopback (free ports unless told otherwise)
conn = tb.connect()         # an unmodified openstacksdk Connection to the emulated cloud
tb.model.advance(10)        # simulated time moves only when told (or with tb.start_ticker(speed))
tb.stop()
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime
from typing import Any

from flask import Flask

from arca.clock import SimClock
from arca.testbed.api import control, glance, gnocchi, haproxy, keystone, neutron, nova, octavia, osm_nbi
from arca.testbed.api.common import REGION, Cloud, Credentials
from arca.testbed.detectors import Detectors
from arca.testbed.model import ModelParams, TestbedModel
from arca.testbed.notifications import NovaNotifier
from arca.testbed.osm import Osm
from arca.testbed.serving import ServedApp, bind, serve
from arca.testbed.settings import TestbedSettings
from arca.testbed.sinks import AmqpSink, FanOut, HttpSink, ListSink, Sink
from arca.testbed.timeline import Timeline

API_NAMES: tuple[str, ...] = (
    "identity",
    "compute",
    "image",
    "metric",
    "load-balancer",
    "osm",
    "haproxy",
    "control",
    "network",
)
"""Every API served, in port order (``port_base + index`` when a port base is given)."""
CATALOG_PATHS = {
    "identity": "/v3",
    "compute": "/v2.1",
    "image": "",
    "metric": "",
    "load-balancer": "",
    "network": "",
}
"""Catalog services and the path of their endpoint URL."""


class Testbed:
    """Model + emulated APIs; ``start()`` serves them, ``stop()`` shuts them down."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        timeline: Timeline,
        params: ModelParams | None = None,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        port_base: int | None = None,
        clock: SimClock | None = None,
        start: datetime | None = None,
        credentials: Credentials | None = None,
        extra_apps: dict[str, Flask] | None = None,
        notification_sink: Sink | None = None,
        alarm_sink: Sink | None = None,
        detector_sink: Sink | None = None,
        detector_kind: str = "seismometer",
        osm_credentials: tuple[str, str] = ("admin", "admin"),
        compute_max_microversion: str = "2.96",
    ) -> None:
        self.model = TestbedModel(timeline, params, start=start, clock=clock)
        self.cloud = Cloud(
            self.model,
            credentials=credentials or Credentials(),
            compute_max_microversion=compute_max_microversion,
        )
        self.pools = octavia.Pools(self.model)
        self.host = host
        self.ports = dict(ports or {})
        if port_base is not None:
            for i, name in enumerate(API_NAMES):
                self.ports.setdefault(name, port_base + i)
        self.apps: dict[str, Flask] = {
            "identity": keystone.create_app(self.cloud),
            "compute": nova.create_app(self.cloud),
            "image": glance.create_app(self.cloud),
            "metric": gnocchi.create_app(self.cloud),
            "load-balancer": octavia.create_app(self.cloud, self.pools),
            "network": neutron.create_app(self.cloud),
        }
        self.notification_sink = notification_sink or ListSink()
        self.alarm_sink = alarm_sink or ListSink()
        self.detector_sink = detector_sink or ListSink()
        self.notifier = NovaNotifier(self.model, self.notification_sink)
        self.osm = Osm(self.model, alarm_sink=self.alarm_sink)
        self.detectors = Detectors(self.model, self.detector_sink, kind=detector_kind)
        self.apps["osm"] = osm_nbi.create_app(self.cloud, self.osm, *osm_credentials)
        self.apps["haproxy"] = haproxy.create_app(self.cloud)
        self.apps["control"] = control.create_app(self.cloud)
        self.apps.update(extra_apps or {})
        self.served: dict[str, ServedApp] = {}
        self._ticker: threading.Thread | None = None
        self._stop_ticker = threading.Event()

    @classmethod
    def from_settings(
        cls,
        timeline: Timeline,
        settings: TestbedSettings,
        *,
        clock: SimClock | None = None,
        start: datetime | None = None,
        system: str = "emergency",
    ) -> Testbed:
        """A testbed configured by the ``testbed`` settings group (sinks included)."""
        detector: list[Sink] = [ListSink()]
        if settings.collector_url:
            detector.append(HttpSink(settings.collector_url, tokens=settings.detector_tokens))
        if settings.detector_exchange:
            detector.append(AmqpSink(settings.amqp_url, settings.detector_exchange,
                                     tokens=settings.detector_tokens))
        alarms: list[Sink] = [ListSink()]
        if settings.alarm_webhook_url:
            alarms.append(HttpSink(settings.alarm_webhook_url))
        notes: list[Sink] = [ListSink()]
        if settings.nova_notifications:
            notes.append(AmqpSink(settings.amqp_url, "nova", durable=False))
        creds = Credentials(username=settings.username, password=settings.password)
        return cls(
            timeline,
            model_params(settings, system),
            host=settings.host,
            port_base=settings.port_base,
            clock=clock,
            start=start,
            credentials=creds,
            notification_sink=FanOut(notes),
            alarm_sink=FanOut(alarms),
            detector_sink=FanOut(detector),
            detector_kind=settings.detector_kind,
            osm_credentials=(settings.osm_username, settings.osm_password),
        )

    # -- serving --------------------------------------------------------------------------------
    def start(self) -> Testbed:
        servers = {
            name: bind(name, app, self.host, self.ports.get(name, 0)) for name, app in self.apps.items()
        }
        for name, srv in servers.items():
            port = int(srv.socket.getsockname()[1])
            if name in CATALOG_PATHS:
                self.cloud.urls[name] = f"http://{self.host}:{port}{CATALOG_PATHS[name]}"
        for name, srv in servers.items():
            self.served[name] = serve(name, srv)
        return self

    def stop(self) -> None:
        self.stop_ticker()
        for app in self.served.values():
            app.stop()
        self.served.clear()

    def __enter__(self) -> Testbed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, name: str) -> str:
        """Base URL of a served API (``identity`` is the Keystone auth URL, ending in ``/v3``)."""
        if name in self.cloud.urls:
            return self.cloud.urls[name]
        return self.served[name].url

    @property
    def auth_url(self) -> str:
        return self.url("identity")

    def urls(self) -> dict[str, str]:
        out = {name: self.url(name) for name in self.served}
        if "osm" in self.served:
            out["osm"] = self.served["osm"].url + "/osm"
        if "haproxy" in self.served:
            for b in ("building-2", "building-3", "building-4"):
                out[f"haproxy:{b}"] = f"{self.served['haproxy'].url}/haproxy/lb-{b}/stats;csv"
        if "control" in self.served:
            out["control"] = self.served["control"].url + "/testbed"
        return out

    # -- clients ----------------------------------------------------------------------------------
    def auth(self) -> dict[str, str]:
        c = self.cloud.credentials
        return {
            "auth_url": self.auth_url,
            "username": c.username,
            "password": c.password,
            "project_name": c.project_name,
            "user_domain_name": c.user_domain_name,
            "project_domain_name": c.project_domain_name,
        }

    def connect(self, **kwargs: Any) -> Any:
        """An unmodified ``openstack.connect`` to the emulated cloud."""
        import openstack

        args: dict[str, Any] = {"region_name": REGION, **self.auth(), **kwargs}
        return openstack.connect(**args)

    def clouds_yaml(self, cloud_name: str = "arca-testbed") -> str:
        """A ``clouds.yaml`` snippet for ``OS_CLOUD=<cloud_name>`` (openstacksdk, openstack CLI)."""
        a = self.auth()
        return (
            "clouds:\n"
            f"  {cloud_name}:\n"
            f"    region_name: {REGION}\n"
            "    identity_api_version: 3\n"
            "    auth:\n" + "".join(f"      {k}: {v}\n" for k, v in a.items())
        )

    # -- real time --------------------------------------------------------------------------------
    def start_ticker(self, speed: float = 1.0, tick_s: float = 0.05) -> None:
        """Advance simulated time ``speed`` times faster than the wall clock (real-time mode only)."""
        if self._ticker is not None:
            return
        self._stop_ticker.clear()

        def loop() -> None:
            wall0 = time.monotonic()
            sim0 = self.model.t
            while not self._stop_ticker.wait(tick_s):
                target = sim0 + (time.monotonic() - wall0) * speed
                step = self.model.params.step_s
                whole = (
                    math.floor(target / step + 1e-9) * step
                )  # whole steps only: same records as a batch run
                self.model.advance_to(min(whole, self.model.timeline.duration_s))

        self._ticker = threading.Thread(target=loop, name="testbed-ticker", daemon=True)
        self._ticker.start()

    def stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop_ticker.set()
            self._ticker.join(timeout=5)
            self._ticker = None


def model_params(settings: TestbedSettings, system: str = "emergency") -> ModelParams:
    """The model's parameters from the ``testbed`` settings group."""
    return ModelParams(
        step_s=settings.step_s,
        boot_delay_s=settings.boot_delay_s,
        osm_boot_delay_s=settings.osm_boot_delay_s,
        telemetry_granularity_s=settings.telemetry_granularity_s,
        detector_delay_s=settings.detector_delay_s,
        capacity_rps=settings.capacity_rps,
        queue_limit=settings.queue_limit,
        initial_servants=settings.initial_servants,
        initial_owner=settings.initial_owner,
        osm_scaling_aspects=tuple(settings.osm_scaling_aspects.items()),
        require_pool_membership=settings.require_pool_membership,
        noise_sd=settings.noise_sd,
        system=system,
    )
