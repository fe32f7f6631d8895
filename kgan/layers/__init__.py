"""Shared building blocks for generators and discriminators."""

import keras

from kgan.layers.minibatch import MinibatchDiscrimination, MinibatchStdDev
from kgan.layers.phase_shuffle import PhaseShuffle


def maybe_spectral_norm(layer, enabled):
    """Wraps ``layer`` in ``keras.layers.SpectralNormalization`` when ``enabled``.

    Spectral normalization (Miyato et al. 2018) bounds the discriminator's Lipschitz
    constant; families expose it as a ``spectral_norm=True`` discriminator option.
    """
    return keras.layers.SpectralNormalization(layer) if enabled else layer


__all__ = ["MinibatchDiscrimination", "MinibatchStdDev", "PhaseShuffle", "maybe_spectral_norm"]
