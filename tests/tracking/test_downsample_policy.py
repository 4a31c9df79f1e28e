"""The sampler keeps a long run's stored time series bounded: old samples are merged, energy unchanged."""

from wattprint.storage import open_store
from wattprint.tracking import sampler as sampler_mod
from wattprint.tracking import track


class _SteadyReader:
    """A 100 W 'cpu' whose energy follows a fake clock (hardware boundary only)."""

    component = "cpu"
    basis = "measured"
    name = "steady"

    def __init__(self, clock):
        self.clock = clock

    def read(self):
        from wattprint.devices.base import Reading

        return [Reading("cpu", "cpu0", 100.0 * self.clock(), 100.0, "measured")]

    def close(self):
        pass


def test_old_samples_are_downsampled_and_energy_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(sampler_mod, "DOWNSAMPLE_AFTER_S", 0.3)
    monkeypatch.setattr(sampler_mod, "DOWNSAMPLE_BUCKET_S", 0.25)
    monkeypatch.setattr(sampler_mod, "DOWNSAMPLE_EVERY_S", 0.3)
    import time

    t0 = time.monotonic()
    reader = _SteadyReader(lambda: time.monotonic() - t0)
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run = track(project="p", run="long", db=db, interval_s=0.01, readers=[reader], quiet=True,
                state_dir=str(tmp_path / "state"), handle_signals=False)
    run.start()
    time.sleep(1.5)
    fp = run.stop()
    store = open_store(db)
    n = store.sample_count("long")
    rec = store.get_run("long")
    # ~150 raw samples at 10 ms; everything older than 0.3 s merged into 0.25 s buckets
    assert n < 100
    cpu_kwh = fp.energy_by_component_kwh["cpu"].kwh.value
    assert abs(rec.energy_j["cpu"] - cpu_kwh * 3.6e6) < 1e-6 * rec.energy_j["cpu"] + 1
    samples = store.samples("long")
    assert samples[-1].energy_j["cpu"] == rec.energy_j["cpu"]
