"""OpenStack's own API tests (Tempest) against the testbed: the tempest.conf the repo generates and a runner.

``tempest_workspace(tb, folder)`` writes ``tempest.conf`` and a pre-provisioned ``accounts.yaml`` for
a started :class:`~arca.testbed.platform.Testbed` (one member account, no admin, no alt: the testbed
has one user). Every feature the testbed lacks is switched off in the conf with a comment naming it
(``LACKING``, also listed in docs/testbed.md §4.3), so Tempest skips those tests itself.
``run_tempest(folder, modules)`` runs Tempest's test modules (``python -m subunit.run`` in a child
process, offline: no ``tempest init``, no network other than the testbed) and counts per module
the tests that ran, passed, failed and were skipped (a ``setUpClass`` failure counts as failed).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arca.testbed.api.nova import FLAVORS, IMAGES, MAX_MICROVERSION, NETWORKS

MODULES: tuple[str, ...] = (
    "tempest.api.compute.servers.test_create_server",
    "tempest.api.compute.servers.test_list_server_filters",
    "tempest.api.compute.servers.test_list_servers_negative",
    "tempest.api.compute.servers.test_servers_negative",
    "tempest.api.compute.servers.test_server_actions",
    "tempest.api.compute.servers.test_server_tags",
    "tempest.api.compute.servers.test_servers",
    "tempest.api.compute.flavors.test_flavors",
    "tempest.api.compute.flavors.test_flavors_negative",
    "tempest.api.compute.limits.test_absolute_limits",
    "tempest.api.compute.limits.test_absolute_limits_negative",
    "tempest.api.compute.test_versions",
    "tempest.api.network.test_networks",
)
"""The selection of issue 22: servers (create, list filters, list negative, negative, actions, tags,
servers), flavors, limits, versions, networks."""

LACKING: dict[str, str] = {
    "compute-feature-enabled.resize": "no resize / migrate (one flavor per servant, no hosts)",
    "compute-feature-enabled.cold_migration": "no hosts to migrate between",
    "compute-feature-enabled.live_migration": "no hosts to migrate between",
    "compute-feature-enabled.change_password": "no guest agent (os-changePassword)",
    "compute-feature-enabled.snapshot": "no createImage / createBackup (server snapshots)",
    "compute-feature-enabled.rescue": "no rescue mode",
    "compute-feature-enabled.interface_attach": "no port attach / detach",
    "compute-feature-enabled.config_drive": "no config drive",
    "compute-feature-enabled.personality": "no file injection",
    "compute-feature-enabled.vnc_console": "no consoles (console output only)",
    "compute-feature-enabled.spice_console": "no consoles (console output only)",
    "compute-feature-enabled.serial_console": "no consoles (console output only)",
    "compute-feature-enabled.block_migration_for_live_migration": "no hosts",
    "compute-feature-enabled.metadata_service": "no metadata service",
    "compute-feature-enabled.disk_config": "no OS-DCF:diskConfig AUTO (no disk resize)",
    "compute-feature-enabled.hostname_fqdn_sanitization": "hostnames are not FQDN-sanitized (2.94)",
    "compute.certified_image_ref": "no signed images (trusted image certificates)",
    "compute.max_microversion": "Nova microversions up to 2.96 (Nova 2024.1): later ones are not served",
    "service_available.cinder": "no block storage (volumes, boot from volume)",
    "service_available.swift": "no object storage",
    "validation.run_validation": "the servants are simulated: no SSH into a guest",
    "network-feature-enabled.ipv6": "the testbed's networks are IPv4 only",
    "network.public_network_id": "no external network (no routers, no floating IPs)",
    "auth.admin": "one member and one reader account: no admin (admin-only tests skip)",
}
"""Features the testbed does not have, as Tempest names them (section.option) -> why."""

SKIP_REASONS: dict[str, str] = {
    "Resize not available": "compute-feature-enabled.resize",
    "Change password not available": "compute-feature-enabled.change_password",
    "Snapshotting not available": "compute-feature-enabled.snapshot",
    "DiskConfig extension not enabled": "compute-feature-enabled.disk_config",
    "FQDN hostname sanitization is not supported": "compute-feature-enabled.hostname_fqdn_sanitization",
    "Nova personality feature disabled": "compute-feature-enabled.personality",
    "VNC Console feature is disabled": "compute-feature-enabled.vnc_console",
    "certified_image_ref": "compute.certified_image_ref",
    "is out of the configuration range[2.1 - 2.96]": "compute.max_microversion",
    "Cinder is not available": "service_available.cinder",
    "Volume service not enabled": "service_available.cinder",
    "the volume service is not available": "service_available.cinder",
    "Instance validation tests are disabled": "validation.run_validation",
    "IPv6 Tests are disabled": "network-feature-enabled.ipv6",
    "The public_network_id option must be specified": "network.public_network_id",
    "Skipped until bug": "",
}
"""Tempest's skip messages -> the ``LACKING`` entry behind them. "Skipped until bug" is Tempest's own
``skip_because(bug=...)``: skipped on every cloud, not for want of a feature."""


def lacking_behind(reason: str) -> str | None:
    """The ``LACKING`` key a Tempest skip message stands for ("" for Tempest's own bug skips), or None."""
    return next((key for text, key in SKIP_REASONS.items() if text in reason), None)


def tempest_conf(tb: Any, folder: Path, *, lock_path: Path | None = None) -> str:
    """The text of tempest.conf for the started testbed ``tb`` (accounts file in ``folder``)."""
    c = tb.cloud.credentials
    off = {k.split(".", 1)[1] for k in LACKING if k.startswith("compute-feature-enabled.")}
    lacking = "".join(f"# lacking: {k} -- {why}\n" for k, why in LACKING.items())
    features = "".join(f"{name} = false\n" for name in sorted(off))
    return f"""# Generated by arca.testbed.conformance for the testbed at {tb.auth_url}
{lacking}
[DEFAULT]
log_file = {folder / "tempest.log"}
use_stderr = false

[oslo_concurrency]
lock_path = {lock_path or folder / "locks"}

[auth]
use_dynamic_credentials = false
test_accounts_file = {folder / "accounts.yaml"}
create_isolated_networks = false
default_credentials_domain_name = {c.user_domain_name}

[identity]
uri_v3 = {tb.auth_url}
auth_version = v3
region = RegionOne
disable_ssl_certificate_validation = true
v3_endpoint_type = public

[identity-feature-enabled]
api_v2 = false

[service_available]
nova = true
glance = true
neutron = true
cinder = false
swift = false
heat = false
horizon = false

[compute]
image_ref = {IMAGES[0]["id"]}
image_ref_alt = {IMAGES[1]["id"]}
flavor_ref = {FLAVORS[0]["id"]}
flavor_ref_alt = {FLAVORS[1]["id"]}
fixed_network_name = {NETWORKS[0]["name"]}
min_microversion = 2.1
max_microversion = {MAX_MICROVERSION}
build_timeout = 60
build_interval = 1
endpoint_type = publicURL
region = RegionOne

[compute-feature-enabled]
{features}pause = true
suspend = true
shelve = true
shelve_migrate = false
console_output = true
scheduler_enabled_filters = AvailabilityZoneFilter, ComputeFilter
api_extensions = all

[image]
region = RegionOne
build_timeout = 60
build_interval = 1

[image-feature-enabled]
api_v2 = true
api_v1 = false

[network]
region = RegionOne
build_timeout = 60
build_interval = 1
project_network_cidr = 10.100.0.0/16
project_networks_reachable = false
shared_physical_network = false

[network-feature-enabled]
ipv6 = false
api_extensions = all

[validation]
run_validation = false

[volume-feature-enabled]
"""


def accounts_yaml(tb: Any) -> str:
    """Tempest's pre-provisioned accounts: the project's member, the other project's member ("alt": the
first free account without a role), the project's reader."""
    c = tb.cloud.credentials
    out = ""
    accounts = (
        (c.username, c.project_name, "  roles:\n    - member\n"),
        (c.alt_username, f"{c.project_name}-alt", ""),  # no role: only "alt" credentials take it
        (c.reader_username, c.project_name, "  roles:\n    - reader\n"),
    )
    for user, project, roles in accounts:
        out += (
            f"- username: {user}\n"
            f"  project_name: {project}\n"
            f"  password: {c.password}\n"
            f"  user_domain_name: {c.user_domain_name}\n"
            f"  project_domain_name: {c.project_domain_name}\n"
            f"{roles}"
            f"  resources:\n    network: {NETWORKS[0]['name']}\n"
        )
    return out


def tempest_workspace(tb: Any, folder: Path) -> Path:
    """Write tempest.conf and accounts.yaml for ``tb`` into ``folder``; returns the conf's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "locks").mkdir(exist_ok=True)
    (folder / "accounts.yaml").write_text(accounts_yaml(tb))
    conf = folder / "tempest.conf"
    conf.write_text(tempest_conf(tb, folder))
    return conf


@dataclass
class ModuleResult:
    """What Tempest reported for one test module."""

    run: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    skips: dict[str, str] = field(default_factory=dict)
    """test id -> skip reason."""


def module_of(test_id: str, modules: tuple[str, ...]) -> str:
    """The selected module a test id (or a ``setUpClass (tempest....Class)`` id) belongs to."""
    inner = test_id.split("(", 1)[1].rstrip(")") if test_id.startswith("setUpClass") else test_id
    for m in modules:
        if inner.startswith(m + "."):
            return m
    return "other"


def run_tempest(
    folder: Path, modules: tuple[str, ...] = MODULES, *, timeout_s: float = 1800
) -> dict[str, ModuleResult]:
    """Run ``modules`` with tempest.conf from ``folder``; results per module (subunit v2 parsed)."""
    import subunit
    import testtools

    env = dict(os.environ, TEMPEST_CONFIG_DIR=str(folder), TEMPEST_CONFIG="tempest.conf")
    env.pop("OS_CLOUD", None)
    proc = subprocess.run(
        [sys.executable, "-m", "subunit.run", *modules],
        cwd=folder,
        env=env,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    (folder / "stderr.txt").write_bytes(proc.stderr)
    (folder / "results.subunit").write_bytes(proc.stdout)
    results = {m: ModuleResult() for m in modules}
    tests: dict[str, dict[str, Any]] = {}

    def on_test(test: Any) -> None:
        tests[test["id"]] = test

    stream = subunit.ByteStreamToStreamResult(io.BytesIO(proc.stdout), non_subunit_name="stdout")
    sink = testtools.StreamToDict(on_test)
    sink.startTestRun()
    stream.run(sink)
    sink.stopTestRun()
    for tid, test in tests.items():
        if tid == "stdout" or not tid:
            continue
        r = results.setdefault(module_of(tid, modules), ModuleResult())
        status = test["status"]
        if status == "skip":
            r.skipped += 1
            reason = test["details"].get("reason")
            r.skips[tid] = reason.as_text() if reason is not None else ""
        elif status == "success":
            r.run += 1
            r.passed += 1
        elif status in ("fail", "uxsuccess"):
            r.run += 1
            r.failed += 1
            r.failures.append(tid)
        elif status == "xfail":
            r.run += 1
            r.passed += 1
    if not tests:
        raise RuntimeError(f"Tempest reported nothing (exit {proc.returncode}): {proc.stderr[-2000:]!r}")
    return results


def table(results: dict[str, ModuleResult]) -> str:
    """A Markdown table: module | run | passed | failed | skipped (and a total row)."""
    lines = ["| module | run | passed | failed | skipped |", "| --- | --- | --- | --- | --- |"]
    tot = ModuleResult()
    for m, r in results.items():
        name = m.removeprefix("tempest.api.")
        lines.append(f"| {name} | {r.run} | {r.passed} | {r.failed} | {r.skipped} |")
        tot.run += r.run
        tot.passed += r.passed
        tot.failed += r.failed
        tot.skipped += r.skipped
    lines.append(f"| **total** | {tot.run} | {tot.passed} | {tot.failed} | {tot.skipped} |")
    return "\n".join(lines)


def conformance_testbed() -> Any:
    """A started testbed fit for Tempest: a quiet day-long timeline, 1 s boots, time at 20x the wall clock."""
    from arca.testbed.model import ModelParams
    from arca.testbed.platform import Testbed
    from arca.testbed.timeline import Timeline

    timeline = Timeline(duration_s=86400, seed=1, description="Tempest: no incident, no failure")
    tb = Testbed(timeline, ModelParams(boot_delay_s=1.0, noise_sd=0.0)).start()
    tb.start_ticker(speed=20.0)
    return tb


def main(argv: list[str] | None = None) -> int:
    """``python -m arca.testbed.conformance [MODULE ...]``: run Tempest against a fresh testbed."""
    import argparse
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="Tempest test modules (default: the issue 22 selection)")
    parser.add_argument("--workdir", type=Path, help="where tempest.conf and the results go (default: temp)")
    args = parser.parse_args(argv)
    modules = tuple(args.modules) or MODULES
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="arca-tempest-"))
    tb = conformance_testbed()
    try:
        tempest_workspace(tb, folder)
        t0 = time.monotonic()
        results = run_tempest(folder, modules)
        took = time.monotonic() - t0
    finally:
        tb.stop()
    print(table(results))
    print(f"\n{took:.0f} s; workspace {folder}")
    for r in results.values():
        for tid in r.failures:
            print(f"FAILED {tid}")
        for tid, why in r.skips.items():
            print(f"SKIPPED {tid}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
