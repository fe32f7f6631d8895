"""Training a fully convolutional translator on crops of its photos, to run it on whole ones.

A CycleGAN at 256x256 costs ~4x the compute of one step on 128x128 crops of the same photos
(at the photos' own scale, so the textures it learns are the ones it will meet). The model
that trains is built for the crop size (its history pools hold crops); what users load is the
entry's model at its own image size holding the same networks. ``tools/train_cyclegan.py``
applies this to a recipe with ``"crop": N``.
"""

from kgan import precision, zoo

#: The networks of a two-domain translator (CycleGAN); its pools are training state only.
NETWORKS = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")


def crop_shape(cfg):
    """The image shape entry ``cfg`` trains at: its recipe's crop, or None (its own)."""
    crop = cfg.recipe.get("crop")
    return (crop, crop, cfg.image_shape[-1]) if crop else None


def centre_crops(images, size):
    """The ``size x size`` centres of ``(N, H, W, C)`` images (for sample grids during
    training on crops)."""
    top, left = (images.shape[1] - size) // 2, (images.shape[2] - size) // 2
    return images[:, top:top + size, left:left + size]


def at_entry_size(model, name):
    """Entry ``name``'s float32 model, at its own image size, holding ``model``'s networks
    (trained at any size and under any dtype policy; the history pools start empty).
    ``model`` itself when it already is that."""
    if precision.is_float32(model) and tuple(model.image_shape) == zoo.info(name).image_shape:
        return model
    with precision.scope("float32"):
        entry = zoo.create(name)
    for network in NETWORKS:
        getattr(entry, network).set_weights(getattr(model, network).get_weights())
    return entry
