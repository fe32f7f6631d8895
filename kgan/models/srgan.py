"""SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", arXiv:1609.04802).

The generator (SRResNet) maps a low-resolution image to one ``scale`` times larger: a 9x9
conv with PReLU, ``blocks`` residual blocks (conv-BN-PReLU-conv-BN plus skip), a conv-BN with
a long skip over all blocks, then one sub-pixel upsampling stage per factor 2 (a conv to 4x
the channels rearranged by ``keras.ops.depth_to_space``, then PReLU) and a 9x9 conv with tanh.
The discriminator is the paper's VGG-style stack of 3x3 convs (stride 2 every other one,
BatchNorm, LeakyReLU 0.2) ending in a dense layer and a logit.

Training has two stages, both plain ``fit()`` on ``(low_res, high_res)`` batches, selected by
``compile(stage=...)``:

* ``"pretrain"``: SRResNet alone on the pixel MSE (the paper initialises the GAN with it, so
  the adversarial game starts from sensible images);
* ``"gan"``: the perceptual loss ``content + adversarial_weight * adversarial`` for G (the
  content loss is the MSE between features of a frozen network on SR and HR images, the
  adversarial one the non-saturating ``-log D(G(lr))`` with weight 1e-3) and the usual
  cross-entropy for D.

The paper's content network is VGG19 (ImageNet weights), which cannot be downloaded on
machines without a network and sees 28x28 grey images as tiny blurry RGB. So the default
content network is the project's own Fashion-MNIST classifier (``kgan.classifier``,
``content="classifier_fashion_mnist"``), frozen, read at ``block3_relu1``: the ReLU output of
its last conv before the final max-pooling (7x7x128), the analogue of the paper's "VGG54"
(VGG19's last conv before its last pooling). It takes images in [-1, 1], the generator's
range, so no rescaling is needed. ``content="vgg19"`` uses VGG19 when the user has its
weights (``vgg19_weights=path``): grey images are repeated to 3 channels, upsized to at least
32x32 (VGG19's minimum), mapped to [0, 255] and through VGG's caffe preprocessing, and the
``block5_conv4`` features are scaled by 1/12.75 as in the paper. ``content="mse"`` is the
pixel MSE (SRResNet's loss).
"""

import warnings

import keras
from keras import layers, ops

from kgan.gan import GAN
from kgan.trainers.base import _static_rank

try:
    import tensorflow as tf
except ImportError:  # JAX without TensorFlow: fit takes arrays and Python iterables
    tf = None

from kgan._validation import check_images
from kgan.models._common import SYNC_BN, register_translator_entry
from kgan.translation import ImageTranslator

STAGES = ("pretrain", "gan")
#: Content networks ``compile(content=...)`` accepts, and the layer each one reads by default.
CONTENT_LAYERS = {
    "classifier_fashion_mnist": "block3_relu1",
    "classifier_mnist": "block3_relu1",
    "vgg19": "block5_conv4",
    "mse": None,
}
#: VGG19's feature scale in the paper (1/12.75 brings the losses to the MSE's order).
VGG_FEATURE_SCALE = 1.0 / 12.75
VGG_MIN_SIZE = 32


# ---------------------------------------------------------------------------- generator
@keras.saving.register_keras_serializable(package="kgan")
class PixelShuffle(layers.Layer):
    """Sub-pixel upsampling (Shi et al. 2016): ``keras.ops.depth_to_space`` by ``block``,
    ``(H, W, block**2 * C)`` -> ``(block*H, block*W, C)``."""

    def __init__(self, block=2, **kwargs):
        super().__init__(**kwargs)
        self.block = int(block)

    def call(self, x):
        return keras.ops.depth_to_space(x, self.block)

    def compute_output_shape(self, shape):
        h, w = (None if d is None else d * self.block for d in shape[1:3])
        return (shape[0], h, w, shape[3] // self.block ** 2)

    def get_config(self):
        return {**super().get_config(), "block": self.block}


def _residual_block(x, width, name):
    y = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(synchronized=SYNC_BN, name=f"{name}_bn1")(y)
    y = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    y = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(synchronized=SYNC_BN, name=f"{name}_bn2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def _check_scale(scale):
    if scale not in (2, 4, 8):
        raise ValueError(f"scale must be 2, 4 or 8 (sub-pixel x2 stages); received {scale!r}.")


def srresnet_generator(source_shape, scale=4, width=64, blocks=16, name="generator"):
    """SRResNet: ``(H, W, C)`` in [-1, 1] -> ``(scale*H, scale*W, C)`` in [-1, 1].

    Args:
        source_shape: ``(H, W, C)`` of the low-resolution input.
        scale: upscaling factor (2, 4 or 8: one sub-pixel x2 stage per factor 2).
        width: filters of every conv (64 in the paper).
        blocks: residual blocks (16 in the paper).
    """
    _check_scale(scale)
    source = keras.Input(tuple(source_shape), name="source")
    x = layers.Conv2D(width, 9, padding="same", name="head_conv")(source)
    head = x = layers.PReLU(shared_axes=[1, 2], name="head_prelu")(x)
    for b in range(blocks):
        x = _residual_block(x, width, f"res{b + 1}")
    x = layers.Conv2D(width, 3, padding="same", name="body_conv")(x)
    x = layers.BatchNormalization(synchronized=SYNC_BN, name="body_bn")(x)
    x = layers.Add(name="body_skip")([head, x])
    for s in range(scale.bit_length() - 1):
        x = layers.Conv2D(4 * width, 3, padding="same", name=f"up{s + 1}_conv")(x)
        x = PixelShuffle(2, name=f"up{s + 1}_shuffle")(x)
        x = layers.PReLU(shared_axes=[1, 2], name=f"up{s + 1}_prelu")(x)
    x = layers.Conv2D(source_shape[-1], 9, padding="same", name="tail_conv")(x)
    out = layers.Activation("tanh", dtype="float32", name="image")(x)
    return keras.Model(source, out, name=name)


# ---------------------------------------------------------------------------- discriminator
def vgg_discriminator(image_shape, width=64, depth=4, dense_units=1024, name="discriminator"):
    """The paper's D: ``depth`` pairs of 3x3 convs (``width * 2**i`` filters; the second of
    each pair has stride 2), BatchNorm (not after the first conv), LeakyReLU(0.2), then
    ``Dense(dense_units)`` -> LeakyReLU -> ``Dense(1)`` logits."""
    image = keras.Input(tuple(image_shape), name="image")
    x = image
    for i in range(depth):
        filters = width * 2 ** i
        for stride in (1, 2):
            first = i == 0 and stride == 1
            x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=first,
                              name=f"d{i + 1}_conv_s{stride}")(x)
            if not first:
                x = layers.BatchNormalization(synchronized=SYNC_BN,
                                              name=f"d{i + 1}_bn_s{stride}")(x)
            x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units)(x)
    x = layers.LeakyReLU(0.2)(x)
    logits = layers.Dense(1)(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(image, logits, name=name)


# ---------------------------------------------------------------------------- content networks
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
    from kgan import classifier

    cfg = classifier.classifier_cfg(dataset)
    if tuple(image_shape) != tuple(cfg.image_shape):
        raise ValueError(
            f"The {dataset} classifier reads {cfg.image_shape} images but this SRGAN makes "
            f"{tuple(image_shape)}; use content='vgg19' (with its weights) or 'mse'.")
    model = classifier.load_classifier(dataset)
    try:
        output = model.get_layer(layer).output
    except ValueError as err:
        names = ", ".join(x.name for x in model.layers)
        raise ValueError(f"The {dataset} classifier has no layer {layer!r}; its layers: "
                         f"{names}.") from err
    return keras.Model(model.inputs, output, name=f"content_{dataset}")


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


# ---------------------------------------------------------------------------- the model
@keras.saving.register_keras_serializable(package="kgan")
class SRGAN(ImageTranslator, GAN):
    """Super-resolution GAN: ``translate(low_res)`` returns images ``scale`` times larger.

    Batches are ``(low_res, high_res)`` (an extra labels element is ignored), float32 in
    [-1, 1], e.g. ``kgan.data.load("fashion_x4")``.

    Example:
        >>> model = kgan.zoo.load("srgan_fashion_x4")            # trained, compiled ("gan")
        >>> sr = model.translate(low_res)                         # (N, 7, 7, 1) -> (N, 28, 28, 1)
        >>> fresh = kgan.zoo.load("srgan_fashion_x4", pretrained=False, compile=False)
        >>> fresh.compile(stage="pretrain")                       # SRResNet on the pixel MSE
        >>> fresh.fit(kgan.data.load("fashion_x4"), epochs=1)
        >>> fresh.compile(stage="gan")                            # then the GAN stage
        >>> fresh.fit(kgan.data.load("fashion_x4"), epochs=1)

    Reference: Ledig et al. 2017, arXiv:1609.04802.
    """

    directions = (None,)
    compile_defaults = dict(GAN.compile_defaults, learning_rate=1e-4)
    compile_config_attributes = ("stage", "content", "content_layer", "vgg19_weights",
                                 "adversarial_weight")
    #: Trackers reported in each stage.
    STAGE_METRICS = {
        "pretrain": ("mse", "psnr"),
        "gan": ("d_loss", "g_loss", "content_loss", "adversarial_loss", "mse", "psnr",
                "d_real_acc", "d_fake_acc"),
    }

    def __init__(self, generator, discriminator, seed=0, **kwargs):
        kwargs.pop("latent_dim", None)
        kwargs.pop("num_classes", None)
        super().__init__(generator, discriminator, latent_dim=0, num_classes=0, seed=seed,
                         **kwargs)
        for name in ("content_loss", "adversarial_loss", "mse", "psnr"):
            self._trackers[name] = keras.metrics.Mean(name=name)
        self._active_metric_names = self.STAGE_METRICS["gan"]
        self._content_net = _Frozen(None)

    @classmethod
    def build(cls, image_shape, scale=4, width=64, blocks=16, d_width=64, d_depth=4,
              d_dense=1024, seed=0, name=None):
        """SRGAN making ``image_shape`` ``(H, W, C)`` images from ``(H/scale, W/scale, C)``."""
        _check_scale(scale)
        h, w, c = image_shape
        if h % scale or w % scale:
            raise ValueError(f"image_shape {tuple(image_shape)} is not divisible by scale "
                             f"{scale}.")
        return cls(
            srresnet_generator((h // scale, w // scale, c), scale, width, blocks),
            vgg_discriminator(image_shape, d_width, d_depth, d_dense),
            seed=seed, name=name or "srgan")

    def get_config(self):
        return {key: value for key, value in super().get_config().items()
                if key not in ("latent_dim", "num_classes")}

    # ------------------------------------------------------------------ compile
    def compile(self, stage="gan", content="classifier_fashion_mnist", content_layer=None,
                vgg19_weights=None, adversarial_weight=1e-3, learning_rate=None, **kwargs):
        """Chooses the training stage and the losses; other arguments go to ``GAN.compile``
        (``d_optimizer``, ``g_optimizer``, ``learning_rate`` defaults: Adam(1e-4, 0.9)).

        Args:
            stage: ``"pretrain"`` (SRResNet on the pixel MSE; D untouched) or ``"gan"``.
            content: content network of the GAN stage, a key of :data:`CONTENT_LAYERS`.
            content_layer: its feature layer (default: the one in :data:`CONTENT_LAYERS`).
            vgg19_weights: weights for ``content="vgg19"`` (see :func:`content_network`).
            adversarial_weight: weight of the adversarial term in G's loss (1e-3).
            learning_rate: of the default Adam optimizers (1e-4, beta_1 0.9, as the paper).
            **kwargs: ``GAN.compile``'s ``d_optimizer``, ``g_optimizer``, ``loss`` (of the
                adversarial game, non-saturating by default), ``ema_decay`` and Keras'
                compile arguments.
        """
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; received {stage!r}.")
        if adversarial_weight < 0:
            raise ValueError(f"adversarial_weight must be >= 0; received {adversarial_weight!r}.")
        for key, plain in (("d_steps", 1), ("gp_weight", 0), ("r1_weight", 0),
                           ("update", "alternating")):
            if kwargs.get(key, plain) not in (None, plain):
                raise ValueError(
                    f"SRGAN trains with {key}={plain!r} (one D update, then one G update, "
                    f"no penalty, as in the paper); received {key}={kwargs[key]!r}.")
        # Fails early on a bad content choice, before any optimizer exists.
        net = content_network(content, self.image_shape, content_layer, vgg19_weights) \
            if stage == "gan" else None
        kwargs.setdefault("loss", "non_saturating")
        lr = self.compile_defaults["learning_rate"] if learning_rate is None else learning_rate
        ema = kwargs.get("ema_decay") or 0.0
        kwargs["d_optimizer"] = kwargs.get("d_optimizer") or keras.optimizers.Adam(lr, beta_1=0.9)
        kwargs["g_optimizer"] = kwargs.get("g_optimizer") or keras.optimizers.Adam(
            lr, beta_1=0.9, use_ema=ema > 0, ema_momentum=ema or 0.99)
        super().compile(**kwargs)
        self.stage = stage
        self.content = content
        self.content_layer = content_layer
        self.vgg19_weights = vgg19_weights
        self.adversarial_weight = float(adversarial_weight)
        self._content_net = _Frozen(net)
        self._active_metric_names = self.STAGE_METRICS[stage]

    # ------------------------------------------------------------------ inference
    def filter_model(self, direction=None):
        """The generator: ``(N, H/scale, W/scale, C)`` -> ``(N, H, W, C)``, both in [-1, 1]."""
        self.check_direction(direction)
        return self.generator

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(self, *args, **kwargs):
        raise ValueError(
            f"{self.name} super-resolves images rather than sampling latents: call "
            "model.translate(low_res_images) with images of shape "
            f"(N, {', '.join(map(str, self.source_shape()))}) in [-1, 1].")

    # ------------------------------------------------------------------ training
    def _check_first_batch(self, x, y):
        if tf is not None and isinstance(x, tf.data.Dataset):
            element = next(iter(x.take(1)), None)
            if element is None:
                raise ValueError("The training dataset is empty: it yielded no batch.")
            x, y = self._split_pair(element)
        elif x is None or y is None:
            raise ValueError(
                "SRGAN trains on (low_res, high_res) pairs: pass a dataset of such pairs "
                "(kgan.data.load('fashion_x4')) or fit(low_res, high_res).")
        check_images(x, self.source_shape())
        check_images(y, self.image_shape)

    def _split_pair(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "SRGAN batches must be (low_res, high_res[, labels]) tuples, as "
                "kgan.data.load('fashion_x4') yields; received a single tensor.")
        return data[0], data[1]

    def _gan_step(self, data):
        """One step: in the ``"gan"`` stage D's update on the one generator pass G(source),
        then G on content + ``adversarial_weight`` * adversarial; in ``"pretrain"`` G on
        the MSE alone."""
        source, target = self._split_pair(data)
        if _static_rank(source) is not None:
            check_images(source, self.source_shape(), static=True)
            check_images(target, self.image_shape, static=True)
        source = ops.cast(source, "float32")  # G casts to its compute dtype
        target = ops.cast(target, "float32")
        _, num_replicas = self._replica_info()
        variables = self.generator.trainable_variables

        def loss_fn():
            # One generator pass serves both players: D's update takes it as data.
            fake = ops.cast(self.generator(source, training=True), "float32")
            mse = ops.mean(ops.square(fake - target))
            content = adversarial = None
            if self.stage == "pretrain":
                g_loss = mse
            else:
                self._discriminator_update(target, ops.stop_gradient(fake), num_replicas)
                content = self._content_loss(fake, target, mse)
                adversarial = self.generator_loss_fn(self._d(fake, ()))
                g_loss = content + self.adversarial_weight * adversarial
            scaled = self.g_optimizer.scale_loss(g_loss / num_replicas)
            return (scaled,), (mse, g_loss, content, adversarial)

        _, aux, (grads,) = self._value_and_grads(loss_fn, [variables])
        mse, g_loss, content, adversarial = aux
        self._apply(self.g_optimizer, grads, variables)
        self._trackers["mse"].update_state(mse)
        # PSNR of [-1, 1] images: peak-to-peak 2, so 10 log10(4 / MSE).
        self._trackers["psnr"].update_state(
            10.0 * ops.log(4.0 / ops.maximum(mse, 1e-10)) / ops.log(10.0))
        if self.stage == "gan":
            self._trackers["g_loss"].update_state(g_loss)
            self._trackers["content_loss"].update_state(content)
            self._trackers["adversarial_loss"].update_state(adversarial)
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_update(self, target, fake, num_replicas):
        variables = self.discriminator.trainable_variables

        def loss_fn():
            real_logits = self._d(target, ())
            fake_logits = self._d(fake, ())
            d_loss = self.discriminator_loss_fn(real_logits, fake_logits)
            return ((self.d_optimizer.scale_loss(d_loss / num_replicas),),
                    (d_loss, real_logits, fake_logits))

        _, (d_loss, real_logits, fake_logits), (grads,) = self._value_and_grads(
            loss_fn, [variables])
        self._apply(self.d_optimizer, grads, variables)
        self._trackers["d_loss"].update_state(d_loss)
        self._trackers["d_real_acc"].update_state(
            ops.mean(ops.cast(real_logits > 0, "float32")))
        self._trackers["d_fake_acc"].update_state(
            ops.mean(ops.cast(fake_logits <= 0, "float32")))

    def _content_loss(self, fake, target, mse):
        net = self._content_net.model
        if net is None:
            return mse
        both = ops.cast(net(ops.concatenate([fake, target], 0), training=False), "float32")
        fake_features, real_features = ops.split(both, 2, axis=0)
        return ops.mean(ops.square(fake_features - ops.stop_gradient(real_features)))


class _Frozen:
    """Holds the content network outside Keras' tracking, so its (frozen, possibly 80 MB)
    weights are neither saved with the SRGAN nor counted as its weights."""

    def __init__(self, model):
        self.model = model


# ---------------------------------------------------------------------------- train / measure
def train_stages(name, out_dir, pretrain_epochs=None, epochs=None, steps_per_epoch=None,
                 data_dir=None, verbose=2):
    """Trains zoo entry ``name`` in its two stages with plain ``fit``, resumably.

    Stage 1 (``compile(stage="pretrain")``) writes ``out_dir/pretrain.weights.h5`` when
    done; stage 2 starts from it with the recipe's ``compile``. Each stage keeps a
    ``keras.callbacks.BackupAndRestore`` folder, so a killed run restarted with the same
    arguments resumes where it stopped (a finished stage 1 is skipped), and appends to
    ``<stage>_history.csv``; ``samples/`` gets an ``input | bicubic | output | target``
    grid per epoch.

    Returns ``(model, wall_seconds)``, the wall time summed over resumed runs.
    """
    import json
    import time
    from pathlib import Path

    from kgan import data, zoo
    from kgan.zoo import _weights

    cfg = zoo.info(name)
    recipe = cfg.recipe
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    preview = sample_triplets(cfg.dataset, split="test", data_dir=data_dir)
    pretrained = out / "pretrain.weights.h5"
    start = time.time()
    stages = [("pretrain", recipe["pretrain"], pretrain_epochs),
              ("gan", recipe, epochs)]
    for stage, spec, stage_epochs in stages:
        if stage == "pretrain" and pretrained.exists():
            continue
        keras.utils.set_random_seed(recipe["seed"])
        model = zoo.load(name, pretrained=False, compile=False)
        model.compile(**spec["compile"])
        if stage == "gan":
            _weights.load_into(model, pretrained)
        callbacks = [
            keras.callbacks.BackupAndRestore(str(out / f"{stage}_backup"),
                                             delete_checkpoint=False),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.CSVLogger(str(out / f"{stage}_history.csv"), append=True),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs, m=model, s=stage:
                                           save_triplets(m, *preview, out / "samples" /
                                                         f"{s}_{epoch + 1:03d}.png")),
        ]
        steps = steps_per_epoch or spec.get("steps_per_epoch")
        # Epochs shorter than the data: one endless shuffled stream, so each epoch goes on
        # where the last stopped.
        dataset = data.load(cfg.dataset, "train", recipe["batch_size"], data_dir,
                            seed=recipe["seed"], repeat=bool(steps))
        model.fit(dataset, epochs=stage_epochs or spec["epochs"], steps_per_epoch=steps,
                  callbacks=callbacks, verbose=verbose)
        if stage == "pretrain":
            _weights.save_atomically(model, pretrained)
    wall_file = out / "wall_seconds.json"
    wall = time.time() - start + (json.loads(wall_file.read_text())["total"]
                                  if wall_file.exists() else 0.0)
    wall_file.write_text(json.dumps({"total": wall}))
    return model, wall


def sample_triplets(dataset="fashion_x4", split="test", per_class=1, data_dir=None):
    """``(low_res, high_res)`` float32 in [-1, 1]: the first ``per_class`` images of each
    class of ``split``, in class order (fixed inputs for sample grids)."""
    import numpy as np

    from kgan.datasets import module

    (low, high), labels = module(dataset).load_arrays(split, data_dir)
    pick = np.concatenate([np.flatnonzero(labels == k)[:per_class]
                           for k in range(labels.max() + 1)])
    return tuple(x[pick].astype("float32") / 127.5 - 1.0 for x in (low, high))


def save_triplets(model, low_res, high_res, path):
    """Writes a grid, one row per image: ``input (nearest) | bicubic | SR output | target``."""
    import numpy as np

    from kgan.datasets.fashion_x4 import bicubic
    from kgan.images import save_grid

    size = high_res.shape[1:3]
    nearest = np.repeat(np.repeat(low_res, size[0] // low_res.shape[1], 1),
                        size[1] // low_res.shape[2], 2)
    columns = [nearest, bicubic(low_res, size), model.translate(low_res), high_res]
    return save_grid(path, np.stack(columns, 1).reshape(-1, *high_res.shape[1:]),
                     rows=len(low_res), scale=3)


def evaluate(model, dataset="fashion_x4", split="test", data_dir=None, classifier="fashion_mnist"):
    """Super-resolution quality on a whole split, next to the bicubic baseline.

    Returns a dict with, for ``"srgan"`` (the model), ``"bicubic"`` and ``"high_res"`` (the
    targets themselves, the ceiling), the mean PSNR and SSIM against the targets (images in
    [0, 1], ``tf.image.psnr`` / ``tf.image.ssim`` with their defaults: 11x11 Gaussian
    window, sigma 1.5) and the accuracy of the project's ``classifier`` on them.
    """
    import numpy as np

    from kgan import classifier as kgan_classifier
    from kgan.datasets import module

    data_module = module(dataset)
    (low, high), labels = data_module.load_arrays(split, data_dir)
    low = low.astype("float32") / 127.5 - 1.0
    high = high.astype("float32") / 127.5 - 1.0
    judge = kgan_classifier.load_classifier(classifier)
    candidates = {"srgan": model.translate(low), "bicubic": data_module.bicubic(low),
                  "high_res": high}
    target = tf.constant((high + 1.0) / 2.0)
    report = {}
    for key, images in candidates.items():
        unit = tf.constant((images + 1.0) / 2.0)
        psnr = tf.image.psnr(unit, target, max_val=1.0).numpy()
        predicted = kgan_classifier.predict(judge, images).argmax(axis=1)
        report[key] = dict(
            psnr=None if key == "high_res" else round(float(np.mean(psnr)), 3),
            ssim=round(float(np.mean(tf.image.ssim(unit, target, max_val=1.0).numpy())), 4),
            classifier_accuracy=round(float(np.mean(predicted == labels)), 4))
    report["images"] = len(low)
    report["split"] = split
    report["classifier"] = f"classifier_{classifier}"
    return report


def publish(model, name, run_dir, wall_seconds):
    """Writes ``zoo/<name>/``: the weights (G and D, no optimizer state), ``samples.png``
    (``input | bicubic | output | target``, one test image per class) and ``card.json`` with
    :func:`evaluate`'s test-split figures for the SRGAN, for its SRResNet stage
    (``run_dir/pretrain.weights.h5``) and for bicubic upsampling. Returns the card."""
    from pathlib import Path

    from kgan import zoo
    from kgan.zoo import _weights
    from kgan.zoo import publish as zoo_publish

    cfg = zoo.info(name)
    figures = evaluate(model, cfg.dataset)
    srresnet = zoo.load(name, pretrained=False, compile=False)
    _weights.load_into(srresnet, Path(run_dir) / "pretrain.weights.h5")
    figures["srresnet"] = evaluate(srresnet, cfg.dataset)["srgan"]
    training = {"wall_seconds": round(wall_seconds, 1),
                "steps": {stage: _steps(name, run_dir, stage) for stage in ("pretrain", "gan")},
                "hardware": zoo_publish.hardware(), "keras_backend": "tensorflow"}
    extra = {
        "source_shape": list(model.source_shape()),
        "params": {"generator": int(model.generator.count_params()),
                   "discriminator": int(model.discriminator.count_params())},
        "samples": "samples.png (rows: one test image per class; columns: 7x7 input shown "
                   "nearest, bicubic, SRGAN output, 28x28 target)",
        "metrics_note": "Test split (10,000 pairs). PSNR/SSIM on [0, 1] images against the "
                        "28x28 targets (tf.image.psnr / tf.image.ssim). classifier_accuracy: "
                        "kgan's Fashion-MNIST classifier on the images; the GAN stage's "
                        "content loss reads the same classifier's features, so its accuracy "
                        "on SRGAN outputs is not an independent judge.",
        "reproduce": f"python tools/train_srgan.py {name}",
    }
    return zoo_publish.publish(
        model, name, training, metrics=figures, extra=extra,
        samples=lambda m, path: save_triplets(m, *sample_triplets(cfg.dataset, "test"), path))


def _steps(name, run_dir, stage):
    """Updates made in ``stage`` at the recipe's steps per epoch: epochs logged in its
    history times the steps of one epoch."""
    from pathlib import Path

    from kgan import data, zoo

    cfg = zoo.info(name)
    spec = cfg.recipe["pretrain"] if stage == "pretrain" else cfg.recipe
    epochs = len(Path(run_dir, f"{stage}_history.csv").read_text().strip().splitlines()) - 1
    per_epoch = spec.get("steps_per_epoch") or (
        len(data.load_arrays(cfg.dataset, "train")[1]) // cfg.recipe["batch_size"])
    return epochs * per_epoch


# ---------------------------------------------------------------------------- zoo
PAPER = "Ledig et al. 2017, arXiv:1609.04802"


def _register(name, dataset, image_shape, model_kwargs, recipe, **weights):
    register_translator_entry(SRGAN, "srgan", PAPER, name, dataset, image_shape, model_kwargs,
                              recipe, **weights)


_RECIPE = dict(
    batch_size=32, seed=0,
    # Stage 1: SRResNet on the pixel MSE; stage 2: the GAN from stage 1's weights. Short
    # "epochs" (steps_per_epoch) sized for two shared CPU cores.
    pretrain=dict(epochs=6, steps_per_epoch=500,
                  compile=dict(stage="pretrain", learning_rate=1e-3)),
    epochs=5, steps_per_epoch=400,
    compile=dict(stage="gan", content="classifier_fashion_mnist", adversarial_weight=1e-3,
                 learning_rate=1e-4),
)

_register("srgan_fashion_x4", "fashion_x4", (28, 28, 1),
          dict(scale=4, width=32, blocks=6, d_width=16, d_depth=3, d_dense=128), _RECIPE,
          weights="srgan_fashion_x4.weights.h5",
          sha256="6982c973550edcfb3b824ef6ba0815dbdea2831da805735f6ebf6f5c1ee04230")
_register("test_srgan", "fashion_x4", (28, 28, 1),
          dict(scale=4, width=4, blocks=1, d_width=4, d_depth=2, d_dense=8),
          dict(_RECIPE, epochs=1, steps_per_epoch=2,
               pretrain=dict(_RECIPE["pretrain"], epochs=1, steps_per_epoch=2)))
