"""Helpers per kind of sample: images (grids, pictures), audio (wav, spectrograms), voxels
(rendering, meshes), text (captions, the text encoder)."""
