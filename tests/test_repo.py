"""Repository wiring: CI runs exactly the README's test command; the device-call helper."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert readme[0] == "```bash"
    commands = [line for line in readme[1:5] if line and not line.startswith(("#", "```"))]
    assert len(commands) == 2 and "quickstart" in commands[0] and "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def _device_tree_in_new_repo(repo):
    """tools/device_tree.sh copied into ``repo``, made a git repository: its command line."""
    (repo / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "device_tree.sh", repo / "tools")
    _git(repo, "init", "-q")
    return ["bash", str(repo / "tools" / "device_tree.sh")]


def test_device_tree_slims_the_index_to_travel_and_restores_it(tmp_path):
    """tools/device_tree.sh untracks zoo/ but its classifiers (files stay on disk), ignores
    it, and restore gives back HEAD's index with the ignore rule gone."""
    script = _device_tree_in_new_repo(tmp_path)
    for path in ("zoo/dcgan/dcgan.weights.h5", "zoo/classifier_x/x.weights.h5", "kgan/a.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"\0" * 1000)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    head_files = _git(tmp_path, "ls-files")
    slim = subprocess.run(script + ["slim"], capture_output=True, text=True, check=True)
    assert "travels: 0 MiB of 64 MiB" in slim.stdout
    assert _git(tmp_path, "ls-files", "zoo").split() == ["zoo/classifier_x/x.weights.h5"]
    assert _git(tmp_path, "ls-files", "--others", "--exclude-standard") == ""
    assert (tmp_path / "zoo" / "dcgan" / "dcgan.weights.h5").exists()
    for _ in range(2):
        subprocess.run(script + ["restore"], capture_output=True, text=True, check=True)
        assert _git(tmp_path, "ls-files") == head_files
        assert _git(tmp_path, "status", "--porcelain") == ""
        assert "/zoo/" not in (tmp_path / ".git" / "info" / "exclude").read_text()
    # Over the limit (a sparse 65 MiB file in .dev/): refused, the index left as HEAD's.
    (tmp_path / ".dev").mkdir()
    with open(tmp_path / ".dev" / "data.npz", "wb") as f:
        f.truncate(65 * 2**20)
    refused = subprocess.run(script + ["slim"], capture_output=True, text=True)
    assert refused.returncode == 1 and "carry less in .dev/" in refused.stderr
    assert _git(tmp_path, "ls-files") == head_files


def test_device_tree_prepare_copies_the_named_data_sets(tmp_path):
    """``prepare SET ...`` copies each named data set's files into .dev/data (real copies),
    keeps wheels already in .dev/wheels (no download), and refuses an unknown set."""
    script = _device_tree_in_new_repo(tmp_path) + ["prepare"]
    shared = tmp_path / "shared"
    files = {"cifar10": ["cifar10_train_jpeg.npz", "cifar10_test_jpeg.npz"],
             "mnist": ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]}
    for name, names in files.items():
        (shared / name).mkdir(parents=True)
        for file in names + ["SOURCE.md"]:
            (shared / name / file).write_text(f"{name}/{file}")
    wheels = tmp_path / ".dev" / "wheels"
    wheels.mkdir(parents=True)
    version = importlib.metadata.version("keras")
    for wheel in (f"keras-{version}-py3-none-any.whl", "namex-0.1.0-py3-none-any.whl",
                  "optree-0.16.0-cp312-cp312-manylinux_2_17_x86_64.whl"):
        (wheels / wheel).write_text("wheel")
    env = {**os.environ, "SHARED_DATA": str(shared), "PYTHON": sys.executable,
           "PIP_NO_INDEX": "1"}
    subprocess.run(script + ["cifar10", "mnist"], env=env, capture_output=True, text=True,
                   check=True)
    for name, names in files.items():
        copied = sorted(p.name for p in (tmp_path / ".dev" / "data" / name).iterdir())
        assert copied == sorted(names)
        for file in names:
            path = tmp_path / ".dev" / "data" / name / file
            assert not path.is_symlink() and path.read_text() == f"{name}/{file}"
    assert len(list(wheels.iterdir())) == 3
    refused = subprocess.run(script + ["imagenet"], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown data set 'imagenet'" in refused.stderr
