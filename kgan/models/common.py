"""What several families share: registering a family's zoo entries (and its tiny
``test_<family>`` entry) in one call, the data sets' shapes, synchronized BatchNorm and the
instance norm of the image-to-image families."""

import keras

from kgan import layers as kgan_layers
from kgan.zoo.registry import ZooCfg, register_family, register_model

#: BatchNorm statistics over the global batch under tf.distribute, so N replicas train like
#: one device. Keras only implements (and accepts) the flag on TensorFlow; on one device of
#: another backend (JAX) local statistics are the global ones, and the layer's
#: weights do not depend on the flag.
SYNC_BN = keras.backend.backend() == "tensorflow"


def instance_norm(name=None):
    """Instance normalization (per image and channel) as pix2pix's and CycleGAN's networks use
    it: ``GroupNormalization`` with one group per channel (kgan's, which trains through
    TensorFlow's fused kernel)."""
    return kgan_layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


#: Image shape and number of classes of each data set kgan trains on.
DATASETS = {
    "mnist": ((28, 28, 1), 10),
    "fashion_mnist": ((28, 28, 1), 10),
    "spoken_digits": ((16384, 1), 10),
    "spoken_digits_spectrogram": ((128, 128, 1), 10),
    "fashion_mnist_32": ((32, 32, 1), 10),
    "fashion_captions": ((28, 28, 1), 10),
    "shapes3d_32": ((32, 32, 32, 1), 6),
    "fashion_captions_32": ((32, 32, 1), 10),
    "fashion_captions_16": ((16, 16, 1), 10),
    "cifar10": ((32, 32, 3), 10),
    "cifar10_10pct": ((32, 32, 3), 10),
    "facades": ((256, 256, 3), 0),
    "horse2zebra": ((256, 256, 3), 0),
    "photos_x4": ((128, 128, 3), 3),
}

#: The tiny test entries use MNIST's shape (so they fit kgan.data.load("mnist")) with a
#: few filters, so every family trains in seconds.
TEST_IMAGE_SHAPE = (28, 28, 1)


def register_family_entries(cls, family, paper, entries, model_kwargs, test_kwargs, recipe,
                            conditional=False, test_dataset="mnist"):
    """Registers ``entries`` (name -> dataset, epochs, optional weights / sha256 /
    model_kwargs / compile overriding the family's) for ``cls``.

    Every entry builds with ``cls.build(image_shape, **model_kwargs, num_classes=...)``;
    ``test_<family>`` builds the same architecture with ``test_kwargs`` at MNIST's shape,
    or at ``test_dataset``'s (families that do not make 28x28 images, or need power-of-two
    sizes).
    """

    def factory(cfg, **overrides):
        kwargs = {**cfg.model_kwargs, "num_classes": cfg.num_classes, "name": cfg.name}
        kwargs.update(overrides)
        return cls.build(cfg.image_shape, **kwargs)

    for name, spec in entries.items():
        spec = dict(spec)
        image_shape, classes = DATASETS[spec["dataset"]]
        cfg = ZooCfg(
            name=name, family=family, dataset=spec.pop("dataset"), image_shape=image_shape,
            latent_dim=model_kwargs["latent_dim"], num_classes=classes if conditional else 0,
            weights=spec.pop("weights", None), sha256=spec.pop("sha256", None),
            url=spec.pop("url", None),
            model_kwargs={**model_kwargs, **spec.pop("model_kwargs", {})},
            recipe={**recipe, "seed": 0, **spec}, paper=paper,
        )
        register_model(cfg)(factory)
    test_shape = TEST_IMAGE_SHAPE if test_dataset == "mnist" else DATASETS[test_dataset][0]
    test_cfg = ZooCfg(
        name=f"test_{family}", family=family, dataset=test_dataset, image_shape=test_shape,
        latent_dim=test_kwargs["latent_dim"], num_classes=10 if conditional else 0,
        model_kwargs=dict(test_kwargs), recipe={**recipe, "seed": 0, "epochs": 1}, paper=paper,
    )
    register_model(test_cfg)(factory)
    if not conditional:  # a user's folder of images has no labels
        register_family(ZooCfg(
            name=family, family=family, dataset=None, image_shape=None,
            latent_dim=model_kwargs["latent_dim"], model_kwargs=dict(model_kwargs),
            recipe={**recipe, "seed": 0, "epochs": 10}, paper=paper), factory)


def register_entry(cls, family, paper, name, dataset, image_shape, model_kwargs, recipe,
                   weights=None, sha256=None, latent_dim=0, num_classes=0,
                   weights_dtype="float32"):
    """Registers one entry of a family whose entries do not follow
    :func:`register_family_entries` (image-to-image families: no latent space, no classes;
    3D-GAN's voxel grids): it builds with ``cls.build(image_shape, **model_kwargs)``."""
    cfg = ZooCfg(name=name, family=family, dataset=dataset, image_shape=tuple(image_shape),
                 latent_dim=latent_dim, num_classes=num_classes, weights=weights,
                 sha256=sha256, weights_dtype=weights_dtype, model_kwargs=dict(model_kwargs),
                 recipe={"seed": 0, **recipe}, paper=paper)

    @register_model(cfg)
    def factory(cfg, image_shape=None, **overrides):
        # ``image_shape``: the same networks for other images (a fully convolutional
        # translator trained on crops builds at the crop size); weights stay compatible.
        return cls.build(image_shape or cfg.image_shape,
                         **{**cfg.model_kwargs, "name": cfg.name, **overrides})

    return factory
