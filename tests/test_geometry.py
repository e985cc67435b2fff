import numpy as np
import pytest

from asicgen.core import geometry as g

# The published list of 2x2 groups (ECON-T telescope loss): per block, add 16
# and 32 for the other blocks; then the groups that straddle block borders.
PUBLISHED_2X2_PER_BLOCK = [
    [0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15], [4, 5, 8, 9],
    [6, 7, 10, 11], [1, 2, 5, 6], [9, 10, 13, 14], [5, 6, 9, 10],
]
PUBLISHED_2X2_ACROSS = [
    [0, 1, 27, 31], [1, 2, 23, 27], [2, 3, 19, 23], [3, 7, 34, 35], [7, 11, 33, 34],
    [11, 15, 32, 33], [16, 17, 47, 43], [17, 18, 43, 39], [18, 19, 39, 35],
]


def published_2x2():
    groups = [[tc + 16 * b for tc in grp] for b in range(3) for grp in PUBLISHED_2X2_PER_BLOCK]
    return groups + PUBLISHED_2X2_ACROSS


def test_two_by_two_groups_reproduce_the_published_list():
    derived = {frozenset(grp) for grp in g.square_groups(2)}
    published = {frozenset(grp) for grp in published_2x2()}
    assert len(g.square_groups(2)) == 36
    assert derived == published


def test_three_by_three_groups_are_compact_and_include_border_groups():
    groups = g.square_groups(3)
    dist = g.ground_distance()
    assert all(len(set(grp)) == 9 for grp in groups)
    assert len({frozenset(grp) for grp in groups}) == len(groups)
    within = [grp for grp in groups if len({tc // 16 for tc in grp}) == 1]
    assert len(within) == 12  # 2x2 placements of a 3x3 window in each 4x4 block
    assert len(groups) > len(within)
    # no group is wider than the long diagonal of a 3x3 rhombus (2 sqrt(3) pitches)
    pitch = dist[0, 1]
    for grp in groups:
        assert dist[np.ix_(grp, grp)].max() < 2 * np.sqrt(3) * pitch + 0.5


def test_block_groups():
    assert g.block_groups() == tuple(tuple(range(16 * b, 16 * b + 16)) for b in range(3))


def test_centres_follow_the_spec_formulas():
    xy = g.tc_centres() * g.PITCH_UNIT
    assert xy.shape == (48, 2)
    assert np.allclose(xy[0], (0.0, 0.0))
    assert np.allclose(xy[5], (2.09301, -2.4168015 - 1.2083969))
    assert np.allclose(xy[16], (-8.37204, -10.271393))
    assert np.allclose(xy[47], (4.7092705 - 2.09301 * 6, -12.386101))
    # in-block neighbours are one TC pitch (two sensor-cell pitches) apart
    assert g.ground_distance()[0, 1] == pytest.approx(2.0)
    assert g.ground_distance()[0, 4] == pytest.approx(2.0, rel=1e-5)


def test_ground_distance_is_a_metric():
    d = g.ground_distance()
    assert np.allclose(d, d.T)
    assert np.all(np.diag(d) == 0)
    assert np.all(d[~np.eye(48, dtype=bool)] > 1.0)
    # triangle inequality
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-9)


def test_uv_coordinates():
    uv = g.tc_uv()
    assert tuple(uv[0]) == (7, 4)
    assert tuple(uv[15]) == (4, 7)
    assert tuple(uv[16]) == (1, 0)
    assert tuple(uv[31]) == (7, 3)
    assert tuple(uv[32]) == (3, 6)
    assert tuple(uv[47]) == (0, 0)
    assert len({tuple(p) for p in uv}) == 48


def test_layout_443_matches_arrange443():
    layout = g.layout_443()
    calq = np.arange(48)
    image = layout.to_image(calq)
    assert image.shape == (4, 4, 3)
    flat = image.reshape(-1)
    for i in range(48):
        assert flat[3 * (i % 16) + i // 16] == i
    assert np.array_equal(image[:, :, 1].reshape(-1), np.arange(16, 32))
    assert np.array_equal(layout.to_calq(image), calq)


def test_layout_8x8_places_every_tc_once_and_masks_a_quadrant():
    layout = g.layout_8x8()
    image = layout.to_image(np.arange(1, 49))[:, :, 0]
    assert image[0, 0] == 29 and image[0, 4] == 1 and image[4, 0] == 48 and image[7, 3] == 33
    assert np.all(image[4:, 4:] == 0)
    assert sorted(image[image > 0]) == list(range(1, 49))
    assert np.array_equal(layout.to_calq(layout.to_image(np.arange(48))), np.arange(48))


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="unknown image layout"):
        g.layout_by_name("5x5")
