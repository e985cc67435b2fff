"""Geometry of one 8-inch hexagonal HGCAL module: 48 trigger cells (TCs).

Everything here is computed from the formulas of SPEC section 1: the physical
TC centres, the (u, v) cell coordinates, the two image layouts the convolution
uses, the EMD ground-distance matrix and the telescope groupings. Nothing below
is a typed-in list of groups; the published 2x2 list is only used by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np

N_TC = 48
N_BLOCKS = 3
BLOCK_SIDE = 4
TCS_PER_BLOCK = BLOCK_SIDE * BLOCK_SIDE

_A = 2.09301
_D = 2.4168015
_H = 1.2083969
#: Coordinates are divided by this so that distances are in sensor-cell pitches.
PITCH_UNIT = 0.5 * 2.4168015

#: Rows of the 8x8 image of the stride-2 architecture; -1 marks the masked cells.
_LAYOUT_8X8_ROWS = (
    (28, 29, 30, 31, 0, 4, 8, 12),
    (24, 25, 26, 27, 1, 5, 9, 13),
    (20, 21, 22, 23, 2, 6, 10, 14),
    (16, 17, 18, 19, 3, 7, 11, 15),
    (47, 43, 39, 35, -1, -1, -1, -1),
    (46, 42, 38, 34, -1, -1, -1, -1),
    (45, 41, 37, 33, -1, -1, -1, -1),
    (44, 40, 36, 32, -1, -1, -1, -1),
)


def tc_block(tc: int) -> int:
    """Block (0, 1, 2) of a TC."""
    return tc // TCS_PER_BLOCK


def tc_grid(tc: int) -> tuple[int, int]:
    """(row, column) of a TC in its block's 4x4 rhombic grid: `j // 4`, `j % 4`."""
    j = tc % TCS_PER_BLOCK
    return j // BLOCK_SIDE, j % BLOCK_SIDE


@cache
def tc_centres() -> np.ndarray:
    """(48, 2) array of TC centres (x, y) in sensor-cell pitches."""
    xy = np.zeros((N_TC, 2))
    for i in range(N_TC):
        if i < 16:
            x, y = _A * (i // 4), -_D * (i % 4) - _H * (i // 4)
        elif i < 32:
            j = i - 16
            x = -8.37204 + _A * (j % 4)
            y = -10.271393 + _H * (j % 4) + _D * (j // 4)
        else:
            k = i - 32
            x = 4.7092705 - _A * (k % 4 + k // 4)
            y = -12.386101 + _H * (k % 4 - k // 4)
        xy[i] = (x, y)
    xy /= PITCH_UNIT
    xy.setflags(write=False)
    return xy


_UV_BLOCK2_U = (3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0)
_UV_BLOCK2_V = (6, 5, 4, 3, 5, 4, 3, 2, 4, 3, 2, 1, 3, 2, 1, 0)


@cache
def tc_uv() -> np.ndarray:
    """(48, 2) integer array of (u, v) cell coordinates of every TC."""
    uv = np.zeros((N_TC, 2), dtype=np.int64)
    for i in range(N_TC):
        if i < 16:
            uv[i] = (7 - i % 4, 4 + i // 4)
        elif i < 32:
            j = i - 16
            uv[i] = (1 + j % 4 + j // 4, j % 4)
        else:
            uv[i] = (_UV_BLOCK2_U[i - 32], _UV_BLOCK2_V[i - 32])
    uv.setflags(write=False)
    return uv


@cache
def ground_distance() -> np.ndarray:
    """(48, 48) Euclidean distances between TC centres, in sensor-cell pitches."""
    xy = tc_centres()
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1))
    dist.setflags(write=False)
    return dist


# --- image layouts -----------------------------------------------------------


@dataclass(frozen=True)
class ImageLayout:
    """Where each TC sits in the (rows, cols, channels) input image."""

    name: str
    shape: tuple[int, int, int]
    #: flat image index (C order) of TC i
    flat_index_of_tc: tuple[int, ...]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1] * self.shape[2]

    def to_image(self, calq: np.ndarray) -> np.ndarray:
        """(..., 48) in CALQ order -> (..., rows, cols, channels); empty cells are 0."""
        flat = np.zeros(calq.shape[:-1] + (self.size,), dtype=calq.dtype)
        flat[..., list(self.flat_index_of_tc)] = calq
        return flat.reshape(calq.shape[:-1] + self.shape)

    def to_calq(self, image: np.ndarray) -> np.ndarray:
        """(..., rows, cols, channels) -> (..., 48) in CALQ order."""
        flat = image.reshape(image.shape[: image.ndim - 3] + (self.size,))
        return flat[..., list(self.flat_index_of_tc)]


@cache
def layout_443() -> ImageLayout:
    """`arrange443`: channel k is the 4x4 image of TCs 16k..16k+15, row-major."""
    index = tuple(3 * (i % 16) + i // 16 for i in range(N_TC))
    return ImageLayout("4x4x3", (4, 4, 3), index)


@cache
def layout_8x8() -> ImageLayout:
    """The 8x8 image with a masked quadrant (stride-2 architecture)."""
    index = [-1] * N_TC
    for r, row in enumerate(_LAYOUT_8X8_ROWS):
        for c, tc in enumerate(row):
            if tc >= 0:
                index[tc] = r * 8 + c
    if min(index) < 0:
        raise AssertionError("8x8 layout does not place every TC")
    return ImageLayout("8x8", (8, 8, 1), tuple(index))


LAYOUTS = {"4x4x3": layout_443, "8x8": layout_8x8}


def layout_by_name(name: str) -> ImageLayout:
    try:
        return LAYOUTS[name]()
    except KeyError:
        raise ValueError(f"unknown image layout {name!r}; choose one of {sorted(LAYOUTS)}") from None


# --- telescope groupings -----------------------------------------------------


def _neighbour_threshold() -> float:
    """Distance below which two TCs count as neighbours.

    Midway between the in-block nearest-neighbour distance and the next shell
    (sqrt(3) times further), so it tolerates the small offsets at block borders.
    """
    dist = ground_distance()
    pitch = dist[0, 1]
    return 0.5 * (pitch + np.sqrt(3.0) * pitch)


@dataclass(frozen=True)
class _Border:
    """One border between two blocks, unfolded into a common grid.

    `cells[(t, s)]` is the TC at position t along the border and signed depth s
    across it: s = -1, -2, ... inside the first block, s = 0, 1, ... inside the
    second block.
    """

    cells: dict[tuple[int, int], int]


def _block_border_line(block: int, other: int) -> list[int]:
    """TCs of `block` that neighbour `other`, checked to form one full grid line."""
    dist = ground_distance()
    threshold = _neighbour_threshold()
    mine = range(block * TCS_PER_BLOCK, (block + 1) * TCS_PER_BLOCK)
    theirs = list(range(other * TCS_PER_BLOCK, (other + 1) * TCS_PER_BLOCK))
    line = [tc for tc in mine if dist[tc, theirs].min() < threshold]
    rows = {tc_grid(tc)[0] for tc in line}
    cols = {tc_grid(tc)[1] for tc in line}
    if len(line) != BLOCK_SIDE or (len(rows) != 1 and len(cols) != 1):
        raise AssertionError(f"border of block {block} towards {other} is not a grid line: {line}")
    return line


def _inward_step(line: list[int]) -> tuple[int, int]:
    """Grid step (drow, dcol) that goes from a border line into its block."""
    rows = {tc_grid(tc)[0] for tc in line}
    if len(rows) == 1:
        return (1, 0) if rows == {0} else (-1, 0)
    cols = {tc_grid(tc)[1] for tc in line}
    return (0, 1) if cols == {0} else (0, -1)


def _tc_at(block: int, row: int, col: int) -> int | None:
    if 0 <= row < BLOCK_SIDE and 0 <= col < BLOCK_SIDE:
        return block * TCS_PER_BLOCK + row * BLOCK_SIDE + col
    return None


def _unfold_border(first: int, second: int) -> _Border:
    """Unfold two neighbouring blocks into one grid across their border.

    Border cells of the first block are ordered along the border by their grid
    coordinate; each is paired with its nearest border cell of the second block
    (the pairing must be one to one). Depth follows each block's own grid axis.
    """
    dist = ground_distance()
    line_a = sorted(_block_border_line(first, second), key=tc_grid)
    line_b = _block_border_line(second, first)
    match = {tc: min(line_b, key=lambda other, tc=tc: dist[tc, other]) for tc in line_a}
    if len(set(match.values())) != len(line_a):
        raise AssertionError(f"border {first}-{second}: nearest-cell pairing is not one to one")
    step_a, step_b = _inward_step(line_a), _inward_step(line_b)
    cells: dict[tuple[int, int], int] = {}
    for t, tc_a in enumerate(line_a):
        for depth in range(BLOCK_SIDE):
            ra, ca = tc_grid(tc_a)
            rb, cb = tc_grid(match[tc_a])
            inside_a = _tc_at(first, ra + depth * step_a[0], ca + depth * step_a[1])
            inside_b = _tc_at(second, rb + depth * step_b[0], cb + depth * step_b[1])
            if inside_a is not None:
                cells[(t, -1 - depth)] = inside_a
            if inside_b is not None:
                cells[(t, depth)] = inside_b
    return _Border(cells)


def _windows(cells: dict[tuple[int, int], int], size: int) -> list[tuple[int, ...]]:
    """All size x size windows of a (t, s) grid that are fully populated."""
    keys = set(cells)
    ts = sorted({t for t, _ in keys})
    ss = sorted({s for _, s in keys})
    out = []
    for s0 in ss:
        for t0 in ts:
            window = [(t0 + dt, s0 + ds) for ds in range(size) for dt in range(size)]
            if all(w in keys for w in window):
                out.append(tuple(cells[w] for w in window))
    return out


def _block_cells(block: int) -> dict[tuple[int, int], int]:
    return {(c, r): block * TCS_PER_BLOCK + r * BLOCK_SIDE + c
            for r in range(BLOCK_SIDE) for c in range(BLOCK_SIDE)}


def _straddles(group: tuple[int, ...]) -> bool:
    return len({tc_block(tc) for tc in group}) > 1


@cache
def square_groups(size: int) -> tuple[tuple[int, ...], ...]:
    """Every size x size group of TCs: windows of each block's grid, then the
    windows of the unfolded grids that straddle a block border."""
    if size < 1 or size > BLOCK_SIDE:
        raise ValueError(f"group size must be 1..{BLOCK_SIDE}, got {size}")
    groups: list[tuple[int, ...]] = []
    for block in range(N_BLOCKS):
        groups += _windows(_block_cells(block), size)
    for first, second in combinations(range(N_BLOCKS), 2):
        border = _unfold_border(first, second)
        groups += [g for g in _windows(border.cells, size) if _straddles(g)]
    return tuple(groups)


@cache
def block_groups() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(range(b * TCS_PER_BLOCK, (b + 1) * TCS_PER_BLOCK)) for b in range(N_BLOCKS))


def group_matrix(groups: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """(48, n_groups) 0/1 matrix that sums TCs into groups (x @ M)."""
    matrix = np.zeros((N_TC, len(groups)), dtype=np.float32)
    for g, members in enumerate(groups):
        matrix[list(members), g] = 1.0
    return matrix


@cache
def telescope_scales() -> dict[str, tuple[tuple[int, ...], ...]]:
    """The spatial scales of the telescope loss, smallest first."""
    return {
        "tc": tuple((i,) for i in range(N_TC)),
        "2x2": square_groups(2),
        "3x3": square_groups(3),
        "block": block_groups(),
    }
