"""Refuse `make build` early, in one line, when the Lambda runtime's interpreter is not on PATH.

`sam build` builds a python3.13 function with a `python3.13` found on PATH (its pip resolves the
dependencies' wheels for that version); without one it fails deep in its workflow with a message
that does not say so. drillkit's CLI and lab need only Python 3.11+, so a workstation often lacks it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
HOW_TO_INSTALL = "uv python install 3.13, pyenv install 3.13 then pyenv global <yours> 3.13, or your OS's python3.13 package"


def lambda_runtime(template: Path = TEMPLATE) -> str:
    """The functions' runtime as template.yaml declares it (Globals), e.g. python3.13."""
    found = re.search(r"^\s+Runtime:\s*(python\d+\.\d+)\s*$", template.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"make build: no python Runtime in {template}")
    return found.group(1)


def problem(runtime: str) -> str | None:
    """Why `sam build` cannot build the runtime here, or None when it can."""
    version = runtime.removeprefix("python")
    interpreter = shutil.which(runtime)
    if interpreter is None:
        return f"no {runtime} on PATH"
    try:
        answer = subprocess.run(
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{interpreter} does not run ({error})"
    if answer.returncode != 0 or answer.stdout.strip() != version:
        said = (answer.stdout.strip() or answer.stderr.strip() or "nothing").splitlines()[0]
        return f"{interpreter} is not a working Python {version} (it says: {said})"
    return None


def main() -> int:
    runtime = lambda_runtime()
    found = problem(runtime)
    if found is None:
        return 0
    print(
        f"make build: the Lambda runtime is {runtime} and sam build needs {runtime} on PATH, but {found}; "
        f"install it ({HOW_TO_INSTALL}) and run make build again (make demo and make test need only 3.11+).",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
