"""The README's zoo tables, built from the published cards (``zoo/<entry>/card.json``).

Every number in the README's zoo tables comes from a card, so the README cannot drift from
the weights it describes: ``python tools/zoo_table.py --write`` puts :func:`readme_block`
between the README's ``<!-- zoo-table:start -->`` and ``<!-- zoo-table:end -->`` lines, and
``tests/test_readme.py`` fails when the block there differs from a fresh one.

A row per published entry (registered, with weights and a card; the ``test_*`` entries are
left out) shows the entry (linking ``docs/zoo/<entry>.md``, its samples and card), its
family, data and resolution, the headline measures of its kind, how it was trained and the
size of its weights. The measures differ by kind, as ``kgan eval`` does:

* images: FID on the project's classifier features, with the real train-vs-test floor, and
  precision / recall (conditional entries add the label accuracy);
* text to image: class accuracy on held-out captions, FID (floor), precision / recall;
* image to image: the translation measures (L1 / SSIM, target-class share, PSNR) next to
  their baseline (identity, untranslated inputs, bicubic);
* audio: label accuracy, Inception Score and Fréchet distance (floor) on the spoken-digit
  classifier's features;
* voxels: label accuracy, Fréchet distance (floor), class KL and nearest-neighbour IoU.

Example:
    >>> from kgan.zoo.table import zoo_table_markdown
    >>> print(zoo_table_markdown())
"""

import json
import re
from pathlib import Path

from kgan.zoo import registry, weights as zoo_weights

START = "<!-- zoo-table:start -->"
END = "<!-- zoo-table:end -->"

#: Rows are grouped by kind, in this order (then by name).
KINDS = ("image", "text", "translation", "audio", "voxel")


def published_entries():
    """Names of the registered entries with published weights and a card, ``test_*`` aside."""
    return [name for name in registry.list_models()
            if not name.startswith("test_") and registry.info(name).weights
            and registry.info(name).card]


def card_kind(card):
    """What an entry's card measures: one of :data:`KINDS`."""
    metrics = card.get("metrics", {})
    if "generated" in metrics:
        return "voxel"
    if "sample_rate" in card:
        return "audio"
    if "srgan" in metrics or "a2b_target_share" in metrics or "ssim" in metrics:
        return "translation"
    if "class_accuracy" in metrics:
        return "text"
    return "image"


def _pct(x, digits=1):
    if x in (0, 1):
        return f"{100 * x:.0f} %"
    return f"{100 * x:.{digits}f} %"


def _num(x, digits=2):
    return f"{x:.{digits}f}"


def _duration(seconds):
    return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.0f} min"


def _epochs(x):
    return f"{x:.3g}" if x != int(x) else str(int(x))


def _hardware(hardware, backend=None):
    """``"H100, JAX"`` / ``"2 CPU cores, TF"`` from a card's hardware line."""
    gpu = re.search(r"NVIDIA ([A-Z]\d+)", hardware)
    if gpu:
        where = gpu.group(1)
    else:
        cores = re.search(r"CPU x(\d+)", hardware) or re.search(r"(\d+) CPU cores", hardware)
        where = f"{cores.group(1)} CPU cores" if cores else "CPU"
    if backend is None:
        backend = "jax" if "JAX" in hardware else "tensorflow"
    return f"{where}, {'JAX' if backend == 'jax' else 'TF'}"


def _resolution(card, kind):
    shape = card["image_shape"]
    if kind == "voxel":
        return f"{shape[0]}³ voxels"
    if kind == "audio":
        rate = f"{card['sample_rate'] / 1000:g} kHz"
        if len(shape) == 2:
            return f"{shape[0]:,} samples, {rate}"
        return f"{rate} via {shape[0]}x{shape[1]} spectrograms"
    colour = {1: "grey", 3: "RGB"}.get(shape[-1], f"x{shape[-1]}")
    size = f"{shape[0]}x{shape[1]} {colour}"
    if "source_shape" in card:
        source = card["source_shape"]
        return f"{source[0]}x{source[1]} → {size}"
    return size


def _quality(card, kind):
    m = card["metrics"]
    if kind == "voxel":
        gen, real = m["generated"], m["real_test"]
        parts = [f"FD {_num(gen['frechet_distance'])} "
                 f"(floor {_num(real['frechet_distance_train_vs_test'])})",
                 f"class KL {gen['class_kl']:.3f}",
                 f"NN IoU {_num(gen['nn_iou_to_train'])} (test {_num(real['nn_iou_to_train'])})"]
        if "label_accuracy" in gen:
            parts.insert(0, f"label acc. {_pct(gen['label_accuracy'])}")
        return ", ".join(parts)
    if kind == "audio":
        real = m["real_reference"]
        parts = [f"IS {_num(m['inception_score'])} (real {_num(real['inception_score'])})",
                 f"FD {_num(m['frechet_distance'])} "
                 f"(floor {_num(real['frechet_distance_train_vs_test'])})"]
        if "label_accuracy" in m:
            parts.insert(0, f"label acc. {_pct(m['label_accuracy'])}")
        return ", ".join(parts)
    if kind == "translation":
        if "srgan" in m:  # judged by a classifier's accuracy, or photos by feature distance
            model, base = m["srgan"], m["bicubic"]
            key, label, show = (("classifier_accuracy", "classifier acc.", _pct)
                                if "classifier_accuracy" in model else
                                ("feature_distance", "feature dist.", lambda x: f"{x:.3f}"))
            return (f"PSNR {model['psnr']:.1f} dB, SSIM {model['ssim']:.3f}, {label} "
                    f"{show(model[key])} (bicubic {base['psnr']:.1f} dB, {base['ssim']:.3f}, "
                    f"{show(base[key])})")
        if "a2b_target_share" in m:
            return (f"target class a2b / b2a {_pct(m['a2b_target_share'])} / "
                    f"{_pct(m['b2a_target_share'])} (untranslated "
                    f"{_pct(m['a_called_b_untranslated'])} / "
                    f"{_pct(m['b_called_a_untranslated'])}), cycle L1 "
                    f"{m['cycle_l1_a']:.3f} / {m['cycle_l1_b']:.3f}")
        if "classifier_accuracy" not in m:  # photos: no classifier, a nearest-photo baseline
            near = m["nearest_training_target"]
            return (f"L1 {m['l1']:.3f}, PSNR {m['psnr']:.1f} dB, SSIM {m['ssim']:.3f} "
                    f"(nearest training photo {near['l1']:.3f}, {near['psnr']:.1f} dB, "
                    f"{near['ssim']:.3f})")
        base = m["identity"]
        return (f"L1 {m['l1']:.3f}, SSIM {m['ssim']:.3f} (identity {base['l1']:.3f}, "
                f"{base['ssim']:.3f}), classifier acc. {_pct(m['classifier_accuracy'])} "
                f"(inputs {_pct(base['classifier_accuracy'])})")
    parts = [f"FID {_num(m['fid'])} (floor {_num(m['real_floor']['fid'])})",
             f"P / R {_num(m['precision'])} / {_num(m['recall'])}"]
    if kind == "text":
        parts.insert(0, f"class acc. {_pct(m['class_accuracy'])} "
                        f"(real {_pct(m['real_class_accuracy'])})")
    elif "label_accuracy" in m:
        parts.append(f"label acc. {_pct(m['label_accuracy'])}")
    return ", ".join(parts)


def _training(card):
    t = card["training"]
    recipe = card.get("recipe", {})
    if "stage1" in t and "stage2" in t:  # StackGAN: stage I, then stage II
        amount = f"{_epochs(t['stage1']['epochs'])} + {_epochs(t['stage2']['epochs'])} ep"
    elif isinstance(t.get("steps"), dict):  # SRGAN: SRResNet pre-training, then the GAN
        amount = " + ".join(f"{v:,}" for v in t["steps"].values()) + " steps"
    else:
        amount = f"{_epochs(t['epochs'])} ep"
        planned = recipe.get("epochs")
        if planned and t["epochs"] < planned - 0.5:
            amount = f"{_epochs(t['epochs'])} of {planned} ep"
    return (f"{amount}, {_duration(t['wall_seconds'])}, "
            f"{_hardware(t['hardware'], t.get('keras_backend'))}")


def _entry_cell(name):
    folder = f"zoo/{name}"
    return (f"[`{name}`](docs/zoo/{name}.md) ([samples]({folder}/samples.png), "
            f"[card]({folder}/card.json))")


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def zoo_table_markdown(names=None):
    """The generators' table, in Markdown: one row per published entry (see module doc).

    Args:
        names: entries to show (default :func:`published_entries`).
    """
    names = published_entries() if names is None else names
    cards = {name: registry.info(name).card for name in names}
    order = sorted(names, key=lambda n: (KINDS.index(card_kind(cards[n])), n))
    lines = [_row(["entry", "family", "data", "resolution", "quality (card)", "training",
                   "size"]),
             _row(["---"] * 7)]
    for name in order:
        card = cards[name]
        kind = card_kind(card)
        lines.append(_row([
            _entry_cell(name),
            card["family"],
            f"`{card['dataset']}`",
            _resolution(card, kind),
            _quality(card, kind),
            _training(card),
            f"{card['size_bytes'] / 1e6:.1f} MB",
        ]))
    return "\n".join(lines)


def _feature_model_cards():
    """Cards of the published classifiers and text encoders, by name."""
    root = zoo_weights.zoo_dir()
    found = {}
    for pattern in ("classifier_*", "text_encoder_*"):
        for path in sorted(root.glob(f"{pattern}/card.json")):
            found[path.parent.name] = json.loads(path.read_text())
    return found


def classifier_table_markdown():
    """The feature models' table: the classifiers ``kgan.metrics`` measures with (test
    accuracy) and the text encoders of the text-to-image entries (held-out accuracy)."""
    lines = [_row(["model", "data", "accuracy", "training", "size"]), _row(["---"] * 5)]
    for name, card in _feature_model_cards().items():
        folder = f"zoo/{name}"
        if name.startswith("classifier_"):
            figure = f"[confusion]({folder}/confusion.png)"
            accuracy = (f"{_pct(card['test_accuracy'], 2)} "
                        f"({card['test_images']:,} test {_unit(card)})")
            epochs = len(card.get("history", {}).get("accuracy", [])) or card["recipe"]["epochs"]
            precision = card["recipe"].get("precision")
            training = (f"{epochs} ep, {_duration(card['wall_time_s'])}, "
                        f"{_hardware(card['hardware'])}"
                        + (f", {precision}" if precision else ""))
            size = card["weights_bytes"]
        else:
            figure = f"[similarity]({folder}/similarity.png)"
            held = card["heldout"]
            accuracy = (f"{_pct(min(held.values()))} of class and attribute words "
                        f"({card['heldout_captions']} held-out captions)")
            training = (f"{card['recipe']['epochs']} ep, {_duration(card['wall_seconds'])}, "
                        f"{_hardware(card['hardware'])}")
            size = card["size_bytes"]
        lines.append(_row([f"[`{name}`](docs/zoo/classifiers.md) ({figure}, "
                           f"[card]({folder}/card.json))",
                           f"`{card['dataset']}`", accuracy, training,
                           f"{size / 1e6:.1f} MB"]))
    return "\n".join(lines)


def _unit(card):
    return {"spoken_digits": "clips", "shapes3d_32": "shapes"}.get(card["dataset"], "images")


def readme_block():
    """What goes between :data:`START` and :data:`END` in the README: both tables."""
    return (f"{zoo_table_markdown()}\n\nFeature models (the measures' classifiers, the "
            f"captions' text encoder):\n\n{classifier_table_markdown()}")


def readme_table(text):
    """The block between the markers in ``text`` (without them); ``ValueError`` if absent."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"The README has no {START} ... {END} block.")
    return text[start + len(START):end].strip("\n")


def update_readme(path):
    """Rewrites the block between the markers of the README at ``path`` from the cards.

    Returns:
        True when the file changed.
    """
    path = Path(path)
    text = path.read_text()
    readme_table(text)  # raises when the markers are missing
    start, end = text.find(START), text.find(END)
    new = f"{text[:start]}{START}\n{readme_block()}\n{text[end:]}"
    if new == text:
        return False
    zoo_weights.write_text_atomically(path, new)
    return True
