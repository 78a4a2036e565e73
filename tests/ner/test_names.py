from __future__ import annotations

import pytest

from ner.names import (
    InvalidName,
    check_deployment_name,
    check_entity_type_name,
    check_model_name,
    check_project_name,
    normalize_language,
    primary_language,
)


@pytest.mark.parametrize("name", ["LoanAgreements", "my_project.v2", "a-b", "x" * 50])
def test_valid_project_names(name):
    assert check_project_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "required"), ("x" * 51, "limit is 50"), ("has space", "no spaces"), ("ünï", "only letters")],
)
def test_invalid_project_names_say_why(name, message):
    with pytest.raises(InvalidName, match=message):
        check_project_name(name)


def test_deployment_names_follow_the_same_rules():
    assert check_deployment_name("production") == "production"
    with pytest.raises(InvalidName):
        check_deployment_name("prod/1")


@pytest.mark.parametrize("name", ["Person", "Borrower Name", "Date-of-birth", "Straße", "名前", "e-mail@x"])
def test_valid_entity_type_names(name):
    assert check_entity_type_name(name) == name


@pytest.mark.parametrize("char", list(":$&%*()+~#/?"))
def test_entity_type_names_refuse_azure_forbidden_symbols(char):
    with pytest.raises(InvalidName, match="may not contain"):
        check_entity_type_name(f"A{char}B")


def test_entity_type_name_length_and_whitespace():
    with pytest.raises(InvalidName, match="limit is 50"):
        check_entity_type_name("x" * 51)
    with pytest.raises(InvalidName, match="whitespace"):
        check_entity_type_name(" Person")


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("en", "en"),
        ("en-us", "en-US"),
        ("PT-br", "pt-BR"),
        ("zh-hans", "zh-Hans"),
        ("sr-Latn-RS", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("fil", "fil"),
    ],
)
def test_language_codes_are_validated_and_canonicalised(code, canonical):
    assert normalize_language(code) == canonical


@pytest.mark.parametrize("code", ["", "english", "e", "qq", "en_US", "en-", "12"])
def test_invalid_language_codes_are_refused(code):
    with pytest.raises(InvalidName):
        normalize_language(code)


def test_primary_language_is_what_spacy_names_languages_by():
    assert primary_language("pt-BR") == "pt"


@pytest.mark.parametrize("check", [check_project_name, check_model_name, check_deployment_name])
@pytest.mark.parametrize("name", [".", ".."])
def test_dot_segment_names_are_refused_because_browsers_drop_them_from_urls(check, name):
    # /projects/../ is /  and /deployments/../delete/ is the project's delete page once a browser normalises it.
    with pytest.raises(InvalidName, match="dot"):
        check(name)


@pytest.mark.parametrize("name", ["...", ".hidden", "v1.", "a..b"])
def test_names_with_dots_beside_other_characters_stay_valid(name):
    assert check_project_name(name) == name
