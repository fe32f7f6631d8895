"""GAN families, one module each; importing this package registers their zoo entries."""

<<<<<<< HEAD
from kgan.models import cgan, dcgan, vanilla_gan, wgan_gp  # noqa: F401
from kgan.models import specgan, wavegan  # noqa: F401
from kgan.models.cgan import CGAN
from kgan.models.dcgan import DCGAN
from kgan.models.specgan import SpecGAN
=======
from kgan.models import cgan, dcgan, progan, stylegan, vanilla_gan, wgan_gp  # noqa: F401
from kgan.models.cgan import CGAN
from kgan.models.dcgan import DCGAN
from kgan.models.progan import ProGAN
from kgan.models.stylegan import StyleGAN
>>>>>>> wip-style
from kgan.models.vanilla_gan import VanillaGAN
from kgan.models.wavegan import WaveGAN
from kgan.models.wgan_gp import WGANGP

<<<<<<< HEAD
__all__ = ["CGAN", "DCGAN", "SpecGAN", "VanillaGAN", "WGANGP", "WaveGAN"]
=======
__all__ = ["CGAN", "DCGAN", "ProGAN", "StyleGAN", "VanillaGAN", "WGANGP"]
>>>>>>> wip-style
