"""Naming rules for projects, models, deployments and entity types (Azure reference §2.6), and language codes."""

from __future__ import annotations

import re

from ner.limits import DEPLOYMENT_NAME_MAX, ENTITY_TYPE_NAME_MAX, MODEL_NAME_MAX, PROJECT_NAME_MAX

_RESOURCE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_ENTITY_FORBIDDEN = set(":$&%*()+~#/?")

# ISO 639-1 codes: the primary subtag of a BCP-47 tag must be a real language, not just two letters.
ISO_639_1 = frozenset(
    [
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bh",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
    ]
)
# Three-letter codes for languages spaCy supports that have no two-letter code.
ISO_639_3_EXTRA = frozenset({"grc", "hsb", "dsb", "lij", "tlh", "fil", "yue", "haw", "ceb", "ast"})

# RFC 5646 "langtag" without extlang/private use, which nobody sends here: language-script-region-variants.
_BCP47 = re.compile(
    r"(?P<language>[A-Za-z]{2,3})"
    r"(?:-(?P<script>[A-Za-z]{4}))?"
    r"(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*)"
)


class InvalidName(ValueError):
    """A name or code breaks a rule; the message says which."""


def _check_resource_name(name: str, kind: str, maximum: int) -> str:
    if not name:
        raise InvalidName(f"{kind} name is required")
    if len(name) > maximum:
        raise InvalidName(f"{kind} name is {len(name)} characters long; the limit is {maximum}")
    if not _RESOURCE_NAME.fullmatch(name):
        raise InvalidName(f"{kind} name may contain only letters, digits and the symbols _ . - (no spaces): {name!r}")
    if name in {".", ".."}:
        # The name is a URL path segment (/projects/<name>/), and browsers resolve "." and ".." segments away:
        # /projects/../ would open the project list, /deployments/../delete/ the project's delete page.
        raise InvalidName(f"{kind} name cannot be only a dot or two dots: {name!r}")
    return name


def check_project_name(name: str) -> str:
    return _check_resource_name(name, "Project", PROJECT_NAME_MAX)


def check_model_name(name: str) -> str:
    return _check_resource_name(name, "Model", MODEL_NAME_MAX)


def check_deployment_name(name: str) -> str:
    return _check_resource_name(name, "Deployment", DEPLOYMENT_NAME_MAX)


def check_entity_type_name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidName("Entity type name is required")
    if name != name.strip():
        raise InvalidName(f"Entity type name must not start or end with whitespace: {name!r}")
    if len(name) > ENTITY_TYPE_NAME_MAX:
        raise InvalidName(f"Entity type name is {len(name)} characters long; the limit is {ENTITY_TYPE_NAME_MAX}")
    bad = sorted(set(name) & _ENTITY_FORBIDDEN)
    if bad:
        raise InvalidName(
            f"Entity type name may not contain {' '.join(bad)} (forbidden: : $ & % * ( ) + ~ # / ?): {name!r}"
        )
    if any(not ch.isprintable() for ch in name):
        raise InvalidName(f"Entity type name contains a control character: {name!r}")
    return name


def normalize_language(code: str) -> str:
    """Validate a BCP-47 language tag and return it in canonical case (``en-us`` -> ``en-US``)."""
    match = _BCP47.fullmatch(code.strip()) if code else None
    if match is None:
        raise InvalidName(f"{code!r} is not a BCP-47 language code (e.g. en, en-US, pt-BR, zh-Hans)")
    language = match["language"].lower()
    if language not in ISO_639_1 and language not in ISO_639_3_EXTRA:
        raise InvalidName(f"{code!r} is not a known language: {language!r} is not an ISO 639 code")
    parts = [language]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    parts.extend(v.lower() for v in match["variants"].split("-") if v)
    return "-".join(parts)


def primary_language(code: str) -> str:
    """The language subtag alone, as spaCy names its languages (``pt-BR`` -> ``pt``)."""
    return normalize_language(code).split("-")[0]
