"""The kgan command: each subcommand for real, errors as one line with a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def kgan_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kgan.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, check=False)


def test_list_and_info():
    listed = kgan_cli("list", "dcgan_*")
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
