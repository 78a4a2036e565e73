"""The learning-curve plot in a real Chromium: the server-side SVG is drawn, with a line per series, and not blank."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
from django.utils import timezone

from evaluation.learning_curve.selectors import curve_projection
from evaluation.models import LearningCurve
from evaluation.services import snapshot_create
from tests.evaluation.conftest import make_trainable
from tests.projects.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "learning_curve.png"

# A plausible curve: micro F1 and three entity types over four shares of 75 training documents.
SHARES = [
    # percent, documents, instances, micro F1, {type: (f1, instances)}
    (25, 19, 236, 0.512, {"Person": (0.64, 98), "Organization": (0.41, 81), "Date": (0.47, 57)}),
    (50, 38, 471, 0.634, {"Person": (0.75, 190), "Organization": (0.52, 166), "Date": (0.61, 115)}),
    (75, 57, 702, 0.688, {"Person": (0.79, 287), "Organization": (0.58, 244), "Date": (0.67, 171)}),
    (100, 75, 948, 0.721, {"Person": (0.81, 385), "Organization": (0.63, 330), "Date": (0.70, 233)}),
]


def curve_row(project, user) -> LearningCurve:
    points = [
        {
            "percent": percent,
            "documents": documents,
            "instances": instances,
            "micro_f1": f1,
            "precision": f1 + 0.03,
            "recall": f1 - 0.03,
            "per_type": {
                label: {"f1": type_f1, "instances": count, "precision": 0, "recall": 0, "test_instances": 40}
                for label, (type_f1, count) in types.items()
            },
            "steps": 1000,
            "duration_s": 40.0 + percent,
        }
        for percent, documents, instances, f1, types in SHARES
    ]
    now = timezone.now()
    return LearningCurve.objects.create(
        project=project,
        snapshot=snapshot_create(project=project),
        percents=[share[0] for share in SHARES],
        status=LearningCurve.Status.SUCCEEDED,
        points=points,
        projection=curve_projection(points).to_dict(),
        requested_by=user,
        started_at=now,
        finished_at=now,
    )


@pytest.fixture
def finished(db):
    user = UserFactory(username="curve-owner")
    project = ProjectFactory(name="curves")
    MembershipFactory(project=project, user=user)
    make_trainable(project, user, count=100)  # 75 training and 25 test documents, as the shares say
    return user, project, curve_row(project, user)


def _png_colours(png: bytes) -> set[tuple[int, ...]]:
    """The distinct colours of an 8-bit RGB(A) PNG (what Chromium writes), decoded here without an image library."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data, header = 8, b"", b""
    while position < len(png):
        length = int.from_bytes(png[position : position + 4], "big")
        kind, body = png[position + 4 : position + 8], png[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour_type = (
        int.from_bytes(header[:4], "big"),
        int.from_bytes(header[4:8], "big"),
        header[8],
        header[9],
    )
    assert depth == 8 and colour_type in (2, 6), "an 8-bit RGB or RGBA PNG"
    size = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(data), width * size
    previous, colours = bytearray(stride), set()
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        colours.update(tuple(line[i : i + 3]) for i in range(0, stride, size))
        previous = line
    return colours


def _open(sign_in, live_server, user, project, curve):
    page = sign_in(user, width=1280, height=1100)
    page.goto(f"{live_server.url}/projects/{project.name}/learning-curves/{curve.pk}/")
    return page


def test_the_plot_is_drawn_with_a_line_per_series(sign_in, live_server, finished, tmp_path):
    from playwright.sync_api import expect

    user, project, curve = finished
    page = _open(sign_in, live_server, user, project, curve)
    chart = page.locator(f"svg#learning-curve-{curve.pk}")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 250

    # The overall line and one per entity type, each really drawn (a path with length), and the dashed projection.
    lengths = chart.locator("path.series-line").evaluate_all("paths => paths.map(p => p.getTotalLength())")
    assert len(lengths) == 4 and all(length > 50 for length in lengths)
    assert chart.locator("path.series-projection").count() == 1
    assert chart.locator("circle.point").count() == 16
    assert chart.locator("g.series").evaluate_all("gs => gs.map(g => g.dataset.series)") == [
        "All types (micro F1)",
        "Date",
        "Organization",
        "Person",
    ]
    # Tooltips are <title>s on the points; the legend and the axes are labelled.
    assert "with 948 tagged instances" in chart.locator("circle.point").nth(3).locator("title").text_content()
    expect(chart.locator("text", has_text="Tagged entity instances in the training share")).to_be_visible()
    expect(page.get_by_text("extrapolated from 4 points")).to_be_visible()

    shot = chart.screenshot(path=str(tmp_path / "chart.png"))
    colours = _png_colours(shot)
    # Drawn, not blank: the white plot, grey grid and text, and the four series colours (plus anti-aliasing).
    assert (255, 255, 255) in colours
    assert {(0x1D, 0x23, 0x30), (0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0x00, 0x9E, 0x73)} <= colours


@pytest.mark.skipif(not os.environ.get("NERLAB_SCREENSHOTS"), reason="set NERLAB_SCREENSHOTS=1 to refresh docs/")
def test_screenshot_of_the_learning_curve_page(sign_in, live_server, finished):
    user, project, curve = finished
    page = _open(sign_in, live_server, user, project, curve)
    page.locator(f"svg#learning-curve-{curve.pk}").wait_for()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
