"""Voxel grids: checking them, rendering them to PNG, and writing ``.npy`` / ``.obj`` files.

Voxel generators (3D-GAN, :mod:`kgan.models.gan3d`) return float32 occupancy in [0, 1],
shaped ``(N, D, D, D, 1)`` with axis order ``(x, y, z)``, y up (the convention of
:mod:`kgan.data.sets.shapes3d_32`); a voxel is solid where the occupancy exceeds 0.5.

Rendering is an isometric ray cast in numpy: one orthographic ray per pixel, from above the
front-right corner, stepped through the grid until it enters a solid voxel; the face it
entered through sets the shade (top faces light, the two side faces two darker tones, as in
isometric voxel art) and distance darkens it slightly, so legs, holes and handles read at
64 x 64 pixels. A 64-cell grid renders in about a second. matplotlib's ``Axes3D.voxels``
draws the same picture as polygons but takes seconds per 32^3 object and adds a large
dependency, so the sample grids of training and the zoo use this renderer instead.

``write_obj`` turns one grid into a triangle mesh with scikit-image's marching cubes
(``skimage.measure.marching_cubes``, Lewiner et al. 2003) at the 0.5 level and writes it as
Wavefront ``.obj`` (vertices in voxel units, y up), which Blender, MeshLab and most viewers
open directly.
"""

from pathlib import Path

import numpy as np

#: Occupancy above which a voxel counts as solid.
THRESHOLD = 0.5
#: Shade of the faces whose normal is x, y (top) and z.
_FACE_SHADES = np.array([0.62, 1.0, 0.78], dtype="float32")
_COLOR = np.array([214, 150, 86], dtype="float32")  # warm wood tone
_BACKGROUND = 255


def check_voxels(voxels, size=None, what="voxels"):
    """Returns ``voxels`` as float32 ``(N, D, D, D, 1)``; a single grid ``(D, D, D[, 1])``
    becomes a batch of one.

    Args:
        voxels: occupancy (bool, integers 0/1 or floats in [0, 1]).
        size: the required edge length ``D`` (e.g. 32 for the shapes3d_32 classifier);
            None accepts any cube.
        what: how the array is named in errors.

    Raises:
        ValueError: not a cube of voxels, the wrong size, values outside [0, 1], NaN.
    """
    array = np.asarray(voxels)
    if array.dtype == bool:
        array = array.astype("float32")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{what} must be occupancy numbers or booleans; received dtype "
                         f"{array.dtype}.")
    if array.ndim in (3, 4) and (array.ndim == 3 or array.shape[-1] == 1):
        array = array.reshape((1,) + array.shape[:3] + (1,))
    if array.ndim == 4 and array.shape[1:] == array.shape[1:2] * 3:
        array = array[..., None]
    cube = array.ndim == 5 and array.shape[-1] == 1 and len(set(array.shape[1:4])) == 1
    if not cube:
        want = f"({size}, {size}, {size}, 1)" if size else "(D, D, D, 1)"
        raise ValueError(f"{what} must be voxel grids of shape (N, {want[1:]} or one grid "
                         f"{want}; received shape {np.shape(voxels)}.")
    if size is not None and array.shape[1] != size:
        raise ValueError(f"{what} are {array.shape[1]}^3 grids but {size}^3 are needed; "
                         f"resample them to {size} voxels per side (e.g. "
                         "scipy.ndimage.zoom(v, zoom, order=0)).")
    array = array.astype("float32")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contain NaN or Inf values.")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(f"{what} must be occupancy in [0, 1]; received values in "
                         f"[{array.min():.3g}, {array.max():.3g}].")
    return array


def _view(size, pixels):
    """Ray origins ``(P, 3)``, the direction and the step count of the isometric camera."""
    direction = np.array([-1.0, -1.0, -1.0]) / np.sqrt(3.0)  # from (+x, +y, +z) downwards
    right = np.array([1.0, 0.0, -1.0]) / np.sqrt(2.0)
    up = np.cross(right, direction)
    up /= np.linalg.norm(up)
    span = size * 0.8  # half-width of the picture, in voxels: all but the cube's far corners
    u = np.linspace(-span, span, pixels)
    v = np.linspace(span, -span, pixels)
    uu, vv = np.meshgrid(u, v)
    centre = np.full(3, size / 2.0)
    origins = (centre - direction * size * 1.5 + uu.reshape(-1, 1) * right
               + vv.reshape(-1, 1) * up)
    return origins, direction, int(size * 3.0 / 0.25)


def render(voxels, pixels=64):
    """Isometric shaded pictures of voxel grids: uint8 RGB ``(N, pixels, pixels, 3)``."""
    grids = check_voxels(voxels)[..., 0] > THRESHOLD
    size = grids.shape[1]
    origins, direction, steps = _view(size, pixels)
    t = np.arange(steps, dtype="float32") * 0.25
    points = origins[:, None, :] + t[None, :, None] * direction  # (P, S, 3)
    cells = np.floor(points).astype("int32")
    inside = np.all((cells >= 0) & (cells < size), axis=-1)
    cells = np.clip(cells, 0, size - 1)
    flat = (cells[..., 0] * size + cells[..., 1]) * size + cells[..., 2]
    # The face a ray enters a voxel through: the axis whose cell index changed last step.
    changed = np.diff(cells, axis=1, prepend=cells[:, :1] - 1) != 0
    face = np.where(changed[..., 1], 1, np.where(changed[..., 0], 0, 2))  # y first: tops
    images = np.full((len(grids), pixels * pixels, 3), _BACKGROUND, dtype="float32")
    for i, grid in enumerate(grids):
        solid = grid.reshape(-1)[flat] & inside
        hit = solid.any(axis=1)
        first = np.argmax(solid, axis=1)
        rows = np.flatnonzero(hit)
        if not len(rows):  # an empty grid (a generator early in training) stays blank
            continue
        shade = _FACE_SHADES[face[rows, first[rows]]]
        depth = first[rows] / steps
        light = shade * (1.05 - 0.45 * (depth - depth.min()) / max(np.ptp(depth), 1e-6))
        images[i, rows] = np.clip(_COLOR[None] * light[:, None], 0, 255)
    return images.reshape(len(grids), pixels, pixels, 3).round().astype("uint8")


def voxel_grid_picture(voxels, rows=None, pixels=64):
    """uint8 RGB ``(rows * (pixels + 2) + 2, cols * (pixels + 2) + 2, 3)``: one isometric
    view per grid, ``rows`` rows (square-ish by default), grey borders."""
    pictures = render(voxels, pixels)
    n = len(pictures)
    rows = rows or int(np.ceil(np.sqrt(n)))
    cols = int(np.ceil(n / rows))
    cell = pixels + 2
    canvas = np.full((rows * cell + 2, cols * cell + 2, 3), 160, dtype="uint8")
    for i, picture in enumerate(pictures):
        r, c = divmod(i, cols)
        canvas[2 + r * cell:2 + r * cell + pixels, 2 + c * cell:2 + c * cell + pixels] = picture
    return canvas


def save_voxel_grid(path, voxels, rows=None, pixels=64, labels=None):
    """Renders voxel grids into one PNG of ``rows`` rows (square-ish by default), one
    isometric view per cell with a grey border; ``labels`` (strings) are written on top."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(voxel_grid_picture(voxels, rows, pixels))
    if labels is not None:
        cell, cols = pixels + 2, (image.width - 2) // (pixels + 2)
        draw = ImageDraw.Draw(image)
        for i, text in enumerate(labels):
            r, c = divmod(i, cols)
            draw.text((4 + c * cell, 2 + r * cell), str(text), fill=(40, 40, 40))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def save_npy(path, voxels):
    """Writes one grid as float32 ``(D, D, D)`` occupancy ``.npy``; returns the path."""
    grid = check_voxels(voxels)
    if len(grid) != 1:
        raise ValueError(f"save_npy writes one grid; received a batch of {len(grid)}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, grid[0, ..., 0])
    return path


def mesh(voxels, level=THRESHOLD):
    """``(vertices (V, 3) float32, faces (F, 3) int)`` of one grid by marching cubes.

    The grid is padded by one empty voxel on every side so objects touching the border
    still give closed surfaces. Raises a ``ValueError`` for an empty (or full) grid.
    """
    from skimage.measure import marching_cubes

    grid = check_voxels(voxels)
    if len(grid) != 1:
        raise ValueError(f"mesh takes one grid; received a batch of {len(grid)}.")
    padded = np.pad(grid[0, ..., 0], 1)
    if not padded.min() < level < padded.max():
        raise ValueError(f"The grid has no voxel above occupancy {level}: there is no "
                         "surface to write.")
    vertices, faces, _, _ = marching_cubes(padded, level=level)
    return (vertices - 1.0).astype("float32"), faces


def write_obj(path, voxels, level=THRESHOLD):
    """Writes one grid's marching-cubes surface as Wavefront ``.obj``; returns the path."""
    vertices, faces = mesh(voxels, level)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# kgan voxel mesh (marching cubes at occupancy {level:.2f}), units: voxels, y up"]
    lines += [f"v {x:.3f} {y:.3f} {z:.3f}" for x, y, z in vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]  # .obj indices start at 1
    path.write_text("\n".join(lines) + "\n")
    return path
