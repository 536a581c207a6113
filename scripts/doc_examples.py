#!/usr/bin/env python3
"""Runs the shell and Python examples of Markdown files, as written.

usage: scripts/doc_examples.py [--list] FILE.md...

Every fenced code block whose info string names a shell (sh, bash, shell) or
Python (python, py) is an example. Each one is either run or visibly marked as
not runnable:

- A block whose first line is a comment `# not run: REASON` is not run; the
  reason is printed (and readers see it in the block).
- Any other block runs, in order, from the repository root, with the debug
  `softkey` first on PATH, in a network namespace of its own (so that the
  examples' fixed loopback ports, 8111 and 8120, are free), under a time limit.
  Shell blocks run with `bash -e -o pipefail`; Python blocks with the
  project's venv (.venv, else python3).
- An HTML comment right before the fence sets the stage (readers do not see
  it, and need not: the prose says it):
    <!-- example: sim ARGS... -->  a fresh `softkey sim ARGS` serves
                                    127.0.0.1:8111 while the block runs
    <!-- example: server -->       the block starts a server that runs until
                                    stopped: it must answer CTAPHID INIT on
                                    127.0.0.1:8111, then it is stopped
    <!-- example: timeout=SECONDS --> another time limit (default 300)
  Options combine: <!-- example: sim --verify danger-always-verified timeout=60 -->

Blocks of one file share the file system, so a later block may use what an
earlier one wrote. Prints one line per block and "N passed, N failed,
N skipped"; exits 1 if any failed. Needs root (or unprivileged user
namespaces) for the network namespace.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELLS = {"sh", "bash", "shell"}
PYTHONS = {"python", "py", "python3"}
NOT_RUN = re.compile(r"^#\s*not run:\s*(?P<reason>.+)$")
STAGE = re.compile(r"^<!--\s*example:\s*(?P<options>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
DEFAULT_TIMEOUT = 300
UDP_PORT = 8111


@dataclasses.dataclass
class Example:
    path: str
    line: int  # of the opening fence, 1-based
    language: str  # "sh" or "python"
    code: str
    not_run: str | None = None  # the reason, when marked
    sim_args: list[str] | None = None  # start a fresh `softkey sim` with these
    server: bool = False
    timeout: int = DEFAULT_TIMEOUT

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def parse_stage(options: str, example: Example) -> None:
    words = shlex.split(options)
    rest = []
    for word in words:
        if word.startswith("timeout="):
            example.timeout = int(word.split("=", 1)[1])
        else:
            rest.append(word)
    if not rest:
        return
    kind, *args = rest
    if kind == "sim":
        example.sim_args = args
    elif kind == "server" and not args:
        example.server = True
    else:
        raise ValueError(f"{example.where}: unknown example option {options!r}")


def extract(text: str, path: str = "<text>") -> list[Example]:
    """The examples of a Markdown text (CommonMark fences, ``` or ~~~)."""
    examples = []
    lines = text.splitlines()
    stage = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = STAGE.match(line.strip())
        if match:
            stage = match.group("options")
            i += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            if line.strip():
                stage = None  # a comment sets the stage of the very next block only
            i += 1
            continue
        marker, indent = fence.group("fence"), len(fence.group("indent"))
        info = fence.group("info").strip().split()
        language = info[0].lower() if info else ""
        body = []
        i += 1
        while i < len(lines):
            close = re.match(r"^ {0,3}(`{3,}|~{3,})\s*$", lines[i])
            if close and close.group(1)[0] == marker[0] and len(close.group(1)) >= len(marker):
                break
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        opening = i - len(body)  # 1-based line of the fence
        i += 1
        kind = "sh" if language in SHELLS else "python" if language in PYTHONS else None
        if kind is None:
            stage = None
            continue
        example = Example(path, opening, kind, "\n".join(body) + "\n")
        first = next((b.strip() for b in body if b.strip()), "")
        marked = NOT_RUN.match(first)
        if marked:
            example.not_run = marked.group("reason").strip()
        if stage is not None:
            parse_stage(stage, example)
        stage = None
        examples.append(example)
    return examples


def ctaphid_init_answered(port: int = UDP_PORT, timeout: float = 0.5) -> bool:
    """Whether a CTAPHID INIT to 127.0.0.1:port gets an answer."""
    nonce = os.urandom(8)
    packet = (b"\xff\xff\xff\xff" + bytes([0x86, 0, 8]) + nonce).ljust(64, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, ("127.0.0.1", port))
            while True:
                data = sock.recv(4096)
                if data[7:15] == nonce:
                    return True
        except OSError:
            return False


def wait_for_key(process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ctaphid_init_answered():
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before serving")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no CTAPHID answer on 127.0.0.1:{UDP_PORT} within {seconds:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Stops a process and everything it started (its own process group,
    where a block's background jobs live too)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.1)  # let the group's other members go on SIGTERM


def environment() -> dict[str, str]:
    env = dict(os.environ)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    env["PATH"] = f"{target / 'debug'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("SOFTKEY_LOG", "warn")
    return env


def command_for(example: Example) -> list[str]:
    if example.language == "sh":
        return ["bash", "-e", "-o", "pipefail", "-c", example.code]
    venv = Path(os.environ.get("SOFTKEY_VENV", REPO / ".venv")) / "bin" / "python"
    return [str(venv) if venv.exists() else sys.executable, "-c", example.code]


def run(example: Example, log) -> tuple[bool, str]:
    """Runs one example; (passed, note)."""
    env = environment()
    sim = None
    try:
        if example.sim_args is not None:
            sim = subprocess.Popen(
                ["softkey", "sim", *example.sim_args], env=env, cwd=REPO,
                stdout=log, stderr=log, start_new_session=True,
            )
            wait_for_key(sim, 30)
        process = subprocess.Popen(
            command_for(example), env=env, cwd=REPO, stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            if example.server:
                wait_for_key(process, example.timeout)
                return True, "served CTAPHID on 127.0.0.1:8111, then stopped"
            status = process.wait(timeout=example.timeout)
            return status == 0, f"exit status {status}"
        except subprocess.TimeoutExpired:
            return False, f"still running after {example.timeout} s"
        except RuntimeError as error:
            return False, str(error)
        finally:
            stop(process)
    except RuntimeError as error:
        return False, f"softkey sim {' '.join(example.sim_args or [])}: {error}"
    finally:
        if sim is not None:
            stop(sim)


def in_own_network() -> None:
    """Re-runs this script in a fresh network namespace with loopback up."""
    if os.environ.get("SOFTKEY_DOC_EXAMPLES_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    os.environ["SOFTKEY_DOC_EXAMPLES_NETNS"] = "1"
    os.execvp(unshare[0], [*unshare, sys.executable, *sys.argv])


def main(argv: list[str]) -> int:
    listing = "--list" in argv
    files = [a for a in argv if a != "--list"]
    if not files:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    examples = [e for f in files for e in extract(Path(f).read_text(), f)]
    if listing:
        for e in examples:
            what = f"not run: {e.not_run}" if e.not_run else (
                "server" if e.server else f"sim {' '.join(e.sim_args)}" if e.sim_args is not None else "run")
            print(f"{e.where} {e.language}: {what}")
        return 0
    in_own_network()
    passed = failed = skipped = 0
    logs = Path(os.environ.get("SOFTKEY_DOC_EXAMPLES_LOGS", tempfile.mkdtemp(prefix="doc-examples-")))
    logs.mkdir(parents=True, exist_ok=True)
    for number, example in enumerate(examples, 1):
        if example.not_run:
            skipped += 1
            print(f"SKIP {example.where} {example.language}: not run: {example.not_run}", flush=True)
            continue
        log_path = logs / f"{number:02d}-{Path(example.path).name}-{example.line}.log"
        started = time.monotonic()
        with open(log_path, "w") as log:
            ok, note = run(example, log)
        took = time.monotonic() - started
        if ok:
            passed += 1
            print(f"PASS {example.where} {example.language} ({took:.1f} s): {note}", flush=True)
        else:
            failed += 1
            print(f"FAIL {example.where} {example.language} ({took:.1f} s): {note}; log {log_path}", flush=True)
            print("".join(f"    {line}" for line in log_path.read_text().splitlines(True)[-15:]), flush=True)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
