"""The `openstack` command line (python-openstackclient, with the Octavia and Gnocchi plugins) against
the testbed, as an operator next to ARCA would use it: ``OS_CLOUD=arca-testbed`` from the clouds.yaml
the testbed writes (``Testbed.clouds_yaml()``), no change to the client.

Each command runs as its own process, in order (later ones use what earlier ones made). Every command
of ``COMMANDS`` must exit 0 and print what it names; ``FORBIDDEN`` are the admin-only commands a
project member gets a clean 403 for (as from Nova's default policy), never a 404.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arca.testbed.api.nova import FLAVORS, IMAGES, NETWORKS
from arca.testbed.api.octavia import lb_name, listener_id, pool_id
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import Timeline

pytestmark = pytest.mark.slow

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
IMAGE, FLAVOR, NET = IMAGES[0]["id"], FLAVORS[0]["id"], NETWORKS[0]["name"]

COMMANDS: list[tuple[str, str]] = [
    # (command after `openstack`, a text its output must contain; "" = exit 0 is enough)
    ("token issue -f value -c project_id", "0c4e939acacf4376bdcd1129f1a054ad"),
    ("catalog list", "compute"),
    ("versions show --service compute", "2.96"),
    ("flavor list", "m1.servant"),
    ("flavor show m1.servant", "2048"),
    ("image list", "emergency-servant"),
    ("image show emergency-servant", "active"),
    ("image create --file {pubkey} --disk-format raw --container-format bare op-image", "active"),
    ("image set --property purpose=drill op-image", ""),
    ("image show op-image", "drill"),
    ("image delete op-image", ""),
    ("network list", "hq-net"),
    ("network show hq-net", "ACTIVE"),
    ("subnet list", "hq-subnet"),
    ("port list", ""),
    ("security group list", "default"),
    ("security group show default", "ingress"),
    ("router list", ""),
    ("availability zone list --compute", "nova"),
    ("limits show --absolute", "instances"),
    ("quota show", "instances"),
    ("keypair create --public-key {pubkey} op-key", "op-key"),
    ("keypair list", "op-key"),
    ("keypair show op-key", "op-key"),
    (f"server create --image {IMAGE} --flavor {FLAVOR} --network {NET} --key-name op-key --wait op-vm",
     "ACTIVE"),
    ("server list", "op-vm"),
    ("server list --long", "op-vm"),
    ("server list --name op-vm", "op-vm"),
    ("server list --status ACTIVE", "op-vm"),
    (f"server list --image {IMAGE}", "op-vm"),
    (f"server list --flavor {FLAVOR}", "op-vm"),
    ("server show op-vm", "op-key"),
    ("server set --property role=relay op-vm", ""),
    ("server show op-vm -c properties -f value", "relay"),
    ("server unset --property role op-vm", ""),
    ("server set --name op-vm2 op-vm", ""),
    ("server show op-vm2 -c name -f value", "op-vm2"),
    ("server set --name op-vm op-vm2", ""),
    ("server lock op-vm", ""),
    ("server unlock op-vm", ""),
    ("server stop op-vm", ""),
    ("server start op-vm", ""),
    ("server pause op-vm", ""),
    ("server unpause op-vm", ""),
    ("server suspend op-vm", ""),
    ("server resume op-vm", ""),
    ("server reboot --wait op-vm", ""),
    (f"server rebuild --image {IMAGES[1]['id']} --wait op-vm", "ACTIVE"),
    ("server shelve --wait op-vm", ""),
    ("image list --name op-vm-shelved", "op-vm-shelved"),
    ("server unshelve --wait op-vm", ""),
    ("server remove security group op-vm default", ""),
    ("server add security group op-vm default", ""),
    ("server event list op-vm", "create"),
    ("console log show --lines 3 op-vm", "login"),
    ("server delete --wait op-vm", ""),
    ("keypair delete op-key", ""),
    ("network create op-net", "op-net"),
    ("subnet create --network op-net --subnet-range 10.50.0.0/24 op-subnet", "10.50.0.0/24"),
    ("port create --network op-net op-port", "op-port"),
    ("port delete op-port", ""),
    ("subnet delete op-subnet", ""),
    ("network delete op-net", ""),
    ("loadbalancer list", lb_name("building-2")),
    (f"loadbalancer show {lb_name('building-2')}", listener_id("building-2")),
    ("loadbalancer listener list", listener_id("building-2")),
    (f"loadbalancer listener show {listener_id('building-2')}", "HTTP"),
    ("loadbalancer pool list", pool_id("building-2")),
    (f"loadbalancer pool show {pool_id('building-2')}", "ROUND_ROBIN"),
    (f"loadbalancer member list {pool_id('building-2')}", ""),
    ("loadbalancer healthmonitor list", ""),
    ("metric resource list", "instance"),
    ("metric list", "cpu_util"),
    ("metric show cpu_util --resource-id {initial}", "ceilometer-low-rate"),
    ("metric resource show {initial}", "cpu_util"),
    ("metric archive-policy list", ""),
]

FORBIDDEN = ["hypervisor list", "compute service list"]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running testbed (quiet timeline, 1 s boots at 20x) and the environment for `openstack`."""
    tb = Testbed(Timeline(duration_s=86400, seed=1), ModelParams(boot_delay_s=1.0)).start()
    tb.start_ticker(speed=20.0)
    folder = tmp_path_factory.mktemp("cli")
    (folder / "clouds.yaml").write_text(tb.clouds_yaml())
    home = folder / "home"
    home.mkdir()
    env = {k: x for k, x in os.environ.items() if not k.startswith("OS_")}
    env.update(OS_CLIENT_CONFIG_FILE=str(folder / "clouds.yaml"), OS_CLOUD="arca-testbed", HOME=str(home))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    (folder / "op.pub").write_bytes(
        key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    env["ARCA_PUBKEY"] = str(folder / "op.pub")
    env["ARCA_INITIAL"] = next(iter(tb.model.servants))  # the initial servant (arca-emergency-1)
    try:
        yield env
    finally:
        tb.stop()


def run(env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    command = command.replace("{pubkey}", env["ARCA_PUBKEY"]).replace("{initial}", env["ARCA_INITIAL"])
    args = [OPENSTACK, *command.split()]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_openstack_cli_commands_work(cli_env: dict[str, str]) -> None:
    assert shutil.which(OPENSTACK), "python-openstackclient is in the test extra"
    failed = []
    for command, expect in COMMANDS:
        out = run(cli_env, command)
        if out.returncode != 0 or expect not in out.stdout:
            failed.append(f"openstack {command}: exit {out.returncode}: {(out.stderr or out.stdout)[-300:]}")
    worked = len(COMMANDS) - len(failed)
    print(json.dumps({"commands": len(COMMANDS), "worked": worked}))
    assert not failed, f"{worked}/{len(COMMANDS)} worked; failed:\n" + "\n".join(failed)


@pytest.mark.parametrize("command", FORBIDDEN)
def test_admin_commands_are_a_clean_403(cli_env: dict[str, str], command: str) -> None:
    out = run(cli_env, command)
    assert out.returncode != 0
    assert "HTTP 403" in out.stderr or "403" in out.stderr, out.stderr
    assert "Policy doesn't allow" in out.stderr, out.stderr
