"""Training and publishing the text encoder of a captioned data set (``zoo/<entry>/``).

Linear heads on the embedding of :func:`kgan.modalities.text.build_text_encoder` learn each
caption's class and attribute words; the heads are dropped and the encoder frozen, published
with a card and a similarity figure. ``tools/train_text_encoder.py`` runs it.
"""

import json
import time

import keras
import numpy as np
from keras import layers

from kgan.modalities.text import (TEXT_ENCODERS, build_text_encoder, caption_targets,
                                  dataset_module, encode_texts)
from kgan.zoo import weights as zoo_weights
from kgan.zoo.hardware import hardware


def _heads(encoder, attributes, num_classes):
    embedding = encoder.output
    outputs = {"class": layers.Dense(num_classes, name="class")(embedding)}
    for attribute in attributes:
        outputs[attribute] = layers.Dense(3, name=attribute)(embedding)
    return keras.Model(encoder.input, outputs, name="text_encoder_trainer")


def train_text_encoder(dataset="fashion_captions", epochs=100, batch_size=32,
                       learning_rate=2e-3, seed=0, data_dir=None):
    """Trains a text encoder on caption -> class and caption -> attribute-word prediction.

    Linear heads on the embedding predict the class and, per attribute, which of its two
    words the caption uses (or that it names none), so the embedding must separate every
    class and attribute word; the heads are dropped afterwards. The training captions are
    the distinct training-template captions of the train split; the report's accuracies are
    measured on the distinct held-out-template captions of the test split (phrasings the
    encoder never saw). Returns ``(encoder, report)``, the encoder frozen.
    """
    module = dataset_module(dataset)
    keras.utils.set_random_seed(seed)
    start = time.time()
    train = np.unique(module.load_arrays("train", data_dir)["captions"])
    heldout = np.unique(module.load_arrays("test", data_dir)["heldout_captions"])
    encoder = build_text_encoder(module.vocabulary(), **TEXT_ENCODERS[dataset]["kwargs"])
    trainer = _heads(encoder, module.ATTRIBUTES, module.NUM_CLASSES)
    trainer.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
              for k in trainer.output},
        metrics={k: ["accuracy"] for k in trainer.output})
    y = caption_targets(train, dataset)
    trainer.fit(train.astype(object), y, epochs=epochs, batch_size=batch_size, shuffle=True,
                verbose=0)
    report = {"train_captions": len(train), "heldout_captions": len(heldout),
              "wall_seconds": round(time.time() - start, 1),
              "recipe": dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed),
              "train": text_encoder_accuracy(trainer, train, dataset),
              "heldout": text_encoder_accuracy(trainer, heldout, dataset)}
    encoder.trainable = False
    return encoder, report


def text_encoder_accuracy(trainer, captions, dataset="fashion_captions"):
    """Class accuracy and, per attribute, accuracy on the captions that mention it."""
    y = caption_targets(captions, dataset)
    predicted = trainer.predict(np.asarray(captions, object), verbose=0)
    scores = {"class_accuracy": float(np.mean(predicted["class"].argmax(-1) == y["class"]))}
    for attribute in dataset_module(dataset).ATTRIBUTES:
        mentioned = y[attribute] < 2
        scores[f"{attribute}_accuracy"] = float(np.mean(
            predicted[attribute].argmax(-1)[mentioned] == y[attribute][mentioned]))
    return scores


def publish_text_encoder(encoder, report, dataset="fashion_captions"):
    """Writes ``zoo/<entry>/`` (weights + ``card.json``) and returns the card."""
    spec = TEXT_ENCODERS[dataset]
    folder = zoo_weights.zoo_dir() / spec["entry"]
    folder.mkdir(parents=True, exist_ok=True)
    path = zoo_weights.save_atomically(encoder, folder / spec["weights"])
    similarity_figure(encoder, dataset, folder / "similarity.png")
    card = {
        "name": spec["entry"],
        "dataset": dataset,
        "architecture": "TextVectorization -> word embedding -> masked mean -> MLP -> L2 norm",
        "builder": "kgan.modalities.text.build_text_encoder",
        "kwargs": spec["kwargs"],
        "vocabulary_size": len(dataset_module(dataset).vocabulary()),
        "objective": "predict the caption's class and attribute words from the embedding",
        "weights": path.name,
        "sha256": zoo_weights.sha256_of(path),
        "size_bytes": path.stat().st_size,
        **report,
        "hardware": hardware(),
        "figure": "similarity.png: cosine similarity of the embeddings of the sample-grid "
                  "captions (rows and columns in the same order, white = 1, black <= 0)",
    }
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def similarity_figure(encoder, dataset, path, scale=6):
    """The encoder card's picture: cosine similarities between the embeddings of the data
    set's ``sample_captions()`` (one block per class along the diagonal when the encoder
    separates classes), as a grey PNG."""
    from PIL import Image

    embeddings = encode_texts(encoder, dataset_module(dataset).sample_captions())
    similarity = np.clip(embeddings @ embeddings.T, 0.0, 1.0)  # unit vectors: cosines
    pixels = np.kron((similarity * 255).round().astype("uint8"),
                     np.ones((scale, scale), "uint8"))
    Image.fromarray(pixels, "L").save(path)
    return path
