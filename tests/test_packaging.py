"""A wheel is a complete nerlab: installed without the checkout, it migrates, loads the demo project and serves its
pages and static files.

The wheel is built offline with this environment's setuptools and installed (without dependencies) into a fresh
virtual environment whose only other path is this environment's site-packages. Listed through a .pth file, that
folder adds the dependencies but not the editable install's import hook, so nothing can be imported from the
checkout: every module the commands load must come from the wheel, and the test says so if one does not.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# Folders of the checkout that are not packages, and where a wheel carries them (pyproject.toml's package-dir).
SHIPPED_FOLDERS = {"templates": "config/templates", "static": "config/static", "demo": "config/demo"}
LEFT_OUT = {"tests"}
# What a checkout may hold besides its sources: anywhere, and only at the top (a package may have a data/ of its own).
LEFTOVERS = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__", "*.pyc", ".*_cache")
TOP_LEVEL_LEFTOVERS = {"data", "build", "dist"}

# Runs inside the installed nerlab with the production settings, as a web machine would after `collectstatic`.
SERVE_SCRIPT = """
import json, re, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.template.loader import get_template
from django.template import TemplateDoesNotExist
from django.test import Client

expected = json.loads(sys.argv[1])
call_command("collectstatic", interactive=False, verbosity=0)
missing = []
for name in expected["templates"]:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        missing.append(name)
client = Client(HTTP_HOST="nerlab.example.org")
# Through the sign-in form, as a person does: django-axes refuses Client.login's authenticate without a request.
signed_in = client.post("/accounts/login/", {"username": "demo", "password": expected["password"]}, secure=True)
logged_in = signed_in.status_code == 302 and "_auth_user_id" in client.session
page = client.get("/", secure=True)
html = page.content.decode()
link = re.search(r'href="(/static/css/app\\.[0-9a-f]+\\.css)"', html)
css = client.get(link.group(1), secure=True) if link else None
ours = set(expected["packages"])
print(json.dumps({
    "base_dir": str(settings.BASE_DIR),
    "data_dir": str(settings.DATA_DIR),
    "missing_templates": missing,
    "logged_in": logged_in,
    "page_status": page.status_code,
    "demo_project_listed": "LoanAgreements" in html,
    "css_link": link.group(1) if link else None,
    "css_status": css.status_code if css else None,
    "css_body": b"".join(css.streaming_content).decode() if css else None,
    "module_files": sorted(
        m.__file__ for name, m in list(sys.modules.items())
        if name.split(".")[0] in ours and getattr(m, "__file__", None)
    ),
}))
"""


def _packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in LEFT_OUT)


def _files_a_wheel_needs() -> set[str]:
    """Every file of the checkout's packages and shipped folders, named as the wheel names it."""
    wanted: set[str] = set()
    for folder, target in [*((p, p) for p in _packages()), *SHIPPED_FOLDERS.items()]:
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                wanted.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return wanted


def _leftovers(folder: str, names: list[str]) -> set[str]:
    return LEFTOVERS(folder, names) | (TOP_LEVEL_LEFTOVERS & set(names) if Path(folder) == ROOT else set())


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    # A generous limit only so that a hung command fails the test instead of the whole suite.
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy, so the build leaves no build/ or egg-info behind in the checkout.
    source = tmp_path_factory.mktemp("source") / "nerlab"
    shutil.copytree(ROOT, source, ignore=_leftovers)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    _run([*pip_wheel, "--wheel-dir", str(dist), str(source)], cwd=dist)
    (built,) = dist.glob("nerlab-*.whl")
    return built


def test_the_wheel_holds_every_package_template_static_file_and_demo_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    assert sorted(_files_a_wheel_needs() - in_wheel) == []
    assert not any(name.startswith(("tests/", "bench/", "scripts/")) for name in in_wheel)


def test_an_installed_wheel_migrates_loads_the_demo_and_serves_pages_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    installed = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (installed / "dependencies.pth").write_text("".join(f"{path}\n" for path in site.getsitepackages()))
    pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    _run([*pip_install, "--target", str(installed), str(wheel)], cwd=tmp_path)

    workdir = tmp_path / "site"
    workdir.mkdir()
    # Only what a shell needs: no PYTHONPATH to the checkout, no DATABASE_URL or broker of the test run.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    django = [str(venv / "bin" / "python"), "-m", "django"]
    local = {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    # What `make run` does, with `python -m django` in place of manage.py, which is not part of a wheel.
    assert "no issues" in _run([*django, "check"], cwd=workdir, env=local)
    _run([*django, "migrate", "--noinput"], cwd=workdir, env=local)
    password = secrets.token_urlsafe(12)
    assert "Sign in with username 'demo'" in _run(
        [*django, "load_demo", f"--password={password}"], cwd=workdir, env=local
    )

    production = {
        **env,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "nerlab.example.org",
    }
    templates = sorted(p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.html"))
    expected = {"templates": templates, "password": password, "packages": _packages()}
    script = tmp_path / "serve.py"
    script.write_text(SERVE_SCRIPT)
    output = _run([str(venv / "bin" / "python"), str(script), json.dumps(expected)], cwd=workdir, env=production)
    report = json.loads(output.splitlines()[-1])

    assert report["base_dir"] == str(installed / "config")
    assert report["data_dir"] == str(workdir / "data")
    assert (workdir / "data" / "nerlab.sqlite3").is_file()
    assert not (installed / "config" / "data").exists()
    assert [f for f in report["module_files"] if not f.startswith(f"{installed}/")] == []
    assert report["missing_templates"] == []
    assert report["logged_in"]
    assert report["page_status"] == 200
    assert report["demo_project_listed"]
    assert report["css_link"], "the project list links no hashed app.css"
    assert report["css_status"] == 200
    assert report["css_body"] == (ROOT / "static" / "css" / "app.css").read_text(encoding="utf-8")
