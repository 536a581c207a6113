"""docs/threat-model.md names a test for every claim: each name must be a test.

A name is a backticked snake_case word of at least three parts. It counts as a
test when a Rust `fn NAME(` carries a test attribute (`#[test]`,
`#[tokio::test]`, …) in the lines just above it, or when it is a Python
`def test_…`. A claim whose test was renamed or deleted fails here.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
NAME = re.compile(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+){2,})`")
SKIP_DIRS = {"target", ".venv", ".git", "node_modules"}


def source_files():
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.suffix in (".rs", ".py") and path.is_file():
            yield path


def all_test_names():
    found = set()
    for path in source_files():
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if path.suffix == ".py":
                m = re.match(r"\s*def (test_\w+)\(", line)
                if m:
                    found.add(m.group(1))
                continue
            m = re.match(r"\s*(?:pub )?(?:async )?fn (\w+)\(", line)
            if not m:
                continue
            above = "\n".join(lines[max(0, i - 6) : i])
            if re.search(r"#\[(?:\w+::)?test\b", above):
                found.add(m.group(1))
    return found


def test_every_name_in_the_threat_model_is_a_test():
    names = set(NAME.findall(DOC.read_text()))
    assert len(names) > 50, "the threat model names its tests"
    missing = sorted(names - all_test_names())
    assert not missing, f"docs/threat-model.md names tests that do not exist: {missing}"


def test_threat_model_check_sees_a_missing_name(tmp_path):
    # The check above could pass by accident if the scan found nothing.
    found = all_test_names()
    assert "test_every_name_in_the_threat_model_is_a_test" in found
    assert "not_a_test_anywhere_in_softkey" not in found
