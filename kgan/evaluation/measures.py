"""The measures as pure functions of numpy feature and probability arrays: FID, KID,
Inception Score, precision / recall, label accuracy and class KL. The image, audio, voxel and
text evaluations all compute their numbers here.

What each number measures, and why it is here:

* **FID**, Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale
  Update Rule Converge to a Local Nash Equilibrium", arXiv:1706.08500): the Fréchet (2-
  Wasserstein) distance between Gaussians fitted to real and generated features,
  ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``. Lower is better; the de-facto
  standard, but biased upwards for small ``n``, so compare numbers at equal ``n`` only.
* **KID**, Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs",
  arXiv:1801.01401): the unbiased estimate of the squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets (mean and standard deviation are
  returned). Unbiased, so it is ~0 for two samples of one distribution at any ``n``.
* **Inception Score** (Salimans et al. 2016, "Improved Techniques for Training GANs",
  arXiv:1606.03498): ``exp(E_x KL(p(y|x) || p(y)))`` over splits: high when each sample is
  classified confidently and the classes are used evenly. Its maximum is the number of classes.
* **Precision / recall** (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models", arXiv:1904.06991): the real manifold is the union of balls
  around real features reaching their k-th nearest real neighbour (k = 3); precision is the
  fraction of generated samples inside it (quality), recall the fraction of real samples
  inside the generated manifold (coverage). FID mixes the two; this separates them.
* **Label accuracy** (conditional models; the AC-GAN evaluation of Odena et al. 2017,
  arXiv:1610.09585): the data set classifier's accuracy on samples generated for requested
  labels, i.e. whether the generator obeys its label input.
* **Class KL**: ``KL(generated class histogram || uniform)``: 0 when the classifier finds every
  class equally often, ``log K`` when all samples fall in one class; a direct mode-dropping
  check for the balanced data sets kgan trains on (cf. Santurkar et al. 2018, "A
  Classification-Based Study of Covariate Shift in GAN Distributions", arXiv:1711.00970).
"""

import warnings

import numpy as np
import scipy.linalg


def _as_features(x, name):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, dim) feature array; received shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf values.")
    return x


def _check_dims(a, b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"Feature dimensions differ: {a.shape[1]} vs {b.shape[1]}; both sets must come "
            "from the same extractor."
        )


def feature_statistics(features):
    """Mean ``(d,)`` and covariance ``(d, d)`` (float64, unbiased) of ``(n, d)`` features."""
    features = _as_features(features, "features").astype("float64")
    if len(features) < 2:
        raise ValueError(f"Need at least 2 feature vectors for a covariance; got {len(features)}.")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], -1)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + Tr(sigma1) + Tr(sigma2) - 2 Tr((sigma1 sigma2)^(1/2))``, with the matrix
    square root from ``scipy.linalg.sqrtm`` as in the reference implementation. A singular
    product (fewer samples than dimensions) gets ``eps`` added to both diagonals; the tiny
    imaginary parts that round-off leaves in the square root are dropped (with a warning if
    they are not tiny).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, "float64")), np.atleast_1d(np.asarray(mu2, "float64"))
    sigma1 = np.atleast_2d(np.asarray(sigma1, "float64"))
    sigma2 = np.atleast_2d(np.asarray(sigma2, "float64"))
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"Shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, "
            f"sigma2 {sigma2.shape}; expected (d,) and (d, d) for both."
        )
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on singular input; handled below
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(d) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(covmean.imag))
        if imag > 1e-3 * max(1.0, np.max(np.abs(covmean.real))):
            warnings.warn(
                f"FID: the covariance square root has an imaginary part of {imag:.3g}; the "
                "estimate is unreliable (too few samples for the feature dimension?).",
                RuntimeWarning, stacklevel=2,
            )
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    # Round-off can leave -1e-10 for identical inputs; a distance is never negative.
    return float(max(value, 0.0))


def fid_from_features(real, fake):
    """FID between two ``(n, d)`` feature arrays."""
    real, fake = _as_features(real, "real"), _as_features(fake, "fake")
    _check_dims(real, fake)
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


def _polynomial_kernel_sum(x, y, exclude_diagonal=False):
    """Sum over pairs of ``k(x, y) = (x.y / d + 1)^3`` (float64 total).

    Entries are computed in float32 (relative error ~1e-7 each, unbiased round-off, so the
    float64 total is off by ~1e-7 / sqrt(m^2): far below KID's sampling noise) because that
    is 3-5x faster than float64 on CPUs; ``**`` is avoided since it calls pow.
    """
    k = x @ y.T
    k /= np.float32(x.shape[1])
    k += np.float32(1.0)
    cube = k * k
    cube *= k
    total = np.sum(cube, dtype="float64")
    if exclude_diagonal:
        total -= np.sum(np.diagonal(cube), dtype="float64")
    return total


def kid(real, fake, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2, cubic polynomial kernel, over subsets.

    Args:
        real, fake: ``(n, d)`` features (the two sets may differ in size).
        num_subsets: random subsets drawn (without replacement within a subset).
        subset_size: ``m``, samples per subset; capped at the smaller set's size.
        seed: seed of the subset choice.

    Returns:
        ``(mean, std)`` of the per-subset estimates. Can be slightly negative: the estimator
        is unbiased, not clipped.
    """
    real, fake = _as_features(real, "real"), _as_features(fake, "fake")
    _check_dims(real, fake)
    m = min(int(subset_size), len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set; got {len(real)} and {len(fake)}.")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1; received {num_subsets}.")
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for s in range(num_subsets):
        x = real[rng.choice(len(real), m, replace=False)].astype("float32")
        y = fake[rng.choice(len(fake), m, replace=False)].astype("float32")
        off_xx = _polynomial_kernel_sum(x, x, exclude_diagonal=True) / (m * (m - 1))
        off_yy = _polynomial_kernel_sum(y, y, exclude_diagonal=True) / (m * (m - 1))
        estimates[s] = off_xx + off_yy - 2.0 * _polynomial_kernel_sum(x, y) / (m * m)
    return float(estimates.mean()), float(estimates.std())


def inception_score(probabilities, splits=10, eps=1e-12):
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over ``splits``.

    Args:
        probabilities: ``(n, K)`` class probabilities (rows sum to 1).
        splits: number of equal chunks, as in Salimans et al.; capped at ``n``.

    Returns:
        ``(mean, std)``; ranges from 1 to ``K``.
    """
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 2 or len(p) < 1:
        raise ValueError(f"probabilities must be a non-empty (n, classes) array; got {p.shape}.")
    if np.any(p < -1e-6) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be non-negative with rows summing to 1 (softmax).")
    splits = max(1, min(int(splits), len(p)))
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + eps) - np.log(marginal + eps)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def sq_distances(a, b):
    """Squared Euclidean distances ``(len(a), len(b))``, clipped at 0 against round-off."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _knn_radii(x, k, batch_size):
    """Squared distance from each row of ``x`` to its k-th nearest other row."""
    radii = np.empty(len(x), dtype=x.dtype)
    for i in range(0, len(x), batch_size):
        d = sq_distances(x[i:i + batch_size], x)
        # Column 0 after partitioning is the point itself (distance 0): take index k.
        radii[i:i + batch_size] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(queries, support, radii, batch_size):
    """Fraction of ``queries`` inside at least one ball ``(support[j], radii[j])``."""
    inside = 0
    for i in range(0, len(queries), batch_size):
        d = sq_distances(queries[i:i + batch_size], support)
        inside += int(np.count_nonzero((d <= radii[None, :]).any(axis=1)))
    return inside / len(queries)


def precision_recall(real, fake, k=3, batch_size=1000):
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to
    the point's k-th nearest neighbour in the same set. Precision: fraction of ``fake``
    inside the real manifold; recall: fraction of ``real`` inside the fake manifold.

    Distances are computed ``batch_size`` rows at a time, so memory stays at
    ``batch_size * max(n_real, n_fake)`` floats however large the sets are.

    Returns:
        ``(precision, recall)`` in [0, 1].
    """
    real, fake = _as_features(real, "real"), _as_features(fake, "fake")
    _check_dims(real, fake)
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1; received {k}.")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(
            f"precision/recall with k={k} needs more than {k} samples per set; got "
            f"{len(real)} real and {len(fake)} fake."
        )
    # Centering on a common point keeps |a|^2 + |b|^2 - 2ab accurate in float32.
    dtype = "float64" if real.dtype == np.float64 else "float32"
    center = real.mean(axis=0)
    real = (real - center).astype(dtype)
    fake = (fake - center).astype(dtype)
    batch_size = max(1, int(batch_size))
    real_radii = _knn_radii(real, k, batch_size)
    fake_radii = _knn_radii(fake, k, batch_size)
    precision = _coverage(fake, real, real_radii, batch_size)
    recall = _coverage(real, fake, fake_radii, batch_size)
    return float(precision), float(recall)


def label_accuracy(probabilities, labels):
    """Fraction of samples whose most probable class is the requested label."""
    p = np.asarray(probabilities)
    labels = np.asarray(labels).reshape(-1)
    if p.ndim != 2 or len(p) != len(labels) or len(p) == 0:
        raise ValueError(
            f"Need (n, classes) probabilities and n labels; got {p.shape} and {labels.shape}."
        )
    return float(np.mean(p.argmax(axis=1) == labels))


def class_kl(predictions, num_classes=None):
    """``KL(histogram of predicted classes || uniform)`` in nats; 0 is perfectly balanced.

    Args:
        predictions: ``(n, K)`` probabilities (their argmax is used) or ``(n,)`` class ids.
        num_classes: ``K``; taken from the probabilities' width when omitted.
    """
    pred = np.asarray(predictions)
    if pred.ndim == 2:
        num_classes = num_classes or pred.shape[1]
        pred = pred.argmax(axis=1)
    if pred.ndim != 1 or len(pred) == 0:
        raise ValueError(f"predictions must be (n, K) probabilities or (n,) ids; got {pred.shape}.")
    if not num_classes:
        raise ValueError("num_classes is required when predictions are class ids.")
    if pred.min() < 0 or pred.max() >= num_classes:
        raise ValueError(
            f"Class ids must be in [0, {num_classes}); got [{pred.min()}, {pred.max()}].")
    hist = np.bincount(pred.astype("int64"), minlength=num_classes) / len(pred)
    nonzero = hist > 0
    return float(np.sum(hist[nonzero] * np.log(hist[nonzero] * num_classes)))
