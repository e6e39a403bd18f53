"""Developer sessions; `./scripts/test` runs the same checks in one virtualenv."""

from __future__ import annotations

import nox


nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
nox.options.sessions = ["lint", "typing", "tests", "docs"]


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-U", "pip>=25.1")
    args = ["-e", ".[postgres]"]
    for group in groups:
        args += ["--group", group]
    session.install(*args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    _install(session, "lint")
    session.run("ruff", "check", "src", "tests", "benchmarks", "examples", "scripts")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "examples", "scripts")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over src/."""
    _install(session, "typing", "tests")
    session.run("mypy")


@nox.session(python=["3.11", "3.12", "3.13"])
def tests(session: nox.Session) -> None:
    """pytest with coverage (warnings are errors)."""
    _install(session, "tests")
    session.run("pytest", "--cov", "--cov-report=term", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """mkdocs build --strict."""
    _install(session, "docs")
    session.run("mkdocs", "build", "--strict")
