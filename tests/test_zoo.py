"""kgan.zoo: registry, loading, sha256 checks and the download cache."""

import dataclasses

import numpy as np
import pytest

import kgan
from kgan.zoo import registry, weights as zoo_weights


def test_list_and_info():
    names = kgan.zoo.list_models()
    assert names == sorted(names)
    for expected in ("vanilla_gan_mnist", "dcgan_mnist", "dcgan_fashion_mnist", "cgan_mnist",
                     "cgan_fashion_mnist", "wgan_gp_fashion_mnist"):
        assert expected in names
    assert kgan.zoo.list_models("cgan_*mnist") == ["cgan_fashion_mnist", "cgan_mnist"]
    cfg = kgan.zoo.info("cgan_mnist")
    assert (cfg.image_shape, cfg.num_classes, cfg.dataset) == ((28, 28, 1), 10, "mnist")


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Unknown zoo entry 'dcgan_mnsit'.*dcgan_mnist"):
        kgan.zoo.load("dcgan_mnsit")


def test_pretrained_without_weights_is_an_error():
    with pytest.raises(ValueError, match="no published weights.*pretrained=False"):
        kgan.zoo.load("test_dcgan")


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A temporary zoo entry 'tmp_dcgan' whose weights come from a trained test model."""
    monkeypatch.setenv("KGAN_ZOO_DIR", str(tmp_path / "zoo"))
    monkeypatch.setenv("KGAN_HOME", str(tmp_path / "home"))
    source = kgan.zoo.load("test_dcgan", pretrained=False)
    weights = tmp_path / "zoo" / "tmp_dcgan" / "tmp_dcgan.weights.h5"
    weights.parent.mkdir(parents=True)
    source.save_weights(str(weights))
    base_cfg, factory = registry._REGISTRY["test_dcgan"]
    cfg = dataclasses.replace(base_cfg, name="tmp_dcgan", weights=weights.name,
                              sha256=zoo_weights.sha256_of(weights))
    monkeypatch.setitem(registry._REGISTRY, "tmp_dcgan", (cfg, factory))
    return source, weights, cfg, factory, monkeypatch


def test_load_checks_hash_and_restores_weights(published):
    source, weights, *_ = published
    model = kgan.zoo.load("tmp_dcgan")
    assert model.compiled
    np.testing.assert_array_equal(model.generate(3, seed=0), source.generate(3, seed=0))


def test_tampered_and_truncated_files_are_refused(published):
    _, weights, cfg, *_ = published
    original = weights.read_bytes()
    weights.write_bytes(original[: len(original) // 2])
    with pytest.raises(ValueError, match=f"{weights.name}.*expected {cfg.sha256}"):
        kgan.zoo.load("tmp_dcgan")
    weights.write_bytes(original)  # restoring the file makes it load again
    kgan.zoo.load("tmp_dcgan")


def test_remote_weights_are_downloaded_once_and_verified(published, tmp_path):
    _, weights, cfg, factory, monkeypatch = published
    remote = tmp_path / "remote" / weights.name
    remote.parent.mkdir()
    weights.rename(remote)
    remote_cfg = dataclasses.replace(cfg, url=remote.as_uri())
    monkeypatch.setitem(registry._REGISTRY, "tmp_dcgan", (remote_cfg, factory))
    kgan.zoo.load("tmp_dcgan")
    cached = tmp_path / "home" / "tmp_dcgan" / weights.name
    assert cached.exists()
    remote.unlink()  # the second load needs no download
    kgan.zoo.load("tmp_dcgan")
    bad_cfg = dataclasses.replace(remote_cfg, sha256="0" * 64)
    monkeypatch.setitem(registry._REGISTRY, "tmp_dcgan", (bad_cfg, factory))
    with pytest.raises(ValueError, match="expected 0000"):
        kgan.zoo.load("tmp_dcgan")


def test_failed_download_leaves_no_partial_file(published, tmp_path):
    _, weights, cfg, factory, monkeypatch = published
    weights.unlink()
    remote = tmp_path / "corrupt.weights.h5"
    remote.write_bytes(b"not a weights file")
    monkeypatch.setitem(registry._REGISTRY, "tmp_dcgan",
                        (dataclasses.replace(cfg, url=remote.as_uri()), factory))
    with pytest.raises(ValueError, match="corrupt or was modified"):
        kgan.zoo.load("tmp_dcgan")
    assert not list((tmp_path / "home").rglob("*.weights.h5"))
    assert not list((tmp_path / "home").rglob("*.part"))


def test_architecture_mismatch_is_a_clear_error(published):
    _, weights, *_ = published
    other = kgan.zoo.load("test_cgan", pretrained=False)
    with pytest.raises(ValueError, match="does not match this architecture"):
        zoo_weights.load_into(other, weights)
