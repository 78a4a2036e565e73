"""What a newcomer hits in the first hour, in a real Chromium: the defaults they never touch, the menu they find
their way by, and the numbers and words that must agree from one page to the next."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from projects.models import EntityType
from projects.roles import Role
from projects.selectors import PALETTE
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team():
    users = {role: UserFactory(username=f"{role.value}-user") for role in Role}
    project = ProjectFactory(name="first-hour", language="en")
    for role, user in users.items():
        MembershipFactory(project=project, user=user, role=role)
    return {"project": project, **{role.value: user for role, user in users.items()}}


def test_a_new_entity_type_whose_colour_was_not_touched_gets_the_palettes_next_colour(sign_in, team):
    project = team["project"]
    EntityTypeFactory(project=project, name="Person", color=PALETTE[0])
    page = sign_in(team["owner"])
    page.goto(reverse("projects:entity_type_list", args=[project.name]))

    add = page.locator(f'form[action="{reverse("projects:entity_type_list", args=[project.name])}"]')
    add.locator('input[name="name"]').fill("Organization")
    add.locator('button[type="submit"]').click()
    page.wait_for_url("**/entity-types/")

    assert EntityType.objects.get(project=project, name="Organization").color == PALETTE[1]  # never black


_TOP_LEVEL = "Array.from(document.querySelectorAll('.project-nav > a, .project-nav > details'))"
_LINES_JS = f"() => new Set({_TOP_LEVEL}.map(e => Math.round(e.getBoundingClientRect().top))).size"
_LABELS_JS = f"() => {_TOP_LEVEL}.map(e => (e.querySelector(':scope > summary') || e).textContent.trim())"
_OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _menu_links(page) -> set[str]:
    return set(page.eval_on_selector_all(".project-nav a", "links => links.map(a => a.textContent.trim())"))


def test_project_menu_is_one_line_of_at_most_eight_at_1366_and_fits_each_role(sign_in, team):
    project = team["project"]
    project.name = "loan-agreements-eu-2026"  # a realistic, longish name
    project.save()
    dashboard = reverse("projects:project_detail", args=[project.name])

    seen: dict[str, list[str]] = {}
    for role in ("owner", "editor", "annotator", "viewer"):
        page = sign_in(team[role], width=1366, height=800)
        page.goto(dashboard)
        labels = page.evaluate(_LABELS_JS)
        assert len(labels) <= 8, (role, labels)
        assert page.evaluate(_LINES_JS) == 1, (role, labels)  # one line: every entry at the same height
        assert page.evaluate(_OVERFLOW_JS) <= 0
        header = page.locator("header.topbar").bounding_box()
        assert header is not None and header["height"] < 60  # the bar itself did not wrap either
        seen[role] = labels
        links = _menu_links(page)
        assert {"Documents", "Consistency", "Team"} <= links
        if role in ("owner", "editor"):
            assert {"Training", "Models & evaluation", "Pre-annotate", "Deployments", "Export"} <= links
        else:
            assert "Models" in links  # models and their evaluations are for everyone to read
            assert not {"Training", "Pre-annotate", "Deployments", "Export", "Settings"} & links

    assert seen["owner"] == [project.name, "Data", "Tag", "Quality", "Models", "Deploy", "Team", "Settings"]
    assert "Tag" in seen["annotator"] and "Tag" not in seen["viewer"]


def test_project_menu_opens_one_group_at_a_time_and_closes_on_escape(sign_in, team):
    page = sign_in(team["owner"], width=1366, height=800)
    page.goto(reverse("projects:project_detail", args=[team["project"].name]))
    data = page.locator(".nav-group", has_text="Data")
    quality = page.locator(".nav-group", has_text="Quality")
    data.locator("summary").click()
    assert data.locator("a", has_text="Documents").is_visible()
    quality.locator("summary").click()
    assert quality.locator("a", has_text="Audit log").is_visible()
    assert not data.locator("a", has_text="Documents").is_visible()
    page.keyboard.press("Escape")
    assert not quality.locator("a", has_text="Audit log").is_visible()
    quality.locator("summary").click()
    quality.locator("a", has_text="Consistency").click()
    page.wait_for_url("**/consistency/**")
    assert "current" in (page.locator(".nav-group", has_text="Quality").get_attribute("class") or "")


@pytest.mark.parametrize(
    "page_name",
    ["projects:project_detail", "labeling:document_list", "projects:entity_type_list", "projects:member_list"],
)
def test_at_390_px_the_menu_folds_and_nothing_scrolls_sideways(sign_in, team, page_name):
    project = team["project"]
    EntityTypeFactory(project=project, name="Person")
    page = sign_in(team["owner"], width=390, height=844)
    page.goto(reverse(page_name, args=[project.name]))

    assert page.evaluate(_OVERFLOW_JS) <= 0
    assert not page.locator(".project-nav").is_visible()
    page.locator(".menu-toggle").click()
    assert page.locator(".project-nav").is_visible()
    page.locator(".nav-group", has_text="Data").locator("summary").click()
    documents = page.locator(".nav-menu a", has_text="Documents")
    assert documents.is_visible()
    assert page.evaluate(_OVERFLOW_JS) <= 0  # open, it stacks instead of widening the page
    documents.click()
    page.wait_for_url("**/documents/")


_MAIN_PAGES = [
    ("dashboard", "projects:project_detail"),
    ("documents", "labeling:document_list"),
    ("entity-types", "projects:entity_type_list"),
    ("tagging", "labeling:document_annotate"),
    ("training", "evaluation:training_run_list"),
    ("models", "evaluation:trained_model_list"),
    ("team", "projects:member_list"),
]


@pytest.mark.skipif(not os.environ.get("NERLAB_SCREENSHOTS"), reason="set NERLAB_SCREENSHOTS=1 to refresh docs/")
@pytest.mark.parametrize("width", [1366, 390])
def test_screenshots_of_the_main_pages_at_desktop_and_phone_width(sign_in, width):
    from django.core.management import call_command

    from labeling.models import Document
    from projects.models import Project

    call_command("load_demo", username="demo", password="demo-password-123", verbosity=0)
    project = Project.objects.get(name="LoanAgreements")
    document = Document.objects.filter(project=project).order_by("pk").first()
    page = sign_in(project.memberships.get().user, width=width, height=900 if width > 500 else 844)
    folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for name, url_name in _MAIN_PAGES:
        args = [project.name, document.pk] if url_name.endswith("annotate") else [project.name]
        page.goto(reverse(url_name, args=args))
        page.wait_for_load_state("networkidle")
        assert page.evaluate(_OVERFLOW_JS) <= 0, name
        page.screenshot(path=str(folder / f"{name}-{width}.png"))


@pytest.mark.skipif(not os.environ.get("NERLAB_SCREENSHOTS"), reason="set NERLAB_SCREENSHOTS=1 to refresh docs/")
def test_screenshots_of_the_demo_models_evaluation_and_try_it(sign_in, settings):
    """The README's pictures of a model: the demo project trained as `make run` trains it (the encoders it installs
    offered, Automatic's choice, the calibration's fold models), deployed, then tried on a test-side agreement's
    opening line. Minutes of training: only when the pictures are refreshed."""
    from django.core.management import call_command

    from config.settings.base import parse_encoders
    from evaluation.models import TrainedModel
    from labeling.models import Document
    from ner import encoder_packages
    from ner.calibration import CALIBRATION_FOLDS
    from projects.models import Project

    settings.NERLAB_ENCODERS = parse_encoders(encoder_packages.default_setting())
    settings.NERLAB_CALIBRATION_FOLDS = CALIBRATION_FOLDS
    call_command("load_demo", username="demo", password="demo-password-123", verbosity=0)
    project = Project.objects.get(name="LoanAgreements")
    call_command("nerlab_train", project.name, model="model-1", inline=True, user="demo", verbosity=0)
    call_command("nerlab_deploy", project.name, deployment="production", model="model-1", user="demo", verbosity=0)
    model = TrainedModel.objects.get(project=project, name="model-1")
    test_side = Document.objects.filter(project=project, split="test").order_by("name")
    sample = next(line for doc in test_side for line in doc.text.splitlines() if " by and between " in line)

    page = sign_in(project.memberships.get().user, width=1280, height=800)
    folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    page.goto(reverse("evaluation:trained_model_detail", args=[project.name, model.pk]))
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / "evaluation.png"))
    page.goto(reverse("serving:try_it", args=[project.name]))
    page.locator("textarea").fill(sample)
    page.get_by_role("button", name="Find entities").click()
    page.wait_for_selector("#tryit-results table")
    page.screenshot(path=str(folder / "tryit.png"))


def test_fix_from_a_review_opens_the_tagging_page_at_the_error_with_predictions_to_accept(sign_in, team):
    from evaluation.models import Prediction
    from labeling.models import Span
    from tests.evaluation.factories import finished_model
    from tests.labeling.factories import DocumentFactory

    project = team["project"]
    EntityTypeFactory(project=project, name="Person", hotkey="p")
    document = DocumentFactory(project=project, text="We met at noon. Then Alice went to see Bob Jones in town.")
    model = finished_model(project, document)
    bob = document.text.index("Bob Jones")
    Prediction.objects.filter(evaluation__model=model).update(
        spans=[{"start": bob, "end": bob + 9, "label": "Person", "confidence": 0.7}]  # the gold tag is at 0-5
    )
    page = sign_in(team["annotator"], width=1366, height=800)
    page.goto(reverse("evaluation:trained_model_review", args=[project.name, model.pk]) + "?mismatches=1")
    page.get_by_role("button", name="Fix").click()
    page.wait_for_selector("#doc-text[data-ready=true]")

    assert page.evaluate("() => window.getSelection().toString()") == "We"  # the first error starts at 0
    assert page.eval_on_selector_all("#doc-text mark.suggestion", "ms => ms.map(m => m.textContent)") == ["Bob Jones"]
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.evaluate("() => window.nerlabAnnotate.idle()")
    assert list(Span.objects.filter(document=document).values_list("start", "end")) == [(bob, bob + 9)]
    page.locator("#back-to-review").click()
    page.wait_for_url("**/review/?mismatches=1#review-*")
