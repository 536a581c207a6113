"""scripts/doc_examples.py, the runner of the README's examples: what it
extracts from any Markdown file, and that it runs and judges blocks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from conftest import REPO

spec = importlib.util.spec_from_file_location("doc_examples", REPO / "scripts" / "doc_examples.py")
doc_examples = importlib.util.module_from_spec(spec)
sys.modules["doc_examples"] = doc_examples  # dataclasses look their module up
spec.loader.exec_module(doc_examples)

MARKDOWN = """# Title

```sh
echo plain
```

<!-- example: sim --verify danger-always-verified timeout=60 -->
~~~bash
softkey client info
~~~

<!-- example: server -->

Prose between a comment and a block: the comment was for another block.

```python
# not run: needs a desktop
print("x")
```

```text
softkey run  # a diagram, not an example
```

   ```console
   $ not an example language
   ```

````sh
```
nested fence text
```
````
"""


def test_doc_examples_extracts_every_shell_and_python_block_with_its_stage():
    examples = doc_examples.extract(MARKDOWN, "x.md")
    assert [(e.line, e.language) for e in examples] == [(3, "sh"), (8, "sh"), (16, "python"), (29, "sh")]
    plain, sim, not_run, nested = examples
    assert plain.code == "echo plain\n" and plain.sim_args is None and not plain.not_run
    assert sim.sim_args == ["--verify", "danger-always-verified"] and sim.timeout == 60
    # A stage comment covers only the very next block, and not across prose.
    assert not_run.not_run == "needs a desktop" and not not_run.server
    assert nested.code == "```\nnested fence text\n```\n"


def test_doc_examples_readme_blocks_are_all_run_or_marked():
    examples = doc_examples.extract((REPO / "README.md").read_text(), "README.md")
    assert len(examples) >= 2
    assert all(e.not_run for e in examples if "scripts/test.sh" in e.code)
    assert [e.server for e in examples if "cargo run -p softkey -- sim" in e.code] == [True]


def test_doc_examples_guides_are_all_run_or_marked():
    guide = REPO / "docs" / "testing-with-the-simulator.md"
    examples = doc_examples.extract(guide.read_text(), guide.name)
    run = [e for e in examples if not e.not_run]
    # The python-fido2 flows: the default simulator, built-in UV, and a PIN.
    assert [e.sim_args for e in run if e.sim_args is not None][:3] == [
        [], ["--verify", "danger-always-verified"], []
    ]
    for page in sorted((REPO / "docs").glob("*.md")):
        for e in doc_examples.extract(page.read_text(), page.name):
            if "/dev/uhid" in e.code or "sudo " in e.code:
                assert e.not_run, f"{page.name}:{e.line} needs the machine and says so"


def test_doc_examples_runner_passes_and_fails_blocks(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("```sh\ntrue\n```\n\n```sh\nexit 3\n```\n\n```sh\n# not run: a reason\nfalse\n```\n")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "doc_examples.py"), str(doc)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 failed, 1 skipped" in result.stdout
    assert "SKIP" in result.stdout and "not run: a reason" in result.stdout
