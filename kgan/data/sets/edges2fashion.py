"""``edges2fashion``: Fashion-MNIST garments paired with their edge maps, for pix2pix.

The pix2pix paper's edges2shoes / edges2handbags sets pair photos with edges found by a
detector; this is the same idea at Fashion-MNIST's scale, built on the fly from the local
Fashion-MNIST IDX files (``../shared/data/fashion_mnist``), so nothing is downloaded and
train / test keep Fashion-MNIST's own split (60,000 / 10,000 pairs).

Each pair is built deterministically:

1. the 28x28 garment is zero-padded by 2 pixels to **32x32** (Fashion-MNIST's background is
   already black), so a U-Net can halve the size five times down to 1x1 without odd sizes;
2. the edge map is the **Sobel gradient magnitude** of the padded garment in [0, 1]
   (``scipy.ndimage``'s 3x3 Sobel: derivative [-1, 0, 1] along one axis, smoothing [1, 2, 1]
   along the other, zero outside the image), thresholded at :data:`EDGE_THRESHOLD`: a pixel
   is an edge (255) when the magnitude exceeds 1.0, i.e. a step of about a quarter of the
   grey range; everything else is 0.

So the *source* is white edges on black (a "sketch" of the outline and main seams) and the
*target* is the garment, both ``(32, 32, 1)`` uint8 from :func:`load_arrays` and float32 in
[-1, 1] from :func:`load`. A user's own black-on-white drawing must be inverted first
(``tools/apply_filter.py --invert``).
"""


import numpy as np
from scipy import ndimage

from kgan.data.idx import load_split

#: Edge pixels have a Sobel magnitude (on [0, 1] images) above this.
EDGE_THRESHOLD = 1.0
#: Zero padding on each side: 28 + 2 * 2 = 32.
PAD = 2
IMAGE_SHAPE = (32, 32, 1)
NUM_CLASSES = 10
SPLITS = ("train", "test")
SOURCE = "fashion_mnist"
#: The project classifier that judges generated garments (``kgan.evaluation.classifiers``).
CLASSIFIER_DATASET = SOURCE


def classifier_view(images):
    """Garments ``(N, 32, 32, C)`` cropped back to Fashion-MNIST's 28x28, for its classifier."""
    return images[:, PAD:-PAD, PAD:-PAD]


def edge_map(images):
    """White-on-black Sobel edge maps of uint8 images ``(N, H, W[, 1])``: uint8 0 / 255."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    x = images.astype("float32") / 255.0
    gx = ndimage.correlate1d(ndimage.correlate1d(x, [-1, 0, 1], axis=2, mode="constant"),
                             [1, 2, 1], axis=1, mode="constant")
    gy = ndimage.correlate1d(ndimage.correlate1d(x, [-1, 0, 1], axis=1, mode="constant"),
                             [1, 2, 1], axis=2, mode="constant")
    edges = np.hypot(gx, gy) > EDGE_THRESHOLD
    return (edges * 255).astype("uint8")[..., None]


def load_arrays(split="train", data_dir=None):
    """``((edges, garments) uint8 (N, 32, 32, 1) each, labels int32 (N,))``; TensorFlow-free."""
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for edges2fashion; expected one of {', '.join(SPLITS)}.")
    garments, labels = load_split(SOURCE, split, data_dir)
    garments = np.pad(garments, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    return (edge_map(garments), garments), labels.astype("int32")


def load(split="train", batch_size=128, data_dir=None, labels=False, shuffle=True, seed=None,
         repeat=False):
    """Batches of ``(edges, garments)`` float32 in [-1, 1] (plus int32 ``labels`` when asked:
    ``(edges, garments, labels)``), partial batches dropped."""
    from kgan.data.batches import from_pairs

    (edges, garments), classes = load_arrays(split, data_dir)
    return from_pairs(edges, garments, classes if labels else None, batch_size, shuffle, seed,
                      repeat)
