"""The frozen feature networks of SRGAN's content (perceptual) loss.

The generator's GAN-stage loss compares features of a frozen network on SR and HR images
(Ledig et al. 2017). :func:`content_network` builds it for ``SRGAN.compile(content=...)``:
the project's Fashion-MNIST / MNIST classifier read at ``block3_relu1`` (the default: no
download, and it sees 28x28 grey images as they are), the CIFAR-10 classifier's convolutions
for colour photos of any size (read at ``block3_relu1``: edges and textures of natural
images, 1/4 of the image's side), VGG19 at ``block5_conv4`` scaled by
1/12.75 as in the paper (with the user's weights), or none (``"mse"``: the pixel MSE).
"""

import warnings

import keras
from keras import layers

#: Content networks ``compile(content=...)`` accepts, and the layer each one reads by default.
CONTENT_LAYERS = {
    "classifier_fashion_mnist": "block3_relu1",
    "classifier_mnist": "block3_relu1",
    "classifier_cifar10": "block3_relu1",
    "vgg19": "block5_conv4",
    "mse": None,
}
#: VGG19's feature scale in the paper (1/12.75 brings the losses to the MSE's order).
VGG_FEATURE_SCALE = 1.0 / 12.75
VGG_MIN_SIZE = 32


def content_network(content, image_shape, layer=None, vgg19_weights=None):
    """The frozen ``image -> features`` network of the content loss (None for ``"mse"``).

    Args:
        content: a key of :data:`CONTENT_LAYERS`.
        image_shape: ``(H, W, C)`` of the high-resolution images.
        layer: feature layer name (default: :data:`CONTENT_LAYERS` [content]).
        vgg19_weights: for ``"vgg19"``: a ``.h5`` path of Keras' VGG19 ``include_top=False``
            weights, ``"imagenet"`` (Keras downloads them: needs a network), or None for
            random weights (shape checks only: the loss then means nothing).
    """
    if content not in CONTENT_LAYERS:
        raise ValueError(
            f"Unknown content network {content!r}; expected one of "
            f"{', '.join(CONTENT_LAYERS)}.")
    if content == "mse":
        return None
    layer = layer or CONTENT_LAYERS[content]
    if content == "vgg19":
        network = _vgg19_features(image_shape, layer, vgg19_weights)
    else:
        network = _classifier_features(content.removeprefix("classifier_"), image_shape, layer)
    network.trainable = False
    return network


def _classifier_features(dataset, image_shape, layer):
    from kgan.evaluation import classifiers

    cfg = classifiers.classifier_cfg(dataset)
    if image_shape[-1] != cfg.image_shape[-1]:
        raise ValueError(
            f"The {dataset} classifier reads {cfg.image_shape[-1]}-channel images but this "
            f"SRGAN makes {tuple(image_shape)}; use content='vgg19' (with its weights) or "
            "'mse'.")
    model = classifiers.load_classifier(dataset)
    names = [x.name for x in model.layers]
    if layer not in names:
        raise ValueError(f"The {dataset} classifier has no layer {layer!r}; its layers: "
                         f"{', '.join(names)}.")
    if tuple(image_shape) == tuple(cfg.image_shape):
        return keras.Model(model.inputs, model.get_layer(layer).output,
                           name=f"content_{dataset}")
    # Another size: the classifier's layers (a chain) up to ``layer`` on an input of that
    # size, sharing their weights; fine for its convolutions, not past its Flatten.
    image = keras.Input(tuple(image_shape), name="image")
    x = image
    for network_layer in model.layers[1:names.index(layer) + 1]:
        if isinstance(network_layer, (layers.Flatten, layers.Dense)):
            raise ValueError(
                f"The {dataset} classifier's layer {layer!r} comes after its "
                f"{network_layer.name!r}, which needs {cfg.image_shape} inputs; this SRGAN "
                f"makes {tuple(image_shape)}: read a convolutional layer.")
        x = network_layer(x)
    return keras.Model(image, x, name=f"content_{dataset}")


def _vgg19_features(image_shape, layer, weights):
    h, w, c = image_shape
    if c not in (1, 3):
        raise ValueError(f"VGG19 content needs 1- or 3-channel images; received {c} channels.")
    if weights is None:
        warnings.warn("content='vgg19' with vgg19_weights=None uses random VGG19 weights: "
                      "fine for shape checks, meaningless as a content loss.", stacklevel=3)
    size = (max(h, VGG_MIN_SIZE), max(w, VGG_MIN_SIZE))
    vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(*size, 3))
    try:
        features = vgg.get_layer(layer).output
    except ValueError as err:
        raise ValueError(f"VGG19 has no layer {layer!r}.") from err
    vgg = keras.Model(vgg.input, features)
    image = keras.Input(tuple(image_shape), name="image")
    x = image
    if c == 1:
        x = layers.Concatenate()([x, x, x])
    if size != (h, w):
        x = layers.Resizing(*size, interpolation="bicubic")(x)
    x = layers.Rescaling(127.5, offset=127.5)(x)  # [-1, 1] -> [0, 255]
    x = layers.Lambda(keras.applications.vgg19.preprocess_input)(x)  # RGB->BGR, minus means
    x = layers.Rescaling(VGG_FEATURE_SCALE)(vgg(x))
    return keras.Model(image, x, name="content_vgg19")
