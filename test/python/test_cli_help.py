"""Every command's --help describes every flag, and the README is a short front
door whose links stay inside the repository."""

import argparse
import re
from pathlib import Path

import pytest

from wafer.tools import wafer_cli, wafer_opt

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")
SUBCOMMANDS = ["run", "export", "verify", "fuzz", "tune", "list"]


def _parsers():
    """(name, parser) for `wafer`, each of its subcommands and `wafer-opt`."""
    wafer = wafer_cli.build_parser()
    (commands,) = [a for a in wafer._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(SUBCOMMANDS)
    return [("wafer", wafer), *((f"wafer {name}", p) for name, p in commands.choices.items()),
            ("wafer-opt", wafer_opt._argument_parser())]


@pytest.mark.parametrize("name,parser", _parsers(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_argument_has_help(name, parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert (choice.help or "").strip(), f"{name} {choice.dest}: no help"
        label = "/".join(action.option_strings) or action.dest
        assert (action.help or "").strip(), f"{name} {label}: no help"
    assert (parser.description or "").strip(), f"{name}: no description"


@pytest.mark.parametrize("argv", [[], *([c] for c in SUBCOMMANDS)], ids=lambda argv: " ".join(argv) or "wafer")
def test_wafer_help_runs(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        wafer_cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: wafer") and "--help" in out


def test_wafer_opt_help_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        wafer_opt.main(["--help"])
    assert exit_info.value.code == 0
    assert "--pass-pipeline" in capsys.readouterr().out


def _markdown_files():
    skip = {".venv", "node_modules", "fuzz-failures"}
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if not any(p in skip or p.startswith(".") or p.endswith(".egg-info") for p in parts[:-1]):
            yield path


def _anchors(path: Path) -> set[str]:
    """GitHub's ids of a page's headings."""
    headings = re.findall(r"^#+\s+(.*)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_readme_is_short_and_its_docs_exist():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 160
    links = LINK.findall(readme)
    assert not [link for link in links if link.startswith("../")]
    docs = [link for link in links if link.startswith("docs/")]
    assert docs, "README.md links no docs/ page"
    for link in docs:
        assert (ROOT / link.split("#")[0]).is_file(), f"README.md links a missing page: {link}"


@pytest.mark.parametrize("page", list(_markdown_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_links_stay_inside_the_repository(page):
    for link in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", link):  # a web address
            continue
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {link}"
        assert resolved.exists(), f"{page.name} links a missing file: {link}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name} links a missing heading: {link}"
