"""A machine without GPUs is charged a share of a rack server's embodied emissions: a VM by its vCPUs'
share of a typical host (the host is invisible from inside), bare metal by its allocated share."""

import math
import time

from wattprint import data
from wattprint.devices.base import DeviceConfig
from wattprint.devices.host import allocation
from wattprint.tracking import track


def test_cpu_only_embodied_share_follows_the_allocation(tmp_path):
    alloc = allocation(DeviceConfig())
    run = track("emb", "cpu-only", interval_s=0.05, quiet=True, handle_signals=False)
    run.start()
    time.sleep(0.3)
    fp = run.stop()
    server = data.embodied_cpu_server()
    hours = fp.wall_time_h.value if fp.wall_time_h is not None else None
    notes = [a for a in fp.assumptions if a.what == "embodied host"]
    assert len(notes) == 1
    if alloc.is_vm:
        cpus, _ = data.server_logical_cpus()
        assert notes[0].value.startswith("VM:")
        share = alloc.cpus / cpus.value
    else:
        assert "of this machine" in notes[0].value
        share = alloc.cpus / alloc.host_cpus
    assert hours is not None
    expected = share * server.kg_per_unit.value * hours / (server.lifetime_years.value * 24 * 365.25)
    assert math.isclose(fp.embodied_co2e_kg.value, expected, rel_tol=0.02)
    assert fp.embodied_co2e_kg.low < fp.embodied_co2e_kg.value < fp.embodied_co2e_kg.high
