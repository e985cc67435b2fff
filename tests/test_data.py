import numpy as np
import pytest

from asicgen.core.geometry import tc_centres
from training import data as D
from training.regions import Region, preset, preset_names, resolve_region


def test_generator_is_reproducible_and_seeded():
    region = preset("cee_mid")
    a = D.generate(region, seed=5, modules=500)
    b = D.generate(region, seed=5, modules=500)
    c = D.generate(region, seed=6, modules=500)
    assert np.array_equal(a.calq, b.calq)
    assert all(np.array_equal(a.meta[k], b.meta[k]) for k in a.meta)
    assert not np.array_equal(a.calq, c.calq)
    assert a.calq.dtype == np.int64 and a.calq.min() >= 0


def test_presets_span_occupancy_and_every_elink_budget():
    names = preset_names()
    assert sorted(preset(n).elinks for n in names) == [2, 3, 4, 5]
    means = []
    for name in sorted(names, key=lambda n: preset(n).elinks):
        occ = D.generate(preset(name), seed=1, modules=4000).occupancy()
        means.append(occ.mean())
        assert np.mean(occ < 5) > 0.3  # most modules sit at low occupancy
    assert means == sorted(means)
    assert means[-1] > 5 * means[0]


def test_em_shower_keeps_90_percent_within_one_moliere_radius():
    points, matrix = D._area_samples()
    centre = tc_centres()[5]  # an interior TC
    frac = D._profile_fractions(centre[None, :], D.MOLIERE_RADIUS / 3.0)[0]
    assert frac.sum() == pytest.approx(1.0, abs=0.05)  # centre well inside: little leaks
    r = np.sqrt(((points - centre) ** 2).sum(axis=1))
    rad2 = (D.MOLIERE_RADIUS / 3.0) ** 2
    density = rad2 / (np.pi * (r**2 + rad2) ** 2) * matrix.sum(axis=1)
    assert density[r < D.MOLIERE_RADIUS].sum() == pytest.approx(0.9, abs=0.03)


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_file_round_trip(tmp_path, suffix):
    modules = D.generate(preset("ceh_front"), seed=2, modules=50)
    path = tmp_path / f"m{suffix}"
    modules.save(path)
    back = D.load_modules([path])
    assert np.array_equal(back.calq, modules.calq)
    assert np.array_equal(back.meta["layer"], modules.meta["layer"])
    assert np.allclose(back.meta["eta"], modules.meta["eta"])


def _write_csv(tmp_path, rows, header=None):
    header = header if header is not None else [f"CALQ_{i}" for i in range(48)] + ["layer"]
    path = tmp_path / "bad.csv"
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = ["1"] * 48 + ["7"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([GOOD, ["1"] * 47 + ["-3", "7"]], r"bad.csv:3: column CALQ_47: bad value '-3' \(negative"),
        ([GOOD, ["x"] + ["1"] * 47 + ["7"]], r"bad.csv:3: column CALQ_0: bad value 'x'"),
        ([["1.5"] + ["1"] * 47 + ["7"]], r"bad.csv:2: column CALQ_0: .*not an integer"),
        ([GOOD, GOOD, ["1"] * 10], r"bad.csv:4: expected 49 fields, found 10"),
        ([["nan"] + ["1"] * 47 + ["7"]], r"bad.csv:2: column CALQ_0: .*not a finite"),
        ([["1"] * 48 + ["abc"]], r"bad.csv:2: column layer: bad value 'abc'"),
        ([], r"bad.csv: no data rows"),
    ],
)
def test_csv_loader_rejects_bad_rows_with_file_and_line(tmp_path, rows, message):
    path = _write_csv(tmp_path, rows)
    with pytest.raises(D.DataError, match=message):
        D.load_modules([path])


def test_csv_loader_rejects_missing_and_duplicate_columns(tmp_path):
    header = [f"CALQ_{i}" for i in range(47)]
    with pytest.raises(D.DataError, match=r"bad.csv:1: missing column\(s\) CALQ_47"):
        D.load_modules([_write_csv(tmp_path, [["1"] * 47], header)])
    header = [f"CALQ_{i}" for i in range(48)] + ["CALQ_3"]
    with pytest.raises(D.DataError, match="duplicate column"):
        D.load_modules([_write_csv(tmp_path, [["1"] * 49], header)])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(D.DataError, match="empty.csv:1: empty file"):
        D.load_modules([empty])


def test_csv_loader_reads_econt_style_columns(tmp_path):
    header = ["entry"] + [f"CALQ_{i}" for i in range(48)] + ["nElinks", "tc_layer", "eta"]
    row = ["0"] + [str(i) for i in range(48)] + ["3", "9", "2.1"]
    back = D.load_modules([_write_csv(tmp_path, [row], header)])
    assert back.calq[0].tolist() == list(range(48))
    assert back.meta["elinks"][0] == 3 and back.meta["layer"][0] == 9
    assert back.meta["eta"][0] == pytest.approx(2.1)


def test_npz_loader_rejects_bad_archives(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, calq=np.full((3, 48), -1))
    with pytest.raises(D.DataError, match=r"bad.npz: module 0 .*negative"):
        D.load_modules([path])
    np.savez(path, calq=np.zeros((3, 47), dtype=int))
    with pytest.raises(D.DataError, match=r"shape \(N, 48\)"):
        D.load_modules([path])
    np.savez(path, calq=np.zeros((3, 48), dtype=int), colour=np.zeros(3))
    with pytest.raises(D.DataError, match="unknown array 'colour'"):
        D.load_modules([path])
    path.write_text("not a zip")
    with pytest.raises(D.DataError, match="not a readable"):
        D.load_modules([path])
    with pytest.raises(D.DataError, match="no such data file"):
        D.load_modules([tmp_path / "missing.csv"])


def test_split_is_random_disjoint_and_80_20():
    train, val = D.split(1000, seed=3)
    assert len(train) == 800 and len(val) == 200
    assert not set(train) & set(val)
    assert sorted(set(train) | set(val)) == list(range(1000))
    assert np.array_equal(D.split(1000, seed=3)[1], val)
    assert not np.array_equal(D.split(1000, seed=4)[1], val)
    assert val.max() > 900 and val.min() < 100  # spread over the set, not a tail


def test_region_files_are_strict(tmp_path):
    from asicgen.core.raw import ConfigError

    good = tmp_path / "r.toml"
    good.write_text('[region]\nname = "mine"\nbase = "ceh_back"\nelinks = 3\n'
                    '[region.generator]\npileup_rate = 2.5\n')
    region = resolve_region(str(good))
    assert isinstance(region, Region)
    assert region.elinks == 3 and region.generator.pileup_rate == 2.5
    assert region.generator.layer == preset("ceh_back").generator.layer
    bad = tmp_path / "b.toml"
    bad.write_text('[region]\nname = "mine"\nelinks = 3\n[region.generator]\npileup = 2\n')
    with pytest.raises(ConfigError, match=r"b.toml: region.generator: unknown key\(s\) pileup"):
        resolve_region(str(bad))
    bad.write_text('[region]\nname = "mine"\nelinks = 6\n')
    with pytest.raises(ConfigError, match=r"region.elinks: 6 is not one of"):
        resolve_region(str(bad))
    with pytest.raises(ConfigError, match="unknown region 'nowhere'"):
        resolve_region("nowhere")


def test_front_end_sums_cells_above_their_threshold():
    from dataclasses import replace

    base = preset("cee_mid").generator
    rng = np.random.default_rng(0)
    counts = np.zeros((20000, 48))
    # noise only: every positive cell enters the sum, so the TC mean is
    # cells * sigma_cell / sqrt(2 pi) with sigma_cell = noise / sqrt(cells)
    for cells in (1, 4, 9):
        p = replace(base, cells_per_tc=cells, cell_threshold_sigma=0.0)
        tc = D._front_end(rng, counts, p)
        expected = cells * (p.noise_counts / np.sqrt(cells)) / np.sqrt(2 * np.pi)
        assert tc.min() == 0.0
        assert tc.mean() == pytest.approx(expected, rel=0.02)
    # a 3-sigma cell threshold removes almost all noise, but not real deposits
    p = replace(base, cells_per_tc=4, cell_threshold_sigma=3.0)
    assert np.mean(D._front_end(rng, counts, p) > 0) < 0.01
    big = D._front_end(rng, np.full((1000, 48), 10 * D.MIPT_COUNTS), p)
    assert big.mean() == pytest.approx(10 * D.MIPT_COUNTS, rel=0.01)


def test_one_cell_per_tc_is_noise_clipped_at_zero_per_tc():
    """cells_per_tc = 1 reproduces Gaussian TC noise clipped at zero, draw for draw."""
    from dataclasses import replace

    p = replace(preset("ceh_front").generator, cells_per_tc=1)
    counts = np.random.default_rng(1).uniform(0, 100, (50, 48))
    ours = D._front_end(np.random.default_rng(2), counts, p)
    plain = np.clip(counts + np.random.default_rng(2).normal(0.0, p.noise_counts, counts.shape),
                    0, None)
    assert np.allclose(ours, plain)
