"""Shared building blocks for generators and discriminators."""

import keras

from kgan.layers.conditional_norm import ConditionalBatchNorm
from kgan.layers.conditioning import ConditioningAugmentation
from kgan.layers.equalized import EqualizedConv2D, EqualizedDense, PixelNormalization
from kgan.layers.minibatch import MinibatchDiscrimination, MinibatchStdDev
from kgan.layers.phase_shuffle import PhaseShuffle
from kgan.layers.pooling import GlobalSumPooling2D
from kgan.layers.progressive import FadeIn, GrowthSchedule
from kgan.layers.spectrogram import LogMagnitude
from kgan.layers.style import (AdaIN, ConstantInput, MeanW, NoiseInjection, SecondLatent,
                               StyleMixing)


def maybe_spectral_norm(layer, enabled):
    """Wraps ``layer`` in ``keras.layers.SpectralNormalization`` when ``enabled``.

    Spectral normalization (Miyato et al. 2018) bounds the discriminator's Lipschitz
    constant; families expose it as a ``spectral_norm=True`` discriminator option.
    """
    return keras.layers.SpectralNormalization(layer) if enabled else layer


__all__ = ["AdaIN", "ConditionalBatchNorm", "ConditioningAugmentation", "ConstantInput",
           "EqualizedConv2D", "EqualizedDense", "FadeIn", "GlobalSumPooling2D", "GrowthSchedule",
           "LogMagnitude", "MeanW",
           "MinibatchDiscrimination", "MinibatchStdDev", "NoiseInjection", "PhaseShuffle",
           "PixelNormalization", "SecondLatent", "StyleMixing", "maybe_spectral_norm"]
