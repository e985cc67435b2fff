import numpy as np
import pytest
from scipy.optimize import linprog

from asicgen.core.geometry import ground_distance
from training import metrics
from training.data import generate
from training.regions import preset


def lp_emd(a, b, dist):
    """EMD from its definition, solved as a linear programme by scipy (HiGHS)."""
    a = a / a.sum()
    b = b / b.sum()
    n = len(a)
    cost = dist.reshape(-1)
    rows = np.zeros((2 * n, n * n))
    for i in range(n):
        rows[i, i * n:(i + 1) * n] = 1.0  # mass leaving bin i of a
        rows[n + i, i::n] = 1.0  # mass arriving in bin i of b
    res = linprog(cost, A_eq=rows, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


def test_emd_matches_an_independent_linear_programme():
    rng = np.random.default_rng(1)
    dist = ground_distance()
    for _ in range(6):
        a = rng.exponential(size=48) * (rng.random(48) < 0.4)
        b = rng.exponential(size=48) * (rng.random(48) < 0.4)
        a[0] += 0.1
        b[1] += 0.1
        assert metrics.emd(a, b) == pytest.approx(lp_emd(a, b, dist), rel=1e-9, abs=1e-12)


def test_emd_of_a_single_cell_moved_is_the_distance():
    a = np.zeros(48)
    b = np.zeros(48)
    a[3], b[40] = 5.0, 2.0  # any scale
    assert metrics.emd(a, b) == pytest.approx(ground_distance()[3, 40])
    assert metrics.emd(a, a * 7) == 0.0


def test_emd_rejects_bad_input():
    with pytest.raises(ValueError, match="zero total charge"):
        metrics.emd(np.zeros(48), np.ones(48))
    with pytest.raises(ValueError, match="48 charges"):
        metrics.emd(np.ones(47), np.ones(47))
    with pytest.raises(ValueError, match="non-negative"):
        metrics.emd(-np.ones(48), np.ones(48))
    with pytest.raises(ValueError, match="same number"):
        metrics.emd_batch(np.ones((3, 48)), np.ones((2, 48)))


@pytest.fixture(scope="module")
def module_pairs():
    rng = np.random.default_rng(2)
    truth = generate(preset("cee_high_eta"), seed=9, modules=400).calq.astype(float)
    dense = truth * rng.uniform(0.5, 1.5, truth.shape) + rng.exponential(0.5, truth.shape)
    top = np.argsort(-truth, axis=1)[:, :4]
    sparse = np.zeros_like(truth)
    np.put_along_axis(sparse, top, np.take_along_axis(truth, top, axis=1), axis=1)
    return truth, np.concatenate([dense, sparse, truth * 3])


def test_emd_batch_is_bit_identical_to_per_module_emd(module_pairs):
    truth, recon = module_pairs
    truth = np.concatenate([truth, truth, truth])
    reference = np.array([metrics.emd(a, b) for a, b in zip(truth, recon, strict=True)])
    assert np.array_equal(metrics.emd_batch(truth, recon, workers=1), reference)
    assert np.array_equal(metrics.emd_batch(truth, recon, workers=2), reference)


def test_summaries_per_occupancy_bin():
    values = np.arange(100, dtype=float)
    occupancy = np.repeat([0, 3, 7, 12, 30], 20)
    out = metrics.summarise(values, occupancy)
    assert out["all"].count == 100 and out["all"].median == pytest.approx(49.5)
    assert out["0-2"].count == 20 and out["0-2"].median == pytest.approx(9.5)
    assert out["15+"].median == pytest.approx(89.5)
    assert out["5-10"].low68 < out["5-10"].median < out["5-10"].high68
    assert metrics.Summary.of(np.array([])).to_json()["median"] is None
