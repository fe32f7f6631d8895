"""Training and publishing recipes that are more than one ``fit``: multi-stage runs (SRGAN's
pre-training then GAN), the networks kgan trains besides GANs (the text encoder, the feature
classifiers), each with the card it publishes. The ``tools/train_*.py`` scripts parse flags
and call these; nothing here is imported by ``import kgan``."""
