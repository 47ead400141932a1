"""Exit 1 when the installed packages (from requirements.lock) miss a range pyproject.toml asks for.

`make install` runs this after installing the lock, so a pyproject.toml edited without
`make lock` stops the build instead of testing something else than it says.
"""

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
wanted = project["dependencies"] + project["optional-dependencies"]["test"]
problems = []
for line in wanted:
    requirement = Requirement(line)
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        problems.append(f"{requirement} is not in requirements.lock")
        continue
    if not requirement.specifier.contains(installed, prereleases=True):
        problems.append(f"{requirement.name} {installed} is locked, pyproject.toml asks for {requirement.specifier}")
if problems:
    print("requirements.lock does not match pyproject.toml; run 'make lock':", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
