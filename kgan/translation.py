"""``kgan.TranslationGAN``: the kind of GAN that maps images to images (pix2pix, CycleGAN,
SRGAN), and the helpers its tools share.

An image-to-image GAN is deployed as a *filter*: image in, image out. It has no latents:
``translate(images, direction=None)`` takes the place of ``generate``. A family subclasses
:class:`TranslationGAN` and sets:

* ``directions``: the names ``translate`` accepts (``(None,)`` for one-way families,
  ``("a2b", "b2a")`` for CycleGAN); the first one is the default;
* ``filter_model(direction)`` when it has more than one: the ``keras.Model`` that maps a
  batch of source images in [-1, 1] to output images in [-1, 1] (the generator otherwise);
* ``batch_format``: what a training batch holds, named in errors; and its own
  ``_gan_step``, since each family plays its own game (L1 + adversarial, cycles, content
  losses).

``translate`` checks the images (shape, channels, range) against the filter's input with a
``ValueError`` naming what was expected, runs the filter in batches and returns float32
images in [-1, 1]; export writes the same filter as an image-in, image-out signature.
``fit`` checks its first batch once for every family: ``(source, target)`` pairs (a third
element, labels, is ignored), or unpaired ``(a, b)`` batches for CycleGAN.
"""

import keras
import numpy as np
from keras import ops

from kgan.gan import GAN
from kgan.trainers.base import static_rank
from kgan.validation import check_images


class TranslationGAN(GAN):
    """A GAN whose generator maps source images to target images; ``translate`` runs it.

    Args:
        generator: ``keras.Model`` mapping source images ``(B, H, W, C)`` in [-1, 1] to
            outputs in [-1, 1] (possibly of another size or channel count).
        discriminator: ``keras.Model`` judging outputs (with their sources, for pix2pix).
        seed: seed of the training step's RNG.

    Training batches are pairs ``(source, target)`` (``(a, b)`` for CycleGAN's unpaired
    domains), or dicts with ``"source"`` and ``"target"``; ``fit(x=sources, y=targets)``
    takes arrays.

    Example:
        >>> model = kgan.zoo.load("pix2pix_edges2fashion")
        >>> isinstance(model, kgan.TranslationGAN), model.latent_dim
        (True, 0)
        >>> garments = model.translate(edges)                 # (N, 32, 32, 1) in [-1, 1]
    """

    directions = (None,)
    #: What a training batch holds and where to get one, for ``fit``'s errors.
    batch_format = ("(source, target) pairs (a third element, labels, is ignored): a paired "
                    "data set of kgan.data.load, or fit(x=sources, y=targets)")

    def filter_model(self, direction=None):
        """The ``keras.Model`` mapping source images to outputs in ``direction``: the
        generator (families with several directions choose between their generators)."""
        self.check_direction(direction)
        return self.generator

    def check_direction(self, direction):
        """Returns ``direction`` (the default when None) or raises a ``ValueError``."""
        if direction is None:
            return self.directions[0]
        if direction not in self.directions:
            choices = ", ".join(repr(d) for d in self.directions)
            raise ValueError(
                f"Unknown direction {direction!r} for {self.name}; expected one of {choices}.")
        return direction

    def source_shape(self, direction=None):
        """``(H, W, C)`` of the images ``translate(..., direction)`` takes."""
        return tuple(self.filter_model(self.check_direction(direction)).input_shape[1:])

    def translate(self, images, direction=None, batch_size=256):
        """Translates a batch of images.

        Args:
            images: float ``(N, H, W, C)`` in [-1, 1] of the filter's source shape (a single
                image ``(H, W, C)`` is taken as a batch of one).
            direction: one of ``directions`` (None: the default).
            batch_size: images per forward pass.

        Returns:
            ``np.ndarray`` float32 in [-1, 1] of shape ``(N, *output shape)``.
        """
        direction = self.check_direction(direction)
        source = self.source_shape(direction)
        images = np.asarray(images)
        if images.ndim == len(source):
            images = images[None]
        check_images(images, source)
        if len(images) == 0:
            raise ValueError("images is empty: give at least one image to translate.")
        images = images.astype("float32")
        with self.inference_weights():
            network = self.filter_model(direction)
            outputs = [
                keras.ops.convert_to_numpy(network(images[i:i + batch_size], training=False))
                for i in range(0, len(images), batch_size)
            ]
        return np.clip(np.concatenate(outputs).astype("float32"), -1.0, 1.0)

    def sample_sources(self, n, direction=None, split="train", seed=0, dataset=None):
        """``n`` source images for ``direction`` (float32 [-1, 1]) drawn with ``seed`` from
        ``dataset`` (default: the zoo entry's), e.g. to calibrate an int8 export.

        Paired data sets give ``((a, b), labels)``: the first direction reads ``a``, the
        second ``b``.
        """
        from kgan import zoo

        direction = self.check_direction(direction)
        if dataset is None:
            if self.name not in zoo.list_models():
                raise ValueError(
                    f"{self.name} is not a zoo entry, so its data set is unknown: pass "
                    "dataset= (a kgan.data name) or your own source images.")
            dataset = zoo.info(self.name).dataset
        (a, b), _ = paired_arrays(dataset, split, None)
        images = (a, b)[self.directions.index(direction)]
        if not 1 <= int(n) <= len(images):
            raise ValueError(f"n must be in [1, {len(images)}]; received {n!r}.")
        pick = np.random.default_rng(seed).choice(len(images), int(n), replace=False)
        return images[np.sort(pick)].astype("float32") / 127.5 - 1.0

    # ------------------------------------------------------------------ training
    def split_pair(self, data):
        """``(source, target)`` of a batch ``(source, target[, labels])`` or
        ``{"source": ..., "target": ...}``; anything else raises a ``ValueError``."""
        if isinstance(data, dict) and {"source", "target"} <= set(data):
            return data["source"], data["target"]
        if isinstance(data, (tuple, list)) and len(data) in (2, 3):
            return data[0], data[1]
        kind = type(data).__name__ if not hasattr(data, "shape") else f"tensor {data.shape}"
        raise ValueError(f"{type(self).__name__} trains on {self.batch_format}; received a "
                         f"single {kind}.")

    def _prepare_pair(self, data):
        """``(source, target)`` of a training batch as float32 (each network casts to its
        compute dtype), their shapes checked where they are known when the step is traced."""
        source, target = self.split_pair(data)
        for images, shape in ((source, self.source_shape()), (target, self.image_shape)):
            if static_rank(images) is not None:
                check_images(images, shape, static=True)
        return ops.cast(source, "float32"), ops.cast(target, "float32")

    def _check_batch(self, batch):
        """``fit``'s first batch: sources of the filter's input shape and targets of the
        output shape, both in [-1, 1]."""
        source, target = self.split_pair(batch)
        check_images(source, self.source_shape())
        check_images(target, self.image_shape)


def size_multiple(network):
    """What every input side of a fully convolutional ``network`` must be a multiple of: its
    largest downsampling (a depth-5 U-Net: 32; CycleGAN's ResNet generator: 4)."""
    height, width = network.input_shape[1:3]
    factor = 1
    for layer in network.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.output_tensors:
                shape = tuple(tensor.shape)
                if len(shape) == 4 and shape[1] and shape[2] and shape[1] < height:
                    factor = max(factor, round(height / shape[1]), round(width / shape[2]))
    return factor


#: The ``size`` of a filter that takes images of any size (float TFLite files).
DYNAMIC = "dynamic"


def check_size(size, dynamic=False):
    """``(height, width)`` from ``(h, w)``, ``"HxW"`` or one int (with ``dynamic``, also
    :data:`DYNAMIC` itself); else a ``ValueError``."""
    if dynamic and size == DYNAMIC:
        return DYNAMIC
    if isinstance(size, str):
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"size must be HEIGHTxWIDTH such as 512x384"
                             f"{' or dynamic' if dynamic else ''}; received {size!r}.")
        size = tuple(int(p) for p in parts)
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    size = tuple(size) if isinstance(size, (tuple, list)) else None
    if (size is None or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                       for s in size)):
        raise ValueError("size must be (height, width) of positive integers, or "
                         "'HEIGHTxWIDTH'.")
    return tuple(int(s) for s in size)


def resize_filter(network, size):
    """``network`` taking ``(height, width)`` images: itself when that is its own size,
    else a copy built for that input with the current weights (the generators are fully
    convolutional). Sides must be multiples of :func:`size_multiple`; :data:`DYNAMIC`
    gives a copy whose input has no fixed height and width."""
    if size is None:
        return network
    if check_size(size, dynamic=True) == DYNAMIC:
        return _copy_for(network, (None, None, network.input_shape[-1]))
    height, width = check_size(size)
    if (height, width) == tuple(network.input_shape[1:3]):
        return network
    multiple = size_multiple(network)
    if height % multiple or width % multiple:
        raise ValueError(
            f"{network.name} runs at sizes whose sides are multiples of {multiple}; "
            f"received {height}x{width} (e.g. use {height - height % multiple or multiple}x"
            f"{width - width % multiple or multiple}).")
    return _copy_for(network, (height, width, network.input_shape[-1]))


def _copy_for(network, shape):
    copy = keras.models.clone_model(network, input_tensors=keras.Input(shape))
    copy.set_weights(network.get_weights())
    return copy


def paired_preview(dataset, n=8, split="test", data_dir=None):
    """The first ``n`` ``(sources, targets)`` of a paired data set's ``split``, float32 in
    [-1, 1]: fixed inputs for sample grids (``input | output | target``)."""
    (sources, targets), _ = paired_arrays(dataset, split, data_dir)
    return tuple(np.asarray(a[:n], "float32") / 127.5 - 1.0 for a in (sources, targets))


def paired_arrays(dataset, split, data_dir):
    """``((a, b), labels)`` uint8 arrays of a two-domain data set of ``kgan.data.sets``."""
    from kgan.data.sets import DERIVED_DATASETS, module

    arrays = module(dataset).load_arrays(split, data_dir) if dataset in DERIVED_DATASETS else None
    if not (isinstance(arrays, tuple) and isinstance(arrays[0], tuple)):
        raise ValueError(
            f"{dataset!r} is not a two-domain data set ((a, b), labels) of kgan.data.sets; "
            "image-to-image tools need one such as 'edges2fashion'.")
    return arrays


def comparison_images(model, sources, targets, direction=None):
    """``(images, rows)`` for ``kgan.modalities.images.save_grid``: one row per example with the
    source, the model's output and the target side by side (grey sources are repeated to
    the output's channels)."""
    outputs = model.translate(sources, direction)
    channels = outputs.shape[-1]

    def fit(x):
        return np.repeat(x, channels, axis=-1) if x.shape[-1] != channels else x

    triplets = np.stack([fit(sources), outputs, fit(targets)], axis=1)
    return triplets.reshape(-1, *outputs.shape[1:]), len(sources)
