"""GAN families, one module each; importing this package registers their zoo entries.

Each family module holds its generator and discriminator builders, its model class (the
game) and its zoo entries. Besides them: ``common`` (entry registration and what several
families share), ``text_conditioning`` (the text families' mixin and card figures) and
``srgan_content`` (SRGAN's content-loss networks).
"""

from kgan.models import (  # noqa: F401
    cgan,
    cyclegan,
    dcgan,
    gan3d,
    pix2pix,
    progan,
    sngan,
    specgan,
    srgan,
    stackgan,
    stylegan,
    text2image,
    vanilla_gan,
    wavegan,
    wgan_gp,
)
from kgan.models.cgan import CGAN
from kgan.models.cyclegan import CycleGAN
from kgan.models.dcgan import DCGAN
from kgan.models.gan3d import GAN3D
from kgan.models.pix2pix import Pix2Pix
from kgan.models.progan import ProGAN
from kgan.models.sngan import SNGAN
from kgan.models.specgan import SpecGAN
from kgan.models.srgan import SRGAN
from kgan.models.stackgan import StackGAN
from kgan.models.stylegan import StyleGAN
from kgan.models.text2image import Text2Image
from kgan.models.vanilla_gan import VanillaGAN
from kgan.models.wavegan import WaveGAN
from kgan.models.wgan_gp import WGANGP

__all__ = ["CGAN", "CycleGAN", "DCGAN", "GAN3D", "Pix2Pix", "ProGAN", "SNGAN", "SRGAN",
           "SpecGAN", "StackGAN", "StyleGAN", "Text2Image", "VanillaGAN", "WGANGP", "WaveGAN"]
