"""Shared building blocks for generators and discriminators."""

import keras

from kgan.layers.batch_norm import BatchNormalization
from kgan.layers.conditional_norm import ConditionalBatchNorm
from kgan.layers.conditioning import ConditioningAugmentation
from kgan.layers.equalized import EqualizedConv2D, EqualizedDense, PixelNormalization
from kgan.layers.group_norm import GroupNormalization
from kgan.layers.image_pool import ImagePool
from kgan.layers.minibatch import MinibatchDiscrimination, MinibatchStdDev
from kgan.layers.padding import ReflectionPadding2D
from kgan.layers.phase_shuffle import PhaseShuffle
from kgan.layers.pixel_shuffle import PixelShuffle
from kgan.layers.pooling import GlobalSumPooling2D, MaskedMean
from kgan.layers.progressive import FadeIn, GrowthSchedule
from kgan.layers.spectrogram import LogMagnitude
from kgan.layers.style import (AdaIN, ConstantInput, MeanW, NoiseInjection, NoiseMode,
                               SecondLatent, StyleMixing)


def maybe_spectral_norm(layer, enabled):
    """Wraps ``layer`` in ``keras.layers.SpectralNormalization`` when ``enabled``.

    Spectral normalization (Miyato et al. 2018) bounds the discriminator's Lipschitz
    constant; families expose it as a ``spectral_norm=True`` discriminator option.
    """
    return keras.layers.SpectralNormalization(layer) if enabled else layer


__all__ = ["AdaIN", "BatchNormalization", "ConditionalBatchNorm",
           "ConditioningAugmentation", "ConstantInput", "EqualizedConv2D",
           "EqualizedDense", "FadeIn", "GlobalSumPooling2D", "GroupNormalization",
           "GrowthSchedule", "ImagePool", "LogMagnitude", "MaskedMean", "MeanW",
           "MinibatchDiscrimination", "MinibatchStdDev", "NoiseInjection", "NoiseMode",
           "PhaseShuffle", "PixelNormalization", "PixelShuffle", "ReflectionPadding2D",
           "SecondLatent", "StyleMixing", "maybe_spectral_norm"]
