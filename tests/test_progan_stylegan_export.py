"""Exporting ProGAN (TFLite despite its nearest upsampling chain) and StyleGAN (truncation).

The every-format sweep of tests/test_export.py exports the fresh test entries; a fresh ProGAN
is at its 4x4 stage, where every higher block is blended away with alpha 0, so these tests
export grown (and half-grown) ProGANs, and StyleGANs whose tracked mean w is not zero.
"""

import io
import json
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export
from test_export import docs_blocks, rest_to_tensors


def progan(images_seen, **overrides):
    """test_progan moved along its growth clock (4x4 for 8 images, each block fades in over
    8 and is stable for 8; 12 images: 8x8 at alpha 0.5, 56: all in), with its N(0, 1)
    kernels drawn from a fixed seed so that the float16 bound is checked on fixed weights."""
    model = kgan.zoo.load("test_progan", pretrained=False, **overrides)
    model.schedule.images_seen.assign(float(images_seen))
    rng = np.random.default_rng(0)
    for variable in model.generator.trainable_weights:
        if variable.path.endswith("kernel"):
            variable.assign(rng.standard_normal(variable.shape).astype("float32"))
    return model


# float16 with 16 channels per block: pixel normalization over test_progan's 4 channels at
# 32x32 blows float16 weight rounding up where all 4 features are near 0 (max error up to
# 0.17 there); with 16 or 32 channels (the published width at 32x32) random nets stay at
# 0.003-0.009, under the 0.01 bound of every float16 export.
@pytest.mark.parametrize("images_seen, quantize, overrides, atol", [
    (56, "none", {}, 1e-4),                                    # every block in
    (56, "float16", dict(channels=(16, 16, 16, 16)), 1e-2),
    (12, "none", {}, 1e-4),                                    # mid-fade: the blend itself
])
def test_progan_tflite_matches_keras(tmp_path, images_seen, quantize, overrides, atol):
    model = progan(images_seen, **overrides)
    path = export.export_tflite(model, tmp_path, quantize)
    inputs = export.calibration_inputs(model, 16, seed=3)
    expected = model.generate(z=inputs["latent"])
    assert expected.std() > 0.05   # a real image, not a constant the blend reduced it to
    actual = export.run_tflite(path, inputs)
    np.testing.assert_allclose(actual, expected, atol=atol)
    assert np.abs(actual - expected).mean() < atol / 10


def test_progan_refuses_int8_with_the_reason(tmp_path):
    model = progan(56)
    with pytest.raises(ValueError, match="cannot be exported as tflite-int8: pixel "
                                         "normalization.*Supported for ProGAN: savedmodel, "
                                         "tflite-none, tflite-float16"):
        export.export_tflite(model, tmp_path, "int8", export.calibration_inputs(model, 8))
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def stylegan(tmp_path_factory):
    """test_stylegan with a non-zero mean w, and its SavedModel's signatures."""
    model = kgan.zoo.load("test_stylegan", pretrained=False)
    w_avg = model.generator.get_layer("mean_w").w_avg
    w_avg.assign(np.random.default_rng(0).standard_normal(w_avg.shape).astype("float32"))
    path = export.export_savedmodel(model, tmp_path_factory.mktemp("style"), uint8_io=True)
    return model, tf.saved_model.load(str(path)).signatures


# Graph and eager float kernels differ a little (the published StyleGAN: up to 2e-5), and
# w_avg + 1 * (w - w_avg) is not w to the last bit (psi 1 vs serving_default: up to 8e-6).
ATOL = 1e-4


def test_stylegan_truncated_signature(stylegan):
    model, signatures = stylegan
    assert set(signatures) == {"serving_default", "generate_from_seed", "truncated"}
    specs = signatures["truncated"].structured_input_signature[1]
    assert {k: (s.shape.as_list(), s.dtype) for k, s in specs.items()} == {
        "latent": ([None, 8], tf.float32), "truncation_psi": ([None], tf.float32)}
    z = export.calibration_inputs(model, 4, seed=1)["latent"]
    truncated = signatures["truncated"]
    for psi in (0.7, 0.0, 1.0):  # one psi for all rows
        out = truncated(latent=z, truncation_psi=tf.constant([psi]))
        np.testing.assert_allclose(out["image"], model.generate(z=z, truncation_psi=psi),
                                   atol=ATOL)
    np.testing.assert_allclose(  # psi 1 is serving_default
        truncated(latent=z, truncation_psi=tf.ones([4]))["image"],
        signatures["serving_default"](latent=z)["image"], atol=ATOL)
    psis = np.array([1.0, 0.7, 0.3, 0.0], "float32")  # one per row
    rows = truncated(latent=z, truncation_psi=psis)["image"].numpy()
    for i, psi in enumerate(psis):
        np.testing.assert_allclose(rows[i], model.generate(z=z[i:i + 1], truncation_psi=psi)[0],
                                   atol=ATOL)
    assert np.abs(rows[0] - rows[3]).max() > 1e-3  # psi really changes the image


def test_stylegan_truncated_rest_row_format(stylegan):
    """A TF Serving JSON body with one psi per instance is a valid request."""
    model, signatures = stylegan
    z = export.calibration_inputs(model, 2, seed=4)["latent"]
    body = {"signature_name": "truncated",
            "instances": [{"latent": row.tolist(), "truncation_psi": 0.5} for row in z]}
    signature = signatures[body["signature_name"]]
    tensors = rest_to_tensors(body, signature.structured_input_signature[1])
    np.testing.assert_allclose(signature(**tensors)["image"],
                               model.generate(z=z, truncation_psi=0.5), atol=ATOL)


@pytest.mark.parametrize("psi, match", [
    ([1.5], r"truncation_psi must be in \[0, 1\]"),
    ([-0.1], r"truncation_psi must be in \[0, 1\]"),
    ([np.nan], r"truncation_psi must be in \[0, 1\]"),
    ([0.5, 0.5], "one value per latent row, or one for all"),
])
def test_stylegan_bad_psi_fails_the_request(stylegan, psi, match):
    truncated = stylegan[1]["truncated"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        truncated(latent=tf.zeros([3, 8]), truncation_psi=tf.constant(psi, tf.float32))


@pytest.mark.slow
def test_docs_truncated_request_runs(tmp_path, monkeypatch):
    """docs/serving.md's truncated REST request, answered by the published StyleGAN."""
    model = export.load_exportable("stylegan_fashion_mnist_32")
    signatures = tf.saved_model.load(str(export.export_savedmodel(model, tmp_path))).signatures

    def urlopen(request):  # TF Serving's REST API: JSON rows in, {"predictions": ...} out
        assert request.full_url == ("http://localhost:8501/v1/models/"
                                    "stylegan_fashion_mnist_32:predict")
        body = json.loads(request.data)
        signature = signatures[body["signature_name"]]
        tensors = rest_to_tensors(body, signature.structured_input_signature[1])
        images = signature(**tensors)["image"].numpy()
        return io.BytesIO(json.dumps({"predictions": images.tolist()}).encode())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    [snippet] = [b for b in docs_blocks("python") if '"truncated"' in b]
    namespace = {}
    exec(snippet, namespace)
    expected = model.generate(z=namespace["latents"].astype("float32"), truncation_psi=0.7)
    assert namespace["images"].shape == (3, 32, 32, 1)
    np.testing.assert_allclose(namespace["images"], expected, atol=1e-4)
