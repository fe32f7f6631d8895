"""Image-to-image models scored against their data: translations to paired targets
(pix2pix), unpaired domain transfer (CycleGAN) and super-resolution (SRGAN), each next to a
baseline that does no learning (the untranslated source, bicubic upsampling) and the ceiling
of the real targets.

* :func:`paired_scores`: L1 and SSIM to the target and the project classifier's accuracy on
  the outputs, for a paired data set (what ``kgan eval`` reports for image-to-image models);
* :func:`domain_transfer_scores`: how often the classifier calls a translated image the other
  domain's class, and the cycle-reconstruction L1;
* :func:`super_resolution_scores`: PSNR, SSIM and classifier accuracy of the upsampled images.
"""

import numpy as np

from kgan.evaluation import classifiers
from kgan.evaluation.images import check_n


def paired_scores(model, dataset_name, split="test", n=None, direction=None, batch_size=250):
    """Scores an image-to-image model on a paired data set's ``split`` against its targets.

    Returns a dict with, for the model's outputs and for the *identity* baseline (the source
    image handed back unchanged, e.g. the edge map itself):

    * ``l1``: mean absolute error to the target in [-1, 1] units (pix2pix's L1 term);
    * ``ssim``: mean structural similarity (``tf.image.ssim`` on [0, 1] images, 11x11
      Gaussian window, Wang et al. 2004);
    * ``psnr``: mean PSNR in dB on [0, 1] images;
    * ``classifier_accuracy``: when the data set names a project classifier
      (``CLASSIFIER_DATASET``), how often it recognises the target's class in the outputs;
      ``real_accuracy`` is its accuracy on the real targets, the ceiling.

    Data sets whose module sets ``NEAREST_BASELINE`` (facades) also get
    ``nearest_training_target``: the scores of answering each source with the training
    target whose source is nearest to it (pixel L2 at 64x64), a model that only remembers.
    """
    import tensorflow as tf

    from kgan.data.sets import module
    from kgan.translation import paired_arrays

    (sources, targets), labels = paired_arrays(dataset_name, split, None)
    if n is not None:
        check_n(n)
        sources, targets, labels = sources[:n], targets[:n], labels[:n]
    sources, targets = (classifiers.to_signed_unit(a) for a in (sources, targets))
    outputs = model.translate(sources, direction, batch_size=batch_size)

    def scores(images):
        unit, reference = tf.constant((images + 1) / 2), tf.constant((targets + 1) / 2)
        return {"l1": float(np.mean(np.abs(images - targets))),
                "ssim": float(np.mean(tf.image.ssim(unit, reference, max_val=1.0).numpy())),
                "psnr": float(np.mean(tf.image.psnr(unit, reference, max_val=1.0).numpy()))}

    result = {"dataset": dataset_name, "split": split, "n": len(sources),
              **scores(outputs), "identity": scores(sources)}
    data = module(dataset_name)
    if getattr(data, "NEAREST_BASELINE", False):
        (train_sources, train_targets), _ = paired_arrays(dataset_name, "train", None)
        nearest = nearest_rows(sources, classifiers.to_signed_unit(train_sources))
        result["nearest_training_target"] = scores(
            classifiers.to_signed_unit(train_targets[nearest]))
    if getattr(data, "CLASSIFIER_DATASET", None):
        net = classifiers.load_classifier(data.CLASSIFIER_DATASET)

        def accuracy(images):
            view = data.classifier_view(images)
            if view.shape[-1] != net.input_shape[-1]:
                view = np.repeat(view, net.input_shape[-1], axis=-1)
            probs = classifiers.predict(net, view, batch_size)
            return float(np.mean(np.argmax(probs, axis=-1) == labels))

        result["classifier_accuracy"] = accuracy(outputs)
        result["identity"]["classifier_accuracy"] = accuracy(sources)
        result["real_accuracy"] = accuracy(targets)
        result["classifier"] = f"classifier_{data.CLASSIFIER_DATASET}"
    return result


def nearest_rows(queries, references, size=64):
    """For each image of ``queries``, the row of ``references`` nearest to it in pixel L2,
    both compared at ``size`` x ``size`` (area-resized; float images in [-1, 1])."""
    import tensorflow as tf

    def flat(images):
        small = tf.image.resize(images, (size, size), method="area").numpy()
        return small.reshape(len(images), -1)

    q, r = flat(queries), flat(references)
    distances = (q * q).sum(1)[:, None] - 2.0 * q @ r.T + (r * r).sum(1)[None, :]
    return np.argmin(distances, axis=1)


#: Per unpaired data set: the project classifier that judges its translations and that
#: classifier's class index of domain A and of domain B.
DOMAIN_JUDGES = {"sneaker2boot": ("fashion_mnist", (7, 9)), "horse2zebra": ("horse2zebra", (0, 1))}


def domain_transfer_scores(model, a, b, classes=(7, 9), dataset="fashion_mnist",
                           batch_size=500):
    """How well a CycleGAN moves images between two domains, by the project's classifier of
    ``dataset``, and how well its cycles come back.

    Args:
        model: a CycleGAN.
        a, b: float images in [-1, 1] of domains A and B (e.g. the test split).
        classes: the classifier's class index of domain A and of domain B.

    Returns:
        A dict: ``a2b_target_share`` (share of translated A images the classifier calls B's
        class) and ``b2a_target_share``; the identity baseline, the same classifier on the
        untranslated inputs (``a_called_b_untranslated`` / ``b_called_a_untranslated``)
        and the real-data ceiling (``b_called_b`` / ``a_called_a``); the cycle
        reconstruction L1 ``cycle_l1_a`` / ``cycle_l1_b`` (mean absolute error in [-1, 1]
        units) and how far each translation moved its input, ``a2b_l1_to_input`` /
        ``b2a_l1_to_input``.
    """
    net = classifiers.load_classifier(dataset)

    def share(images, label):
        probs = classifiers.predict(net, images, batch_size)
        return round(float(np.mean(np.argmax(probs, -1) == label)), 4)

    def l1(x, y):
        return round(float(np.mean(np.abs(x - y))), 4)

    a2b = model.translate(a, "a2b", batch_size)
    b2a = model.translate(b, "b2a", batch_size)
    return {
        "n_a": len(a), "n_b": len(b),
        "a2b_target_share": share(a2b, classes[1]),
        "b2a_target_share": share(b2a, classes[0]),
        "a_called_b_untranslated": share(a, classes[1]),
        "b_called_a_untranslated": share(b, classes[0]),
        "a_called_a": share(a, classes[0]),
        "b_called_b": share(b, classes[1]),
        "cycle_l1_a": l1(model.translate(a2b, "b2a", batch_size), a),
        "cycle_l1_b": l1(model.translate(b2a, "a2b", batch_size), b),
        "a2b_l1_to_input": l1(a2b, a),
        "b2a_l1_to_input": l1(b2a, b),
    }


#: Per super-resolution data set: the classifier whose accuracy on the outputs is reported
#: (the data set's labels are its classes; None: they are not) and the project classifier
#: whose convolutional features the feature distance compares.
SUPER_RESOLUTION_JUDGES = {"fashion_x4": ("fashion_mnist", "classifier_fashion_mnist"),
                           "photos_x4": (None, "classifier_cifar10")}


def super_resolution_scores(model, dataset="fashion_x4", split="test", data_dir=None,
                            batch_size=64, n=None):
    """Super-resolution quality on a whole split, next to the bicubic baseline.

    Returns a dict with, for ``"srgan"`` (the model), ``"bicubic"`` and ``"high_res"`` (the
    targets themselves, the ceiling), the mean PSNR and SSIM against the targets (images in
    [0, 1], ``tf.image.psnr`` / ``tf.image.ssim`` with their defaults: 11x11 Gaussian
    window, sigma 1.5), ``feature_distance``: the mean squared difference of the feature
    classifier's ``block3_relu1`` maps of output and target (:data:`SUPER_RESOLUTION_JUDGES`;
    the content loss of the zoo's SRGANs reads the same maps), and, where the data set's
    labels are a classifier's classes, that classifier's accuracy on them. ``n``: score
    ``n`` pairs evenly spaced over the split instead of all of them (quick checks).
    """
    import tensorflow as tf

    from kgan.data.sets import module
    from kgan.models.srgan_content import content_network

    if dataset not in SUPER_RESOLUTION_JUDGES:
        raise ValueError(f"No super-resolution judges for {dataset!r}; expected one of "
                         f"{', '.join(SUPER_RESOLUTION_JUDGES)}.")
    label_judge, feature_judge = SUPER_RESOLUTION_JUDGES[dataset]
    data_module = module(dataset)
    (low, high), labels = data_module.load_arrays(split, data_dir)
    if n is not None:
        pick = np.linspace(0, len(labels) - 1, min(check_n(n), len(labels))).astype(int)
        low, high, labels = low[pick], high[pick], labels[pick]
    low = low.astype("float32") / 127.5 - 1.0
    high = high.astype("float32") / 127.5 - 1.0
    features = content_network(feature_judge, high.shape[1:])
    judge = classifiers.load_classifier(label_judge) if label_judge else None
    candidates = {"srgan": model.translate(low, batch_size=batch_size),
                  "bicubic": data_module.bicubic(low), "high_res": high}
    target = tf.constant((high + 1.0) / 2.0)
    target_features = features.predict(high, batch_size=batch_size, verbose=0)
    report = {}
    for key, images in candidates.items():
        unit = tf.constant((images + 1.0) / 2.0)
        psnr = tf.image.psnr(unit, target, max_val=1.0).numpy()
        distance = np.mean(np.square(
            features.predict(images, batch_size=batch_size, verbose=0) - target_features))
        report[key] = dict(
            psnr=None if key == "high_res" else round(float(np.mean(psnr)), 3),
            ssim=round(float(np.mean(tf.image.ssim(unit, target, max_val=1.0).numpy())), 4),
            feature_distance=round(float(distance), 5))
        if judge is not None:
            predicted = classifiers.predict(judge, images).argmax(axis=1)
            report[key]["classifier_accuracy"] = round(float(np.mean(predicted == labels)), 4)
    report["images"] = len(low)
    report["split"] = split
    report["classifier"] = f"classifier_{label_judge}" if label_judge else None
    report["feature_classifier"] = feature_judge
    return report
