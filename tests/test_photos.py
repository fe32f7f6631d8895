"""Colour photo filters (issue 20): the facades and horse2zebra data sets, filters exported at
other sizes with uint8 pixel I/O, TF Serving's uint8 and bytes signatures (with the REST
example of docs/serving.md), and tools/apply_filter.py on colour photos and bad input.

The models are untrained tiny ones (the test entries, and a 3-channel CycleGAN built the
same way): what is checked is that exports compute what Keras computes, not image quality.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kgan
from kgan import data, export
from kgan.data.sets import facades, horse2zebra
from kgan.models.cyclegan import CycleGAN
from kgan.translation import resize_filter, size_multiple
from test_translation_export import load_apply_filter

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


# ---------------------------------------------------------------------------- facades
def test_facades_arrays_are_label_map_to_photo_pairs():
    sizes = {}
    for split in facades.SPLITS:
        (label_maps, photos), numbers = data.load_arrays("facades", split)
        assert label_maps.shape == photos.shape == (len(numbers), 256, 256, 3)
        assert label_maps.dtype == photos.dtype == np.uint8
        np.testing.assert_array_equal(numbers, np.arange(1, len(numbers) + 1))
        sizes[split] = len(numbers)
    assert sizes == {"train": 400, "val": 100, "test": 106}
    (label_maps, photos), _ = data.load_arrays("facades", "test")
    pair = np.asarray(Image.open(SHARED / "facades" / "test" / "7.jpg").convert("RGB"))
    np.testing.assert_array_equal(photos[6], pair[:, :256])  # photo on the left
    np.testing.assert_array_equal(label_maps[6], pair[:, 256:])


def test_facades_batches_and_jitter():
    (label_maps, photos), _ = data.load_arrays("facades", "val")
    source, target = next(iter(data.load("facades", "val", batch_size=4, shuffle=False)))
    np.testing.assert_allclose(source, label_maps[:4] / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(target, photos[:4] / 127.5 - 1, atol=1e-6)

    def first(seed):
        ds = data.load("facades", "train", batch_size=2, seed=seed, shuffle=False)
        return [x.numpy() for x in next(iter(ds))], ds

    (source, target), ds = first(3)
    assert source.shape == target.shape == (2, 256, 256, 3) and source.dtype == np.float32
    assert -1 <= source.min() and target.max() <= 1
    (label_maps, _), _ = data.load_arrays("facades", "train")
    assert np.abs(source - (label_maps[:2] / 127.5 - 1)).mean() > 0.02  # jittered
    np.testing.assert_array_equal(first(3)[0][0], source)  # seeded: deterministic
    assert not np.array_equal(next(iter(ds))[0].numpy(), source)  # new crops each epoch


def fake_facades(root, n=3, mirror=True, quality=100):
    """``root/facades/train/1..n.jpg``: 512x256 pairs whose label map is the photo itself
    when ``mirror`` (4:4:4 JPEGs, so both halves decode to the same pixels)."""
    folder = root / "facades" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        left = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        left = np.asarray(Image.fromarray(left).resize((32, 32)).resize((256, 256)))
        right = left if mirror else 255 - left
        Image.fromarray(np.concatenate([left, right], axis=1)).save(
            folder / f"{i}.jpg", quality=quality, subsampling=0)
    return folder


def test_jitter_crops_and_flips_both_images_of_a_pair_alike(tmp_path, monkeypatch):
    monkeypatch.setenv("KGAN_HOME", str(tmp_path / "home"))
    fake_facades(tmp_path)
    (label_maps, photos), _ = facades.load_arrays("train", data_dir=tmp_path)
    np.testing.assert_array_equal(label_maps, photos)
    ds = data.load("facades", "train", batch_size=3, data_dir=tmp_path, seed=0)
    for _ in range(2):
        source, target = next(iter(ds))
        np.testing.assert_array_equal(source, target)
        assert np.abs(np.sort(source.numpy(), 0) - np.sort(photos / 127.5 - 1, 0)).mean() > 0.01


def test_facades_bad_files_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("KGAN_HOME", str(tmp_path / "home"))
    folder = fake_facades(tmp_path, 3)
    (folder / "2.jpg").rename(folder / "2.bak")
    with pytest.raises(FileNotFoundError, match=r"train/2\.jpg is missing"):
        facades.load_arrays("train", data_dir=tmp_path)
    (folder / "2.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match=r"train/2\.jpg is not a readable image"):
        facades.load_arrays("train", data_dir=tmp_path)
    Image.new("RGB", (100, 100)).save(folder / "2.jpg")
    with pytest.raises(ValueError, match=r"2\.jpg is 100x100 pixels; every image .* 512x256"):
        facades.load_arrays("train", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"facades/val holds no <number>\.jpg"):
        facades.load_arrays("val", data_dir=tmp_path)
    with pytest.raises(ValueError, match=r"Unknown split 'validation' for facades"):
        data.load_arrays("facades", "validation")
    with pytest.raises(ValueError, match="no class labels"):
        data.load("facades", "test", batch_size=2, labels=True)
    with pytest.raises(ValueError, match=r"'facades' has no domains"):
        data.load("facades", "test", batch_size=2, domain="A")


def test_decoded_arrays_are_cached_and_refreshed(tmp_path, monkeypatch):
    monkeypatch.setenv("KGAN_HOME", str(tmp_path / "home"))
    folder = fake_facades(tmp_path, 2)
    (_, photos), _ = facades.load_arrays("train", data_dir=tmp_path)
    caches = list((tmp_path / "home" / "data").glob("facades_train_v*.npz"))
    assert len(caches) == 1
    assert not list((tmp_path / "home" / "data").glob("*.part"))
    again = facades.load_arrays("train", data_dir=tmp_path)[0][1]
    np.testing.assert_array_equal(again, photos)
    pair = np.zeros((256, 512, 3), np.uint8)
    Image.fromarray(pair).save(folder / "2.jpg", quality=100)  # a changed file: decoded again
    changed = facades.load_arrays("train", data_dir=tmp_path)[0][1]
    assert changed[1].max() < 5 and photos[1].max() > 100
    np.testing.assert_array_equal(changed[0], photos[0])


# ---------------------------------------------------------------------------- horse2zebra
def test_horse2zebra_domains():
    counts = {}
    for split in horse2zebra.SPLITS:
        for domain in horse2zebra.DOMAINS:
            images, labels = data.load_arrays("horse2zebra", split, domain=domain)
            assert images.shape[1:] == (256, 256, 3) and images.dtype == np.uint8
            assert set(labels) == {horse2zebra.DOMAIN_LABELS[domain]}
            counts[split + domain] = len(images)
    assert counts == {"trainA": 534, "trainB": 667, "testA": 120, "testB": 140}
    # Files in byte order; the grey zebras are converted to RGB.
    files = horse2zebra.domain_files(SHARED / "horse2zebra", "train", "B")
    grey = [f.name for f in files].index("n02391049_226.jpg")
    zebras, _ = data.load_arrays("horse2zebra", "train", domain="b")
    assert (zebras[grey, ..., 0] == zebras[grey, ..., 2]).all()
    (a, b), labels = data.load_arrays("horse2zebra", "test")
    assert (len(a), len(b)) == (120, 140) and set(labels) == {1} and len(labels) == 120
    with pytest.raises(ValueError, match=r"Unknown domain 'C' for horse2zebra"):
        data.load_arrays("horse2zebra", "test", domain="C")
    with pytest.raises(ValueError, match="'mnist' has no domains"):
        data.load("mnist", domain="A")
    with pytest.raises(ValueError, match="pass domain='A' or 'B'"):
        data.load("horse2zebra", "test", batch_size=4, labels=True)
    # The labelled set of the horse / zebra classifier: horses (0), then zebras (1).
    images, labels = data.load_arrays("horse2zebra_domains", "test")
    np.testing.assert_array_equal(images[:120], a)
    np.testing.assert_array_equal(images[120:], b)
    assert labels.tolist() == [0] * 120 + [1] * 140


def test_horse2zebra_pipelines():
    images, labels = next(iter(data.load("horse2zebra", "test", batch_size=4, domain="A",
                                         labels=True, shuffle=False)))
    horses, _ = data.load_arrays("horse2zebra", "test", domain="A")
    np.testing.assert_allclose(images, horses[:4] / 127.5 - 1, atol=1e-6)
    assert labels.numpy().tolist() == [0, 0, 0, 0]
    # Unpaired: as sneaker2boot, (a_batch, b_batch); an epoch covers the larger domain.
    ds = data.load("horse2zebra", "test", batch_size=8, seed=0)
    assert [tuple(s.shape) for s in ds.element_spec] == [(8, 256, 256, 3)] * 2
    assert sum(1 for _ in ds) == 140 // 8
    a, b = next(iter(data.load("horse2zebra", "train", batch_size=2, seed=0)))
    assert a.shape == b.shape == (2, 256, 256, 3)


def test_random_crops_cut_each_domain_at_its_own_place():
    from kgan.data.photos import random_crops

    horses, _ = data.load_arrays("horse2zebra", "test", domain="A")
    source = data.load("horse2zebra", "test", batch_size=2, seed=0, shuffle=False)
    a, b = next(iter(random_crops(source, 96, seed=3)))
    assert a.shape == b.shape == (2, 96, 96, 3)
    full = horses[:2].astype("float32") / 127.5 - 1

    def place(crop, image):  # where in ``image`` the crop was cut, by exhaustive search
        return [(top, left) for top in range(161) for left in range(161)
                if np.allclose(image[top:top + 96, left:left + 96], crop, atol=1e-6)]

    places = [place(a[i].numpy(), full[i]) for i in range(2)]
    assert all(len(p) == 1 for p in places), places  # unscaled crops of the photos
    again = next(iter(random_crops(source, 96, seed=3)))[0]
    np.testing.assert_array_equal(again, a)  # seeded: the same crops
    single = next(iter(random_crops(data.load("horse2zebra", "test", batch_size=1,
                                              domain="B", shuffle=False), 40, seed=0)))
    assert single.shape == (1, 40, 40, 3)
    with pytest.raises(ValueError, match=r"Crop size must be an integer in \[1, 256\]"):
        random_crops(source, 300)


def test_a_translator_trained_on_crops_runs_at_the_entry_size(tmp_path):
    """A ``crop`` recipe (tools/train_cyclegan.py): the networks train at the crop size and
    the weights published load into the entry's model at its own size."""
    from kgan.recipes import crops
    from kgan.zoo import weights as zoo_weights

    small = kgan.zoo.load("test_cyclegan", pretrained=False, image_shape=(16, 16, 1))
    assert small.generator.input_shape == (None, 16, 16, 1)
    small.fit(np.zeros((2, 16, 16, 1), "float32"), np.ones((2, 16, 16, 1), "float32"),
              batch_size=1, verbose=0)
    entry = crops.at_entry_size(small, "test_cyclegan")
    assert entry.generator.input_shape == (None, 28, 28, 1)
    for name in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"):
        for got, want in zip(getattr(entry, name).get_weights(),
                             getattr(small, name).get_weights()):
            np.testing.assert_array_equal(got, want)
    zoo_weights.save_atomically(entry, tmp_path / "entry.weights.h5")
    zoo_weights.load_into(kgan.zoo.load("test_cyclegan", pretrained=False),
                          tmp_path / "entry.weights.h5")
    centres = crops.centre_crops(np.arange(2 * 8 * 8).reshape(2, 8, 8, 1), 4)
    np.testing.assert_array_equal(centres[0, :, :, 0], np.arange(64).reshape(8, 8)[2:6, 2:6])


@pytest.mark.slow
def test_photo_sets_feed_pix2pix_and_cyclegan_fit():
    """The batches are what the families' fit takes (tiny models, 256x256, 1 step each)."""
    from kgan.models.pix2pix import Pix2Pix

    cyclegan = CycleGAN.build((256, 256, 3), width=2, n_blocks=1, d_width=2)
    cyclegan.compile(jit_compile=False)
    logs = cyclegan.fit(data.load("horse2zebra", "train", batch_size=1, seed=0),
                        steps_per_epoch=1, verbose=0).history
    assert np.isfinite(logs["g_loss"][-1])
    pix2pix = Pix2Pix.build((256, 256, 3), source_channels=3, width=2, depth=8, d_width=2,
                            d_layers=1)
    pix2pix.compile(jit_compile=False)
    logs = pix2pix.fit(data.load("facades", "train", batch_size=1, seed=0), steps_per_epoch=1,
                       verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())


@pytest.mark.slow
def test_photo_arrays_load_without_tensorflow():
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from kgan.data.sets import facades, horse2zebra\n"
            "print(facades.load_arrays('test')[0][1].shape, "
            "horse2zebra.load_arrays('test', domain='A')[0].shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, check=False,
                          env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(106, 256, 256, 3) (120, 256, 256, 3)" in done.stdout


# ---------------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def colour():
    """A 3-channel CycleGAN as tiny as test_cyclegan, named like the zoo's photo entry."""
    return CycleGAN.build((32, 32, 3), width=4, n_blocks=1, d_width=4,
                          name="cyclegan_horse2zebra")


def pixels(shape, seed=0):
    """Smooth random uint8 pictures (a photo's statistics more than noise's)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (shape[0], 8, 8, shape[-1]), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(s.squeeze()).resize(shape[2:0:-1],
                                                                    Image.BILINEAR))
                     .reshape(shape[1:]) for s in small])


def as_png(picture, fmt="PNG", **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(picture.squeeze()).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served(colour, tmp_path_factory):
    """The colour filter as TF Serving's SavedModel, at 256x256 as the photo entries."""
    out = tmp_path_factory.mktemp("served")
    path = export.export_savedmodel(colour, out, size=(256, 256))
    return out, tf.saved_model.load(str(path)).signatures


def test_filter_savedmodel_takes_pixels_and_picture_files(colour, served):
    _, signatures = served
    assert set(signatures) == {"serving_default", "serving_uint8", "serving_bytes",
                               "b2a", "b2a_uint8", "b2a_bytes"}
    spec = signatures["serving_uint8"].structured_input_signature[1]["source_uint8"]
    assert spec.shape.as_list() == [None, 256, 256, 3] and spec.dtype == tf.uint8
    x = pixels((2, 256, 256, 3))
    for prefix, direction in (("serving", "a2b"), ("b2a", "b2a")):
        out = signatures[f"{prefix}_uint8"](source_uint8=tf.constant(x))["image_uint8"].numpy()
        expected = export.translate_at(colour, x / 127.5 - 1, direction, (256, 256))
        assert np.abs(out - (expected + 1) * 127.5).max() <= 0.6
        # A PNG of the filter's size gives the same pixels; other sizes and modes are
        # converted and come back at the picture's size.
        png = signatures[f"{prefix}_bytes"](image_bytes=tf.constant([as_png(x[0])]))
        one = signatures[f"{prefix}_uint8"](source_uint8=tf.constant(x[:1]))["image_uint8"]
        np.testing.assert_array_equal(
            np.asarray(Image.open(io.BytesIO(png["image_bytes"].numpy()[0]))), one[0])
    files = [as_png(pixels((1, 60, 80, 1))[0], "JPEG"), as_png(pixels((1, 40, 48, 4))[0])]
    answers = signatures["serving_bytes"](image_bytes=tf.constant(files))["image_bytes"]
    pictures = [Image.open(io.BytesIO(a)) for a in answers.numpy()]
    assert [(p.size, p.mode, p.format) for p in pictures] == [
        ((80, 60), "RGB", "PNG"), ((48, 40), "RGB", "PNG")]
    with pytest.raises(tf.errors.InvalidArgumentError):
        signatures["serving_bytes"](image_bytes=tf.constant([b"not a picture"]))


def tf_serving_predict(signatures, body):
    """What TF Serving's REST ``:predict`` does with a row-format body
    (tensorflow_serving/util/json_tensor.cc): ``{"b64": ...}`` values become string
    tensors, string outputs whose name ends in ``_bytes`` go back base64-encoded, one
    output gives the values themselves in ``predictions``."""
    signature = signatures[body.get("signature_name", "serving_default")]
    specs = signature.structured_input_signature[1]
    instances = body["instances"]

    def is_b64(value):
        return isinstance(value, dict) and set(value) == {"b64"}

    def decode(value):
        return base64.b64decode(value["b64"]) if is_b64(value) else value

    if isinstance(instances[0], dict) and not is_b64(instances[0]):
        columns = {k: [decode(row[k]) for row in instances] for k in specs}
    else:
        (name,) = specs
        columns = {name: [decode(row) for row in instances]}
    outputs = {k: v.numpy() for k, v in signature(**{
        k: tf.constant(v, dtype=specs[k].dtype) for k, v in columns.items()}).items()}

    def encode(name, value):
        if isinstance(value, bytes):
            return ({"b64": base64.b64encode(value).decode()} if name.endswith("_bytes")
                    else value.decode())
        return value.tolist()

    rows = [{k: encode(k, v[i]) for k, v in outputs.items()} for i in range(len(instances))]
    return {"predictions": [next(iter(r.values())) if len(r) == 1 else r for r in rows]}


def docs_example(marker):
    text = (ROOT / "docs" / "serving.md").read_text()
    after = text[text.index(f"<!-- tested: {marker} -->"):]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


def test_rest_example_in_docs_gives_a_png(served, tmp_path, monkeypatch):
    out, _ = served
    requests = []

    def urlopen(request, *args, **kwargs):  # TF Serving at localhost:8501, emulated
        match = re.fullmatch(r"http://localhost:8501/v1/models/(\w+)(?:/versions/(\d+))?"
                             r":predict", request.full_url)
        name, version = match.group(1), match.group(2) or "1"
        signatures = tf.saved_model.load(str(out / name / version)).signatures
        requests.append(json.loads(request.data))
        return io.BytesIO(json.dumps(tf_serving_predict(signatures, requests[-1])).encode())

    horse = sorted((SHARED / "horse2zebra" / "testA").glob("*.jpg"))[0]
    (tmp_path / "horse.jpg").write_bytes(horse.read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    exec(compile(docs_example("serving_bytes"), "docs/serving.md", "exec"), {})
    assert requests[0]["instances"][0].keys() == {"b64"}
    zebra = Image.open(tmp_path / "zebra.png")
    assert (zebra.format, zebra.mode, zebra.size) == ("PNG", "RGB", (256, 256))
    # The test photo is 256x256: no resizing, so the PNG is the uint8 signature's answer.
    photo = tf.io.decode_jpeg(horse.read_bytes(), channels=3).numpy()  # the server's decoder
    body = {"signature_name": "serving_uint8", "instances": [photo.tolist()]}
    answer = tf_serving_predict(served[1], body)["predictions"][0]
    np.testing.assert_array_equal(np.asarray(zebra), np.array(answer, np.uint8))


@pytest.mark.parametrize(("name", "direction", "quantize", "size"), [
    ("test_pix2pix", None, "none", (64, 40)),
    ("test_cyclegan", "b2a", "float16", (56, 84)),
    ("test_srgan", None, "none", (12, 9)),
])
def test_filters_at_other_sizes_with_pixel_io(tmp_path, name, direction, quantize, size):
    model = kgan.zoo.load(name, pretrained=False)
    path = export.export_tflite(model, tmp_path, quantize, uint8_io=True, direction=direction,
                                size=size)
    tag = "float32" if quantize == "none" else quantize
    assert path.name == "_".join(
        [name] + ([direction] if direction else []) + [f"{size[0]}x{size[1]}", tag, "uint8"]
    ) + ".tflite"
    runner = export.tflite.make_interpreter(path.read_bytes()).get_signature_runner()
    source, image = runner.get_input_details()["source"], runner.get_output_details()["image"]
    scale = 4 if name == "test_srgan" else 1
    assert source["shape"].tolist() == [1, *size, 1] and source["dtype"] == np.uint8
    assert image["shape"].tolist() == [1, size[0] * scale, size[1] * scale, 1]
    assert image["dtype"] == np.uint8 and source["quantization"] == (0.0, 0)
    x = pixels((4, *size, 1))
    out = np.concatenate([runner(source=x[i:i + 1])["image"] for i in range(4)])
    expected = (export.translate_at(model, x / 127.5 - 1, direction, size) + 1) * 127.5
    bound = 0.6 if quantize == "none" else 3.0  # levels: rounding / float16 weights
    assert np.abs(out - expected).max() <= bound
    stats = export.compare(model, path, direction=direction, inputs={"source": x / 127.5 - 1})
    assert stats["mean_abs_error"] < 0.01, stats


def test_int8_filter_at_another_size(tmp_path):
    model = kgan.zoo.load("test_pix2pix", pretrained=False)
    calibration = export.calibration_inputs(model, 16, split="test", size=(64, 40))
    assert calibration["source"].shape == (16, 64, 40, 1)
    path = export.export_tflite(model, tmp_path, "int8", calibration, uint8_io=True,
                                size="64x40")
    assert path.name == "test_pix2pix_64x40_int8_uint8.tflite"
    stats = export.compare(model, path, n=8)  # test-split sources resized to 64x40
    assert stats["mean_abs_error"] < 0.03, stats


def test_bad_sizes_and_options(tmp_path):
    pix2pix = kgan.zoo.load("test_pix2pix", pretrained=False)
    assert size_multiple(pix2pix.filter_model()) == 8
    with pytest.raises(ValueError, match=r"multiples of 8; received 36x40 \(e\.g\. use 32x40\)"):
        export.export_tflite(pix2pix, tmp_path, size=(36, 40))
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        export.export_savedmodel(pix2pix, tmp_path, size="big")
    dcgan = kgan.zoo.load("test_dcgan", pretrained=False)
    with pytest.raises(ValueError, match="size applies to image-to-image models"):
        export.export_tflite(dcgan, tmp_path, size=(32, 32))
    with pytest.raises(ValueError, match="only apply to quantize='int8'"):
        export.export_tflite(dcgan, tmp_path, "float16", uint8_io=True)
    with pytest.raises(ValueError, match=r"expected \(batch, 64, 40, 1\)"):
        export.export_tflite(pix2pix, tmp_path, "int8",
                             export.calibration_inputs(pix2pix, 4, split="test"), size=(64, 40))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- apply_filter


@pytest.fixture(scope="module")
def labels2photo():
    """A colour pix2pix as tiny as test_pix2pix."""
    from kgan.models.pix2pix import Pix2Pix

    return Pix2Pix.build((32, 32, 3), source_channels=3, width=4, depth=3, dropout_levels=1,
                         d_width=4, d_layers=1, name="labels2photo")


@pytest.fixture(scope="module")
def colour_filters(labels2photo, tmp_path_factory):
    out = tmp_path_factory.mktemp("colour_filters")
    return {"float32": export.export_tflite(labels2photo, out, uint8_io=True),
            "float16": export.export_tflite(labels2photo, out, "float16"),
            "int8": export.export_tflite(labels2photo, out, "int8", {"source": pixels(
                (32, 32, 32, 3), 1) / 127.5 - 1}, uint8_io=True)}


@pytest.mark.parametrize("fmt", ["float32", "float16", "int8"])
def test_apply_filter_keeps_colour_and_resolution(labels2photo, colour_filters, tmp_path, fmt,
                                                  capsys):
    tool = load_apply_filter()
    photo = pixels((1, 60, 80, 3), 5)[0]
    Image.fromarray(photo).save(tmp_path / "photo.jpg", quality=95)
    out = tmp_path / "out.png"
    assert tool.main([str(colour_filters[fmt]), str(tmp_path / "photo.jpg"), str(out)]) == 0
    messages = capsys.readouterr().out
    assert "photo.jpg is 80x60; resized to 32x32 for the filter, and the output back to 80x60" \
        in messages
    written = Image.open(out)
    assert (written.format, written.mode, written.size) == ("PNG", "RGB", (80, 60))
    # What the tool computes, in Keras: resize, translate, resize back.
    small = np.asarray(Image.open(tmp_path / "photo.jpg").resize((32, 32), Image.BILINEAR))
    result = (labels2photo.translate(small[None] / 127.5 - 1)[0] + 1) * 127.5
    result = Image.fromarray(np.round(result).astype(np.uint8)).resize((80, 60), Image.BILINEAR)
    error = np.abs(np.asarray(written, "float32") - np.asarray(result, "float32")).mean()
    assert error < {"float32": 0.5, "float16": 0.5, "int8": 3.0}[fmt], error  # 0, 0.01, 1.2
    assert tool.main([str(colour_filters[fmt]), str(tmp_path / "photo.jpg"),
                      str(tmp_path / "out.jpeg")]) == 0
    assert Image.open(tmp_path / "out.jpeg").format == "JPEG"


def test_apply_filter_converts_grey_and_rgba_photos(colour_filters, tmp_path, capsys):
    tool = load_apply_filter()
    path = str(colour_filters["float32"])
    Image.fromarray(pixels((1, 32, 32, 1))[0, ..., 0]).save(tmp_path / "grey.png")
    Image.fromarray(pixels((1, 32, 32, 4))[0]).save(tmp_path / "rgba.png")
    assert tool.main([path, str(tmp_path / "grey.png"), str(tmp_path / "a.png")]) == 0
    assert tool.main([path, str(tmp_path / "rgba.png"), str(tmp_path / "b.png")]) == 0
    messages = capsys.readouterr().out
    assert "grey.png is grayscale; converted to RGB" in messages
    assert "rgba.png is RGBA (with alpha); converted to RGB (alpha dropped)" in messages
    assert "resized" not in messages  # 32x32 photos fit the filter
    assert Image.open(tmp_path / "a.png").mode == Image.open(tmp_path / "b.png").mode == "RGB"


def test_apply_filter_bad_input_names_the_file_and_writes_nothing(colour_filters, tmp_path,
                                                                  capsys):
    tool = load_apply_filter()
    path = str(colour_filters["float32"])
    Image.fromarray(pixels((1, 32, 32, 3))[0]).save(tmp_path / "photo.png")
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "random.tflite").write_bytes(os.urandom(2048))
    dcgan = export.export_tflite(kgan.zoo.load("test_dcgan", pretrained=False), tmp_path)
    cases = [
        ([path, str(tmp_path / "corrupt.jpg"), str(out)], "corrupt.jpg is not a readable image"),
        ([path, str(tmp_path / "notes.txt"), str(out)], "notes.txt is not a readable image"),
        ([path, str(tmp_path / "missing.jpg"), str(out)], "No picture at"),
        ([str(tmp_path / "random.tflite"), str(tmp_path / "photo.png"), str(out)],
         "random.tflite is not a TFLite model"),
        ([str(dcgan), str(tmp_path / "photo.png"), str(out)],
         "test_dcgan_float32.tflite is not a kgan image filter"),
        ([path, str(tmp_path / "photo.png"), str(tmp_path / "out.gif")],
         "end the name with .png, .jpg or .jpeg"),
    ]
    for argv, message in cases:
        assert tool.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert out.read_bytes() == b"previous result"
    assert not (tmp_path / "out.gif").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_apply_filter_tiles_a_super_resolution_filter(tmp_path, capsys):
    tool = load_apply_filter()
    model = kgan.zoo.load("test_srgan", pretrained=False)
    path = export.export_tflite(model, tmp_path, size=(16, 16))
    photo = pixels((1, 30, 41, 1), 2)[0, ..., 0]
    Image.fromarray(photo).save(tmp_path / "small.png")
    out = tmp_path / "big.png"
    assert tool.main([str(path), str(tmp_path / "small.png"), str(out), "--tile"]) == 0
    assert "in tiles of 16x16" in capsys.readouterr().out
    big = np.asarray(Image.open(out), "float32")
    assert big.shape == (120, 164)
    # Tiles see the photo, not zero padding, except within their dropped margins.
    whole = export.translate_at(model, photo[None, ..., None] / 127.5 - 1, size=(30, 41))
    assert np.abs(big - (whole[0, ..., 0] + 1) * 127.5).mean() < 1.5  # 0.7; resizing: 4.4


@pytest.mark.slow
def test_cli_exports_a_sized_colour_filter_that_apply_filter_runs(colour, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    saved = tmp_path / "colour.keras"
    colour.save(saved)
    done = subprocess.run(
        [sys.executable, ROOT / "tools" / "export.py", saved, "--tflite", "--quantize",
         "float16", "--uint8_io", "--size", "48x64", "--direction", "b2a", "--out", tmp_path],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "cyclegan_horse2zebra_b2a_48x64_float16_uint8.tflite"
    # named like the zoo entry, it is compared on horse2zebra's test zebras, resized
    assert path.exists() and "against Keras on 32 test images" in done.stdout
    Image.fromarray(pixels((1, 96, 128, 3))[0]).save(tmp_path / "zebra.jpg")
    done = subprocess.run([sys.executable, ROOT / "tools" / "apply_filter.py", path,
                           tmp_path / "zebra.jpg", tmp_path / "horse.png"],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "horse.png").size == (128, 96)


# ---------------------------------------------------------------------------- photo entries
@pytest.mark.parametrize("name, g_params, d_params, patches", [
    # Isola et al.'s U-Net 256 (8 levels) and 70x70 PatchGAN on (label map, photo) pairs
    ("pix2pix_facades", 54.41e6, 2.769e6, (32, 32)),
    # Zhu et al.'s 9-block ResNet generators at half their width (a CPU recipe) and 70x70
    # PatchGANs
    ("cyclegan_horse2zebra", 2.853e6, 2.766e6, (32, 32)),
])
def test_photo_entries_build_their_registered_networks(name, g_params, d_params, patches):
    cfg = kgan.zoo.info(name)
    assert cfg.image_shape == (256, 256, 3)
    model = kgan.zoo.load(name, pretrained=False, compile=False)
    assert model.source_shape() == (256, 256, 3)
    assert model.generator.count_params() == pytest.approx(g_params, rel=1e-3)
    assert model.discriminator.count_params() == pytest.approx(d_params, rel=1e-3)
    assert model.discriminator.output_shape[1:3] == patches
    if not cfg.weights:  # an entry still in training says so instead of loading noise
        with pytest.raises(ValueError, match="no published weights yet"):
            kgan.zoo.load(name)


def test_a_translation_run_is_published_from_its_own_outputs(tmp_path):
    """tools/train_zoo.py --nopublish writes a translator's check outputs beside its report
    (photos are too large for JSON); --from_run reloads the weights and compares them."""
    from kgan.zoo import publish

    model = kgan.zoo.load("test_cyclegan", pretrained=False)
    training = {"epochs": 1, "steps": 3, "wall_seconds": 1.0}
    report = publish.write_run(model, "test_cyclegan", tmp_path, training)
    check = np.load(tmp_path / report["check"]["file"])["outputs"]
    assert check.shape == (2, 2, 28, 28, 1)  # directions a2b and b2a, 2 sources each
    loaded, facts = publish.load_run("test_cyclegan", tmp_path)
    assert facts["cross_backend_max_abs_error"] < 1e-6 and facts["steps"] == 3
    np.savez(tmp_path / report["check"]["file"], outputs=check + 0.5)
    with pytest.raises(ValueError, match="differ from the training run's by up to 0.5"):
        publish.load_run("test_cyclegan", tmp_path)


# ---------------------------------------------------------------------------- dynamic size
def padded_translation(network, images, multiple):
    """What a dynamic-size filter computes: the images reflect-padded at the bottom and
    right to ``multiple``, the network built for that size, the output cropped back."""
    _, h, w, _ = images.shape
    ph, pw = -h % multiple, -w % multiple
    padded = np.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
    out = np.clip(np.asarray(resize_filter(network, (h + ph, w + pw))(padded)), -1, 1)
    scale = out.shape[1] // (h + ph)
    return out[:, :h * scale, :w * scale]


@pytest.mark.parametrize("quantize", ["none", "float16"])
def test_dynamic_size_filters_run_at_any_size(labels2photo, colour, tmp_path, quantize):
    """Float filters exported with size='dynamic' take photos of any size, including sides
    that are not multiples of the network's downsampling, and compute what Keras does."""
    sr = kgan.zoo.load("test_srgan", pretrained=False)
    bound = 1e-4 if quantize == "none" else 0.03  # float16 weights
    for model, sizes in ((labels2photo, [(32, 32), (40, 56), (27, 33)]),
                         (colour, [(32, 32), (30, 45)]), (sr, [(7, 7), (10, 13)])):
        path = export.export_tflite(model, tmp_path, quantize, size="dynamic")
        assert path.name.startswith(f"{model.name}_dynamic_")
        network = model.filter_model()
        run = export.tflite.tflite_runner(path, 1)
        for size in sizes:
            images = pixels((2, *size, network.input_shape[-1]), 3) / 127.5 - 1
            out = run({"source": images.astype("float32")})
            expected = padded_translation(network, images, size_multiple(network))
            assert out.shape == expected.shape
            assert np.abs(out - expected).max() < bound, (model.name, size)
        assert export.compare(model, path, n=2)["mean_abs_error"] < bound / 10


def test_dynamic_size_is_for_float_files(labels2photo, tmp_path):
    with pytest.raises(ValueError, match="int8 filters have one fixed input size"):
        export.export_tflite(labels2photo, tmp_path, "int8", size="dynamic")
    with pytest.raises(ValueError, match="HEIGHTxWIDTH such as 512x384; received 'dynamic'"):
        export.export_savedmodel(labels2photo, tmp_path, size="dynamic")
    assert not list(tmp_path.iterdir())


def test_apply_filter_runs_a_dynamic_filter_at_the_photos_size(colour, tmp_path, capsys):
    tool = load_apply_filter()
    path = export.export_tflite(colour, tmp_path, "float16", uint8_io=True, size="dynamic")
    photo = pixels((1, 45, 70, 3), 4)[0]
    Image.fromarray(photo).save(tmp_path / "horse.png")
    out = tmp_path / "zebra.png"
    assert tool.main([str(path), str(tmp_path / "horse.png"), str(out)]) == 0
    assert "resized" not in capsys.readouterr().out
    zebra = np.asarray(Image.open(out), "float32")
    expected = padded_translation(colour.filter_model(), photo[None] / 127.5 - 1, 4)[0]
    assert zebra.shape == (45, 70, 3)
    assert np.abs(zebra - (expected + 1) * 127.5).mean() < 1.0


def test_facades_scores_have_the_nearest_training_photo_baseline():
    from kgan.evaluation.translation import nearest_rows, paired_scores
    from kgan.models.pix2pix import Pix2Pix

    (label_maps, _), _ = data.load_arrays("facades", "train")
    maps = label_maps[:40].astype("float32") / 127.5 - 1
    assert nearest_rows(maps[[7, 3, 30]], maps).tolist() == [7, 3, 30]
    tiny = Pix2Pix.build((256, 256, 3), source_channels=3, width=4, depth=8, dropout_levels=1,
                         d_width=4, d_layers=1)
    report = kgan.metrics.evaluate(tiny, "facades", n=6)
    assert report["n"] == 6 and set(report["nearest_training_target"]) == {"l1", "ssim", "psnr"}
    # a real photo of another facade is closer to the target than the label map is
    assert report["nearest_training_target"]["l1"] < report["identity"]["l1"]
    assert report["psnr"] == pytest.approx(paired_scores(tiny, "facades", n=6)["psnr"], rel=1e-5)
