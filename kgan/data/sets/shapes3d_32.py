"""Shapes3D-32: procedurally generated 32^3 voxel furniture and objects in six classes.

3D-GAN (Wu et al. 2016) trained on ShapeNet voxelisations; ShapeNet needs a registration and
a download, which kgan's data sets avoid. This set is generated instead, deterministically
from a seed, in about a second with vectorised numpy, so tests and zoo recipes need no files.

Every object is a union of primitives placed in a grid of 32 x 32 x 32 voxels, axis order
``(x, y, z)`` with **y up** (the object stands on the floor ``y = 1``, centred in x and z).
Each class draws its proportions uniformly from ranges chosen so that the classes stay
recognisable while no two objects are alike (measured in voxels of the 32^3 grid):

==========  ===========================================================================
class       primitives
==========  ===========================================================================
chair       seat slab (width/depth 12-18, at height 9-13, 1-3 thick), four square legs
            (2-3 thick, 0-2 in from the corners), a backrest slab on one side (height
            9-15 above the seat, 1-3 thick)
table       top slab (width 18-28, depth 14-24, height 10-16, 1-3 thick), four legs (2-3
            thick, 0-3 in from the corners), no back
mug         hollow upright cylinder (radius 6-9, height 12-18, wall 2, closed bottom),
            a half-ring handle on one side (a torus cut in half)
lamp        flat disc base (radius 5-8), thin pole (radius 1, height 12-18), a cone-shaped
            shade on top (radii 5-9 -> 2-4, height 6-9)
sofa        long low seat block (width 24-30, depth 10-14, height 6-9), a full-length
            backrest (6-10 high, 2-4 deep), two armrests at the ends (2-4 high and wide)
bottle      solid cylinder body (radius 5-8, height 12-18), a tapering shoulder, a narrow
            neck (radius 2-3, height 4-8)
==========  ===========================================================================

After building, each object is turned by a random multiple of 90 degrees about the vertical
axis (so backrests, handles and sofas face any of four ways). The train split (4,800 objects,
800 per class) and the test split (1,200, 200 per class) are drawn from different random
streams (seeds 0 and 1); the proportions come in whole voxels, so identical objects are
dropped: no object appears twice in a split, and no test object is a copy of a training one.
Within a split the classes are interleaved (0, 1, ..., 5, 0, 1, ...).

``load_arrays`` returns occupancy as ``bool (N, 32, 32, 32, 1)`` plus int32 labels; the
``tf.data`` pipeline yields float32 occupancy in {0, 1}, the range of the 3D-GAN generator's
sigmoid output. Generated arrays are cached as ``$KGAN_HOME/data/shapes3d_32_<split>_v2.npz``
(bit-packed, under 2 MB) because building the training split takes a few seconds.
"""


import numpy as np

from kgan.zoo.weights import save_npz_atomically

NAME = "shapes3d_32"
SIZE = 32
CLASS_NAMES = ("chair", "table", "mug", "lamp", "sofa", "bottle")
SPLITS = {"train": (800, 0), "test": (200, 1)}  # split -> (objects per class, seed)
#: Bumped whenever the generator changes, so stale caches are never read.
VERSION = 2


def _grid():
    """Voxel-centre coordinates ``x, y, z`` shaped to broadcast against ``(N, 1, 1, 1)``."""
    c = np.arange(SIZE, dtype="float32") + 0.5
    return c[None, :, None, None], c[None, None, :, None], c[None, None, None, :]


def _col(values):
    """Per-object parameters ``(N,)`` (or one scalar for all) -> ``(N, 1, 1, 1)``."""
    return np.reshape(np.asarray(values, dtype="float32"), (-1, 1, 1, 1))


def _box(x0, x1, y0, y1, z0, z1):
    x, y, z = _grid()
    return ((x >= _col(x0)) & (x < _col(x1)) & (y >= _col(y0)) & (y < _col(y1))
            & (z >= _col(z0)) & (z < _col(z1)))


def _cylinder(radius, y0, y1, cx=None, cz=None):
    """Upright cylinder (axis along y) of ``radius`` between heights ``y0`` and ``y1``."""
    x, y, z = _grid()
    cx = SIZE / 2 if cx is None else _col(cx)
    cz = SIZE / 2 if cz is None else _col(cz)
    return (((x - cx) ** 2 + (z - cz) ** 2 <= _col(radius) ** 2)
            & (y >= _col(y0)) & (y < _col(y1)))


def _cone(r0, r1, y0, y1):
    """Upright truncated cone: radius ``r0`` at ``y0`` to ``r1`` at ``y1``."""
    x, y, z = _grid()
    t = np.clip((y - _col(y0)) / np.maximum(_col(y1) - _col(y0), 1e-3), 0.0, 1.0)
    radius = _col(r0) + t * (_col(r1) - _col(r0))
    return (((x - SIZE / 2) ** 2 + (z - SIZE / 2) ** 2 <= radius ** 2)
            & (y >= _col(y0)) & (y < _col(y1)))


def _legs(half_w, half_d, height, thick=2.0, inset=0.0):
    """Four square legs ``thick`` wide, ``inset`` in from the corners of a ``2 half_w x
    2 half_d`` footprint."""
    mid = SIZE / 2
    legs = np.zeros((len(half_w), SIZE, SIZE, SIZE), bool)
    for sx in (-1, 1):
        for sz in (-1, 1):
            x0 = mid + sx * (half_w - inset - thick / 2) - thick / 2
            z0 = mid + sz * (half_d - inset - thick / 2) - thick / 2
            legs |= _box(x0, x0 + thick, 1, 1 + height, z0, z0 + thick)
    return legs


def _chairs(rng, n):
    hw, hd = rng.uniform(6, 9, n), rng.uniform(6, 9, n)
    seat = rng.integers(9, 14, n).astype("float32")
    back, board = rng.integers(9, 16, n), rng.integers(1, 4, n)
    mid = SIZE / 2
    shape = _legs(hw, hd, seat - 1, rng.integers(2, 4, n), rng.integers(0, 3, n))
    shape |= _box(mid - hw, mid + hw, seat, seat + board, mid - hd, mid + hd)
    shape |= _box(mid - hw, mid + hw, seat + board, seat + board + back, mid - hd,
                  mid - hd + rng.integers(1, 4, n))
    return shape


def _tables(rng, n):
    hw, hd = rng.uniform(9, 14, n), rng.uniform(7, 12, n)
    top = rng.integers(10, 17, n).astype("float32")
    board = rng.integers(1, 4, n)
    legs = _legs(hw, hd, top - 1, rng.integers(2, 4, n), rng.integers(0, 4, n))
    mid = SIZE / 2
    return legs | _box(mid - hw, mid + hw, top, top + board, mid - hd, mid + hd)


def _mugs(rng, n):
    radius, height = rng.uniform(6, 9, n), rng.integers(12, 19, n).astype("float32")
    shift = rng.uniform(-3, -1, n)  # move the body off centre to leave room for the handle
    cx = SIZE / 2 + shift
    body = _cylinder(radius, 1, 1 + height, cx=cx)
    body &= ~_cylinder(radius - 2, 3, 1 + height, cx=cx)
    # Handle: a half torus in the x-y plane beside the body, tube radius 1.3.
    x, y, z = _grid()
    ring_r = _col(height) * 0.3
    hx, hy = _col(cx + radius), _col(1 + height / 2)
    ring = (np.sqrt((x - hx) ** 2 + (y - hy) ** 2) - ring_r) ** 2 + (z - SIZE / 2) ** 2
    handle = (ring <= 1.3 ** 2) & (x >= hx - 0.5)
    return body | handle


def _lamps(rng, n):
    base_r, pole = rng.uniform(5, 8, n), rng.integers(12, 19, n).astype("float32")
    shade_h = rng.integers(6, 10, n).astype("float32")
    r_bottom, r_top = rng.uniform(5, 9, n), rng.uniform(2, 4, n)
    shape = _cylinder(base_r, 1, 3) | _cylinder(np.full(n, 1.2), 3, 3 + pole)
    shade = _cone(r_bottom, r_top, 3 + pole, 3 + pole + shade_h)
    shade &= ~_cone(r_bottom - 1.5, r_top - 1.5, 3 + pole, 2 + pole + shade_h)
    return shape | shade


def _sofas(rng, n):
    hw, hd = rng.uniform(12, 15, n), rng.uniform(5, 7, n)
    seat = rng.integers(6, 10, n).astype("float32")
    back, back_depth = rng.integers(6, 11, n), rng.integers(2, 5, n)
    arm, arm_width = rng.integers(2, 5, n), rng.integers(2, 5, n)
    mid = SIZE / 2
    shape = _box(mid - hw, mid + hw, 1, 1 + seat, mid - hd, mid + hd)
    shape |= _box(mid - hw, mid + hw, 1 + seat, 1 + seat + back, mid - hd,
                  mid - hd + back_depth)
    for side in (-1, 1):
        x0 = mid - hw if side < 0 else mid + hw - arm_width
        shape |= _box(x0, x0 + arm_width, 1 + seat, 1 + seat + arm, mid - hd, mid + hd)
    return shape


def _bottles(rng, n):
    radius, body = rng.uniform(5, 8, n), rng.integers(12, 19, n).astype("float32")
    shoulder = rng.integers(3, 6, n).astype("float32")
    neck_r, neck = rng.uniform(2, 3, n), rng.integers(4, 9, n).astype("float32")
    top = 1 + body + shoulder
    return (_cylinder(radius, 1, 1 + body) | _cone(radius, neck_r, 1 + body, top)
            | _cylinder(neck_r, top, top + neck))


_BUILDERS = (_chairs, _tables, _mugs, _lamps, _sofas, _bottles)


def _keys(objects):
    """One bytes key per object, equal for identical voxel grids."""
    return [row.tobytes() for row in np.packbits(objects.reshape(len(objects), -1), axis=1)]


def generate(per_class, seed, exclude=()):
    """Builds ``per_class`` distinct objects of every class: ``(bool (N, 32, 32, 32),
    int32 (N,))``, classes interleaved; a pure function of the arguments.

    Proportions are drawn on a grid of whole voxels, so two draws can voxelise to the same
    object: twice as many are drawn and the first ``per_class`` distinct ones kept, leaving
    out any whose key (:func:`_keys`) is in ``exclude`` (the test split excludes the train
    split's objects).
    """
    rng = np.random.default_rng(seed)
    exclude = set(exclude)
    shapes = []
    for build in _BUILDERS:
        objects = build(rng, 2 * per_class)
        turns = rng.integers(0, 4, 2 * per_class)
        for k in range(1, 4):  # rotate about y: the x-z plane is axes (1, 3)
            objects[turns == k] = np.rot90(objects[turns == k], k, axes=(1, 3))
        keep, seen = [], set(exclude)
        for i, key in enumerate(_keys(objects)):
            if key not in seen:
                seen.add(key)
                keep.append(i)
        if len(keep) < per_class:
            raise RuntimeError(f"{build.__name__[1:]}: only {len(keep)} distinct objects in "
                               f"{2 * per_class} draws; widen its parameter ranges.")
        shapes.append(objects[keep[:per_class]])
    voxels = np.stack(shapes, axis=1).reshape(-1, SIZE, SIZE, SIZE)
    labels = np.tile(np.arange(len(_BUILDERS), dtype="int32"), per_class)
    return voxels, labels


def _cache_path(split):
    from kgan.zoo.weights import cache_dir

    return cache_dir() / "data" / f"{NAME}_{split}_v{VERSION}.npz"


def load_arrays(split="train", data_dir=None):
    """``(voxels bool (N, 32, 32, 32, 1), labels int32 (N,))``; TensorFlow-free.

    ``data_dir`` is accepted for the common signature; nothing is read from it: the set is
    generated (and cached under ``$KGAN_HOME/data``).
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for {NAME}; expected one of "
                         f"{', '.join(SPLITS)}.")
    path = _cache_path(split)
    if path.exists():
        try:
            with np.load(path) as f:
                bits, labels = f["bits"], f["labels"]
            voxels = np.unpackbits(bits, axis=-1).astype(bool)
            return voxels.reshape(-1, SIZE, SIZE, SIZE, 1), labels
        except (OSError, ValueError, KeyError, EOFError):
            pass  # unreadable cache: rebuild it below
    exclude = _keys(load_arrays("train")[0][..., 0]) if split == "test" else ()
    voxels, labels = generate(*SPLITS[split], exclude=exclude)
    save_npz_atomically(path, compressed=True, bits=np.packbits(voxels, axis=-1),
                        labels=labels)
    return voxels[..., None], labels


def load(split="train", batch_size=64, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of float32 occupancy ``(B, 32, 32, 32, 1)`` in {0, 1} (and int32 labels)."""
    import tensorflow as tf

    voxels, classes = load_arrays(split, data_dir)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= len(voxels):
        raise ValueError(f"batch_size must be an integer in [1, {len(voxels)}] (partial "
                         f"batches are dropped); received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices((voxels, classes) if labels else voxels)
    if shuffle:
        ds = ds.shuffle(len(voxels), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    if labels:
        ds = ds.map(lambda x, y: (tf.cast(x, "float32"), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x: tf.cast(x, "float32"), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
