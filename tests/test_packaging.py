"""What `pip install` gives a user: the wheel's files, the declared ranges CI tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Where each shipped file lands inside the environment, as the tools that read it look.
SHARED = {
    "completions/kscli.bash": "share/bash-completion/completions/kscli",
    "completions/_kscli": "share/zsh/site-functions/_kscli",
    "completions/kscli.fish": "share/fish/vendor_completions.d/kscli.fish",
    **{f"man/{page.name}": f"share/man/man1/{page.name}" for page in (ROOT / "man").glob("*.1")},
}


@pytest.fixture(scope="module")
def scratch_env(tmp_path_factory):
    """A wheel of this tree installed (without dependencies) into a new virtualenv."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(work / "dist"), str(ROOT)], capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stderr
    wheels = list((work / "dist").glob("kscli-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                "--no-deps", str(wheels[0])], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr
    return venv


def test_the_shipped_files_are_in_the_repository():
    assert len([k for k in SHARED if k.startswith("man/")]) >= 2  # kscli.1 and a group page
    for source in SHARED:
        assert (ROOT / source).is_file(), source


def test_pip_install_puts_man_pages_and_completions_where_tools_look(scratch_env):
    for source, target in SHARED.items():
        placed = scratch_env / target
        assert placed.is_file(), f"{target} is missing from the environment"
        assert placed.read_bytes() == (ROOT / source).read_bytes(), target
    assert (scratch_env / "bin" / "kscli").is_file()


def test_the_wheel_holds_the_runtime_package_and_not_the_build_tools(scratch_env):
    packages = list(scratch_env.glob("lib/python*/site-packages/kscli"))
    assert len(packages) == 1, packages
    assert (packages[0] / "cli" / "__init__.py").is_file()
    assert not (packages[0] / "shipped.py").exists()  # tools/shipped.py is for the repository
    assert not list(scratch_env.glob("lib/python*/site-packages/tools"))


def test_man_finds_the_page_once_the_environment_is_on_path(scratch_env):
    man = shutil.which("man")
    if man is None:
        if os.environ.get("CI"):
            pytest.fail("man is not installed: .ci/run installs Debian's man-db")
        pytest.skip("man is not installed (apt-get install man-db)")
    env = {"PATH": f"{scratch_env / 'bin'}:/usr/bin:/bin", "HOME": os.environ["HOME"],
           "LANG": "C.UTF-8"}
    for page in ("kscli", "kscli-sub"):
        found = subprocess.run([man, "-w", page], capture_output=True, text=True, env=env,
                               timeout=60)
        assert found.returncode == 0, found.stderr
        assert found.stdout.strip() == str(scratch_env / "share/man/man1" / f"{page}.1")


# -- the versions CI tests ------------------------------------------------------------------

def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        found += extra
    return found


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def _same_version(a: str | None, b: str) -> bool:
    """8.2 and 8.2.0 name one release."""
    def key(v):
        parts = [int(x) for x in v.split(".")]
        while parts and parts[-1] == 0:
            parts.pop()
        return parts
    return a is not None and key(a) == key(b)


# Left without an upper bound, with the reason: a cap here would do more harm than a
# major release could.
UNCAPPED = {
    "cryptography": "majors come every few months and keep the Ed25519 API; a cap would "
                    "hold back its security fixes",
}


def test_every_dependency_has_a_tested_range_and_its_lowest_version_pinned():
    pins = _pins()
    for requirement in _requirements():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?(.*)", requirement.replace(" ", ""))
        assert match, requirement
        name, extras, spec = match.group(1).lower(), match.group(2), match.group(3)
        lowest = re.search(r">=([0-9][^,]*)", spec)
        assert lowest and ("<" in spec or name in UNCAPPED), \
            f"{requirement}: give a lowest and an upper bound"
        assert _same_version(pins.get(name), lowest.group(1)), \
            f"{name}: pyproject allows >={lowest.group(1)}, the constraints pin {pins.get(name)}"
        if extras == "[binary]":
            assert _same_version(pins.get(name + "-binary"), lowest.group(1)), name + "-binary"


# -- the README's commands are what CI runs ---------------------------------------------------

def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)][:2]


def test_the_readme_starts_with_two_one_line_commands_that_use_a_virtualenv():
    first, second = _readme_commands()
    for command in (first, second):
        assert "\n" not in command, command
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install "), command
    assert "kscli init --sample" in first and "KSCLI_STORE=" in first
    assert second.endswith(".venv/bin/python -m pytest")


def test_ci_runs_the_readme_test_command_verbatim_in_a_new_virtualenv():
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    second = _readme_commands()[1]
    assert second in script, ".ci/run must run the README's test command as written"
    assert script.index("rm -rf .venv") < script.index(second)
    assert any("constraints-lowest.txt" in line and "pip install" in line for line in script)
