"""The kgan command: each subcommand for real, errors as one line with a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def kgan_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kgan.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, check=False)


def test_list_and_info():
    listed = kgan_cli("list", "dcgan_*mnist")
    assert listed.returncode == 0, listed.stderr
    assert [l.split()[0] for l in listed.stdout.splitlines()] == ["dcgan_fashion_mnist",
                                                                  "dcgan_mnist"]
    info = kgan_cli("info", "cgan_mnist")
    assert info.returncode == 0 and '"num_classes": 10' in info.stdout


@pytest.mark.parametrize("args, message", [
    (("info", "dcgan_mnsit"), "Unknown zoo entry 'dcgan_mnsit'"),
    (("frobnicate",), "expected a command"),
    (("sample",), "exactly one zoo entry"),
    (("train", "test_dcgan", "--strategy", "tpu"), "strategy"),
])
def test_errors_are_one_line(args, message):
    done = kgan_cli(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    ours = [l for l in done.stderr.splitlines() if l.startswith("kgan: error")]
    assert len(ours) == 1 and message in ours[0], done.stderr


@pytest.mark.slow
def test_train_then_sample(tmp_path):
    done = kgan_cli("train", "test_dcgan", "--epochs", "1", "--steps_per_epoch", "2",
                    "--batch_size", "16", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "run"
    assert (run / "test_dcgan.weights.h5").exists()
    assert (run / "samples" / "epoch_0001.png").exists()
    assert (run / "backup").is_dir()
    sample = kgan_cli("sample", "test_cgan", "--nopretrained", "--n", "20", "--out",
                      str(tmp_path / "grid.png"))
    assert sample.returncode == 0 and (tmp_path / "grid.png").exists(), sample.stderr[-2000:]
    scores = kgan_cli("eval", "test_dcgan", "--nopretrained", "--n", "64")
    assert scores.returncode == 0, scores.stderr[-2000:]
    assert '"fid"' in scores.stdout and '"extractor": "classifier_mnist@' in scores.stdout


def cli_in_process(args, capsys):
    """``kgan ARGS`` in this process (no TensorFlow start-up per case): (status, stderr)."""
    from kgan import cli

    cli.FLAGS.unparse_flags()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(cli._parse_flags(["kgan", *args]))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, status, message", [
    (("--nosuchflag",), 2, "Unknown command line flag 'nosuchflag'"),
    (("info",), 2, "expected exactly one zoo entry name"),
    (("info", "a", "b"), 2, "expected exactly one zoo entry name"),
    (("train", "nosuch_gan"), 2, "Unknown zoo entry 'nosuch_gan'"),
    (("train", "test_dcgan", "--epochs", "0"), 2, "--epochs=0: 0 is not a positive integer"),
    (("train", "test_dcgan", "--batch_size", "-8"), 2, "--batch_size=-8"),
    (("train", "test_dcgan", "--backup_every", "0"), 2, "--backup_every=0"),
    (("train", "test_dcgan", "--epochs", "two"), 2, "--epochs=two"),
    (("train", "test_dcgan", "--data", "mnsit"), 2, "Unknown data set 'mnsit'"),
    (("train", "test_dcgan", "--data_dir", "/no/such/dir"), 2,
     "data_dir /no/such/dir is not a folder"),
    (("sample", "test_dcgan"), 2, "has no published weights yet"),
    (("sample", "test_dcgan", "--nopretrained", "--n", "0"), 2, "--n=0"),
    (("sample", "test_dcgan", "--nopretrained", "--out", "/dev/null/x.png"), 2, "/dev/null"),
    (("sample", "test_wavegan", "--nopretrained", "--out", "clips.png"), 2,
     "--out for an audio model is a folder for .wav files"),
    (("sample", "test_dcgan", "--nopretrained", "--label", "3"), 2,
     "--label applies to conditional models; test_dcgan is unconditional"),
    (("sample", "test_cgan", "--nopretrained", "--label", "10"), 2, r"labels must be in [0, 10)"),
    (("sample", "test_cgan", "--nopretrained", "--label", "1", "--label", "2", "--n", "3"), 2,
     "--n=3 but 2 --label values"),
    (("sample", "test_text2image", "--nopretrained", "--label", "1"), 2, "use --text"),
    (("eval", "test_dcgan", "--nopretrained", "--n", "1"), 2, "n must be an integer >= 2"),
    (("eval", "nosuch_gan"), 2, "Unknown zoo entry"),
    (("export", "gone.keras", "--tflite"), 2, "No .keras file at gone.keras"),
    (("export", "test_dcgan", "--savedmodel", "--tflite"), 2, "exactly one of --savedmodel"),
    (("export", "test_dcgan", "--tflite", "--quantize", "int4"), 2, "--quantize=int4"),
    (("export", "test_dcgan", "--savedmodel", "--quantize", "int8"), 2,
     "--quantize applies to --tflite only"),
    (("export", "test_dcgan", "--tflite"), 2, "no published weights yet"),
])
def test_every_subcommand_rejects_bad_input_in_one_line(args, status, message, capsys):
    code, stderr = cli_in_process(args, capsys)
    assert code == status
    assert len(stderr.splitlines()) == 1 and stderr.startswith("kgan: error: "), stderr
    assert message in stderr, stderr


def test_sample_writes_wav_files_for_audio_entries(tmp_path, capsys):
    from kgan import cli
    from kgan.modalities import audio

    cli.FLAGS.unparse_flags()
    cli.main(cli._parse_flags(["kgan", "sample", "test_wavegan", "--nopretrained", "--n", "3",
                               "--out", str(tmp_path / "clips")]))
    files = sorted((tmp_path / "clips").glob("*.wav"))
    assert [f.name for f in files] == ["00_class0.wav", "01_class1.wav", "02_class2.wav"]
    clip = audio.read_wav(files[0])
    assert clip.shape == (audio.CLIP_LENGTH,) and np.isfinite(clip).all()
    assert "wrote 3 clips of test_wavegan" in capsys.readouterr().out
    cli.FLAGS.unparse_flags()
    cli.main(cli._parse_flags(["kgan", "sample", "test_wavegan", "--nopretrained", "--n", "2",
                               "--label", "7", "--out", str(tmp_path / "sevens")]))
    assert sorted(f.name for f in (tmp_path / "sevens").glob("*.wav")) == [
        "00_class7.wav", "01_class7.wav"]


def test_sample_into_an_existing_folder_whose_name_has_a_dot(tmp_path, capsys):
    """``--out run.v2`` names a folder when that folder exists: images go inside it as
    ``<name>_samples.png``, audio clips into it."""
    from kgan import cli

    run = tmp_path / "run.v2"
    run.mkdir()
    for name, expected in (("test_dcgan", "test_dcgan_samples.png"),
                           ("test_wavegan", "00_class0.wav")):
        cli.FLAGS.unparse_flags()
        cli.main(cli._parse_flags(["kgan", "sample", name, "--nopretrained", "--n", "2",
                                   "--out", str(run)]))
        assert (run / expected).is_file()
    assert "Traceback" not in capsys.readouterr().err


def test_sample_label_picks_the_classes(tmp_path, capsys):
    """--label once: --n samples of that class; repeated: one sample per label."""
    from PIL import Image

    from kgan import cli

    for args, n in ((["--label", "7", "--n", "4"], 4), (["--label", "1", "--label", "2"], 2)):
        cli.FLAGS.unparse_flags()
        out = tmp_path / f"grid{n}.png"
        cli.main(cli._parse_flags(["kgan", "sample", "test_cgan", "--nopretrained", *args,
                                   "--out", str(out)]))
        assert f"wrote {n} samples of test_cgan" in capsys.readouterr().out
        assert Image.open(out).size[0] > 0


def test_a_diverging_run_exits_1_in_one_line(tmp_path, capsys, monkeypatch, recwarn):
    import numpy as np

    from kgan import data, training

    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    images[16:] = np.nan  # batches 3 and 4 of 8 images
    monkeypatch.setattr(training.kgan_data, "load",
                        lambda *a, **k: data.from_numpy(images, batch_size=8, shuffle=False))
    code, stderr = cli_in_process(("train", "test_dcgan", "--out", str(tmp_path), "--batch_size",
                                   "8", "--backup_every", "1"), capsys)
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("kgan: error: Training diverged at step 3: d_loss=nan")
    assert not [w for w in recwarn if "NaN" in str(w.message)]  # stopped before any backup
