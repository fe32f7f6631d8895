"""Percentile int8 ranges (kgan.export.int8_ranges) on a small graph with rare outliers."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils

import kgan
from kgan import export
from kgan.export.int8_ranges import calibrate_and_quantize, narrow_ranges


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """x in [-1, 1] -> h = 2x with a spike of up to +12 where x > 0.9995 (0.025 % of the
    pixels, like a photo's specular highlights) -> tanh(h + its (1, 1, 1, 4) channel
    means), as a SavedModel signature (what kgan converts)."""
    @tf.function(input_signature=[tf.TensorSpec([1, 64, 64, 4], tf.float32, name="x")])
    def serve(x):
        spiky = x * 2.0 + 2e4 * tf.nn.relu(x - 0.9995)
        return {"y": tf.tanh(spiky + tf.reduce_mean(spiky, axis=(1, 2), keepdims=True))}

    path = str(tmp_path_factory.mktemp("graph"))
    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, path, signatures={"serving_default": serve})
    return path


def _converter(saved, data=None):
    """A converter of ``saved``: float, or int8 calibrated on ``data``."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved, ["serving_default"])
    if data is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ({"x": data["x"][i:i + 1]}
                                                    for i in range(len(data["x"])))
    return converter


def _calibration(n=8, seed=0):
    return {"x": np.random.default_rng(seed).uniform(-1, 1, (n, 64, 64, 4)).astype("float32")}


def _calibrated(saved, data):
    converter = _converter(saved, data)
    converter._experimental_calibrate_only = True
    return converter.convert()


def _ranges(content):
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    return {(t.name.decode() if isinstance(t.name, bytes) else t.name):
            (float(t.quantization.min[0]), float(t.quantization.max[0]), int(np.prod(t.shape)))
            for t in model.subgraphs[0].tensors
            if t.quantization is not None and t.quantization.min is not None
            and len(t.quantization.min) == 1}


def test_large_intermediates_narrow_to_their_percentiles_and_nothing_else_moves(saved):
    data = _calibration()
    calibrated = _calibrated(saved, data)
    before = _ranges(calibrated)
    after = _ranges(narrow_ranges(calibrated, data, "serving_default", 99.9))
    assert before.keys() == after.keys()
    narrowed = 0
    for name, (low, high, size) in before.items():
        new_low, new_high, _ = after[name]
        assert low <= new_low <= 0.0 <= new_high <= high, name  # never wider, 0 inside
        if size < 1000 or name.startswith(("serving_default_x", "StatefulPartitionedCall")):
            assert (new_low, new_high) == (low, high), name  # small tensors and edges stay
        elif high - low > 8:  # the spiky tensor, stretched to about [-2, 12]
            assert new_high - new_low < 0.5 * (high - low), (name, before[name], after[name])
            narrowed += 1
    assert narrowed >= 1


def test_percentile_ranges_quantize_typical_values_finer(saved):
    """The same graph quantized with min/max and with 99.9 % ranges: on new inputs the
    percentile file is closer to the float graph."""
    data, test = _calibration(), _calibration(4, seed=1)["x"]

    def run(content):
        runner = tf.lite.Interpreter(model_content=content).get_signature_runner(
            "serving_default")
        return np.concatenate([runner(x=test[i:i + 1])["y"] for i in range(len(test))])

    want = run(_converter(saved).convert())
    minmax = float(np.abs(run(_converter(saved, data).convert()) - want).mean())
    narrowed = float(np.abs(run(calibrate_and_quantize(
        _converter(saved, data), data, "serving_default", 99.9)) - want).mean())
    assert narrowed < 0.7 * minmax, (narrowed, minmax)


def test_percentile_out_of_range_is_refused_before_converting(tmp_path):
    model = kgan.zoo.load("test_dcgan", pretrained=False)
    data = export.calibration_inputs(model, 2)
    for bad in (100.5, 50, -1):
        with pytest.raises(ValueError, match="percentile must be in"):
            export.export_tflite(model, tmp_path, "int8", data, percentile=bad)
    assert not list(tmp_path.iterdir())
