"""A measured per-op float fallback for int8 filters: the upsampling stages stay float32.

Issue 20 names it as a remedy where an op does not quantize well. ``cyclegan_horse2zebra``'s
horse-to-zebra filter needed it: every int8 rewrite tried left its all-int8 file 0.043
(30.9 dB) off the float model, over the 0.035 bound (``docs/zoo/cyclegan_horse2zebra.md``).
Half of that error entered in the two upsampling stages (transposed convolution, instance
norm, ReLU at 128x128 and 256x256), whose norms take values up to 53 standard deviations
from their mean. Keeping those six layers float gives 0.023 (34.9 dB), and 0.017 on the
99.999 % ranges the entry declares (``"int8_export"`` in its recipe), at 1.4x (1 thread)
to 1.6x (2 threads) the all-int8 latency, 0.6x the float32 file's (the stages are 5 % of
the generator's multiply-adds, at its two largest sizes).

How: :func:`kgan.export.tflite_layers.tflite_friendly` renames the chosen layers of the
generator's TFLite-ready copy with :data:`FLOAT_MARK`, so every op the converter makes from
them carries the mark in its name; ``mlir_quantize`` leaves those ops float
(``denylisted_nodes``, :func:`marked_nodes`). The quantizer still stores their weights in
int8, as "hybrid" kernels that quantize their float inputs on the fly; XNNPACK runs none of
those, and TFLite's own took the file to 3.6x the all-int8 latency, slower than float32.
:func:`float_weights` stores those weights as float32 again (dequantized: the int8-rounded
weights, in float32 arithmetic that XNNPACK runs).
"""

import keras
import numpy as np
from tensorflow.lite.python.schema_py_generated import TensorType
from tensorflow.lite.tools import flatbuffer_utils

#: Suffix of the layer names (and so of the TFLite op names) that stay float32.
FLOAT_MARK = "_int8_fallback_float"
_UPSAMPLING = (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D)
_FOLLOWERS = (keras.layers.GroupNormalization, keras.layers.BatchNormalization,
              keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.Activation)


def upsampling_layers(network):
    """Names of ``network``'s upsampling stages: each transposed convolution or upsampling
    layer and the normalization and activation layers that directly follow it."""
    names, inside = [], False
    for layer in network.layers:
        inside = isinstance(layer, _UPSAMPLING) or (inside and isinstance(layer, _FOLLOWERS))
        if inside:
            names.append(layer.name)
    return names


def _output_name(graph, op):
    return graph.tensors[op.outputs[0]].name.decode()


def marked_nodes(content):
    """Output names of the ops of a (calibrated) TFLite file made from marked layers."""
    graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(content)).subgraphs[0]
    return [name for name in (_output_name(graph, op) for op in graph.operators)
            if FLOAT_MARK in name]


def float_weights(content):
    """``content`` with the int8 weights of float ops (hybrid kernels) stored as float32."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    for op in graph.operators:
        if graph.tensors[op.outputs[0]].type != TensorType.FLOAT32:
            continue
        for tensor in (graph.tensors[index] for index in op.inputs if index >= 0):
            if tensor.type != TensorType.INT8 or model.buffers[tensor.buffer].data is None:
                continue
            quantization = tensor.quantization
            axes = [1] * len(tensor.shape)
            axes[quantization.quantizedDimension] = -1
            values = np.frombuffer(bytes(model.buffers[tensor.buffer].data), np.int8)
            values = ((values.reshape(tensor.shape).astype("float32")
                       - np.reshape(quantization.zeroPoint, axes))
                      * np.reshape(quantization.scale, axes)).astype("<f4")
            model.buffers[tensor.buffer].data = np.frombuffer(values.tobytes(), np.uint8)
            tensor.type, tensor.quantization = TensorType.FLOAT32, None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def unmarked_float_tensors(content):
    """Names of the float tensors of an int8 TFLite file that are neither its inputs or
    outputs nor read or written by a marked op: what an int8 file must not have."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    allowed = {*graph.inputs, *graph.outputs}
    for op in graph.operators:
        if FLOAT_MARK in _output_name(graph, op):
            allowed |= {*op.inputs, *op.outputs}
    return [tensor.name.decode() for i, tensor in enumerate(graph.tensors)
            if tensor.type == TensorType.FLOAT32 and i not in allowed]
