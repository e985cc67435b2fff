import numpy as np
import pytest

from asicgen.core.geometry import ground_distance
from training.losses import make_loss, telescope_loss


def one_hot(i):
    x = np.zeros((1, 48), dtype=np.float32)
    x[0, i] = 1.0
    return x


def test_telescope_loss_is_zero_on_a_perfect_reconstruction():
    rng = np.random.default_rng(0)
    x = rng.random((8, 48)).astype(np.float32)
    x /= x.sum(axis=1, keepdims=True)
    assert np.allclose(telescope_loss()(x, x).numpy(), 0.0)
    assert np.all(telescope_loss()(x, np.roll(x, 1, axis=1)).numpy() > 0)


def test_near_misplacement_costs_less_than_a_far_one():
    dist = ground_distance()
    loss = telescope_loss()
    true = one_hot(5)
    near = int(np.argsort(dist[5])[1])
    far = int(np.argmax(dist[5]))
    near_loss = float(loss(true, one_hot(near))[0])
    far_loss = float(loss(true, one_hot(far))[0])
    assert near_loss < far_loss
    # plain MSE cannot tell the two apart; the telescope loss can
    mse = make_loss("mse")
    assert float(mse(true, one_hot(near))[0]) == pytest.approx(float(mse(true, one_hot(far))[0]))


def test_unknown_loss_and_scale_are_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("emd")
    with pytest.raises(ValueError, match="unknown telescope scale"):
        telescope_loss({"5x5": 1.0})
