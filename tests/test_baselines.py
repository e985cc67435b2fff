import numpy as np
import pytest

from asicgen.core.codec import decode_tc, encode_tc
from asicgen.core.normalise import convert_codes
from training import baselines as B
from training.data import generate
from training.regions import preset


@pytest.fixture(scope="module")
def prepared():
    calq = generate(preset("cee_high_eta"), seed=4, modules=600).calq
    codes = encode_tc(calq)
    inputs, _ = convert_codes(codes)
    return inputs, decode_tc(codes)


@pytest.mark.parametrize("elinks", [2, 3, 4, 5])
@pytest.mark.parametrize("name", B.BASELINE_NAMES)
def test_payload_uses_at_most_the_autoencoder_budget(prepared, name, elinks):
    inputs, charges = prepared
    baseline = B.make_baseline(name, elinks)
    bits = baseline.encode(inputs, charges)
    budget = 16 * (2 * elinks - 1)
    assert budget == B.budget_bits(elinks) == (48, 80, 112, 144)[elinks - 2]
    assert bits.shape == (len(inputs), bits.shape[1])
    assert bits.shape[1] <= budget
    # the budget is used up (what is left cannot give every item one more bit),
    # unless every value is already sent losslessly (8 bits)
    items = baseline.slots if hasattr(baseline, "slots") else len(baseline.tiles)
    assert budget - bits.shape[1] < items or baseline.value.bits == 8
    assert set(np.unique(bits)) <= {0, 1}


@pytest.mark.parametrize("name", B.BASELINE_NAMES)
def test_reconstruction_comes_from_the_bits_alone(prepared, name):
    inputs, charges = prepared
    baseline = B.make_baseline(name, 4)
    bits = baseline.encode(inputs, charges)
    recon = baseline.decode(bits)
    assert np.array_equal(recon, baseline.reconstruct(inputs, charges))
    flipped = bits.copy()
    flipped[:, 1] ^= 1
    assert not np.array_equal(baseline.decode(flipped), recon)


def test_best_choice_keeps_the_n_highest_cells(prepared):
    inputs, charges = prepared
    for elinks, n in B.BEST_CHOICE_SLOTS.items():
        recon = B.make_baseline("best_choice", elinks).reconstruct(inputs, charges)
        for row in range(50):
            kept = set(np.flatnonzero(recon[row]))
            threshold = np.sort(charges[row])[-n]
            assert kept <= set(np.flatnonzero(charges[row] >= threshold))
            assert len(kept) <= n


def test_best_choice_with_enough_bits_is_exact_on_kept_cells():
    inputs = np.zeros((1, 48), dtype=np.int64)
    inputs[0, [3, 9, 20]] = [101, 27, 1]
    charges = inputs * 10
    recon = B.make_baseline("best_choice", 3).reconstruct(inputs, charges)  # 7-bit values
    assert recon[0, 3] == 100 and recon[0, 9] == 27 and recon[0, 20] == 1  # 3E4M truncation
    assert np.count_nonzero(recon) == 3


def test_threshold_keeps_only_cells_above_one_mip_in_address_order():
    charges = np.zeros((1, 48), dtype=np.int64)
    charges[0, [1, 2, 30, 47]] = [40, 10, 400, 35]
    inputs = charges // 4
    recon = B.make_baseline("threshold", 2).reconstruct(inputs, charges)
    assert set(np.flatnonzero(recon[0])) == {1, 30, 47}
    charges = np.full((1, 48), 100)
    recon = B.make_baseline("threshold", 2).reconstruct(charges // 4, charges)
    assert list(np.flatnonzero(recon[0])) == [0, 1, 2, 3]  # truncated readout


def test_stc_places_the_tile_sum_on_its_highest_cell():
    inputs = np.zeros((1, 48), dtype=np.int64)
    inputs[0, [0, 1, 4, 5]] = [10, 20, 30, 5]
    recon = B.make_baseline("stc4", 5).reconstruct(inputs, inputs)
    assert recon[0, 4] == 65 and np.count_nonzero(recon) == 1
    recon16 = B.make_baseline("stc16", 5).reconstruct(inputs, inputs)
    assert recon16[0, 4] == 65 and np.count_nonzero(recon16) == 1
    assert len(B.stc_tiles(4)) == 12 and sorted(sum(B.stc_tiles(4), ())) == list(range(48))
