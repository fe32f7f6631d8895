"""GAN families, one module each; importing this package registers their zoo entries."""

from kgan.models import cgan, dcgan, vanilla_gan, wgan_gp  # noqa: F401
from kgan.models import pix2pix  # noqa: F401
from kgan.models.cgan import CGAN
from kgan.models.dcgan import DCGAN
from kgan.models.pix2pix import Pix2Pix
from kgan.models.vanilla_gan import VanillaGAN
from kgan.models.wgan_gp import WGANGP

__all__ = ["CGAN", "DCGAN", "Pix2Pix", "VanillaGAN", "WGANGP"]
