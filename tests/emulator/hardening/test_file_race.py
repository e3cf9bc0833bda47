"""Node files cannot leave the node root, even while a task swaps a folder for a symlink.

A task flips `wd/d` between a real folder holding `f` and a symlink to a folder outside the node
holding a secret `f`; reads and deletes of `wd/d/f` race with it. Opening by descriptor, one
component at a time without following links, leaves no window: none may reach the outside.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Emulator, create_pool  # noqa: E402
from emulator_helpers import wait_for  # noqa: E402
from localbatch import safefs  # noqa: E402

ATTEMPTS = 1500


@pytest.fixture(scope="module")
def node(emu: Emulator) -> tuple[str, Path]:
    create_pool(emu, "race-pool")
    nodes = wait_for(lambda: json.loads(emu.request("GET", "/pools/race-pool/nodes").body)["value"], 20)
    node_id = nodes[0]["id"]
    return f"/pools/race-pool/nodes/{node_id}/files/", emu.service.node_root("race-pool", node_id)


# What a hostile task does in its working directory, as fast as it can, in a process of its own
# (a thread of the test process would share the server's interpreter lock and rarely interleave).
FLIPPER = """
import os, sys
shared, outside = sys.argv[1], sys.argv[2]
d, real, link = (os.path.join(shared, n) for n in ("d", "real", "link"))
os.symlink(outside, link)
while True:
    try:
        os.replace(d, real)
        os.replace(link, d)
        os.symlink(outside, link)
        os.unlink(d)
        os.replace(real, d)
    except OSError:
        pass
"""


def test_racing_reads_and_deletes_never_leave_the_root(
    emu: Emulator, node: tuple[str, Path], tmp_path: Path
) -> None:
    route, root = node
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("SECRET-OUTSIDE")
    (root / "shared" / "d").mkdir()
    (root / "shared" / "d" / "f").write_text("inside")
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(root / "shared"), str(outside)])
    escaped = statuses = 0
    try:
        for _ in range(ATTEMPTS):
            answer = emu.request("GET", route + quote("shared/d/f", safe=""))
            statuses += answer.status in (200, 400, 404)
            escaped += b"SECRET-OUTSIDE" in answer.body
        for _ in range(200):
            emu.request("DELETE", route + quote("shared/d/f", safe=""))
            if not (outside / "f").exists():
                break
    finally:
        flipper.kill()
        flipper.wait()
    assert escaped == 0, f"{escaped} of {ATTEMPTS} racing reads returned a file outside the node root"
    assert statuses == ATTEMPTS, f"{ATTEMPTS - statuses} of {ATTEMPTS} reads got neither 200, 400 nor 404"
    assert (outside / "f").read_text() == "SECRET-OUTSIDE", "a racing delete removed a file outside the root"


def test_primitives_refuse_links_and_the_root(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("x")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "up").symlink_to("/")
    assert safefs.read(tmp_path, "a/x")[0] == b"x"
    for bad in ("loop", "loop/x", "up/etc/passwd", "../x", "/etc/passwd", "a/../../x", "a\x00"):
        with pytest.raises(safefs.PathRefused):
            safefs.read(tmp_path, bad)
    for root_alias in ("", ".", "./", "/.", "a/.."):
        with pytest.raises(safefs.PathRefused):
            safefs.delete(tmp_path, root_alias, recursive=True)
    names = [e.name for e in safefs.list_dir(tmp_path, recursive=True)]
    assert names == ["a", "a/x", "loop", "up"], "links are listed, never followed"
