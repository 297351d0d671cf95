"""Series files on disk: YAML read with one clear error for any problem, then validated.

The organiser's commands (`series check`, `series push`) and the local runner both read them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .core.errors import InvalidInputError
from .core.series import Series
from .core.series_document import parse_series


def load_series_file(path: Path) -> Series:
    """Read and validate a series YAML file."""
    data = read_yaml(path, InvalidInputError)
    try:
        return parse_series(data)
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: {error}") from None


def read_yaml(path: Path, error: type[InvalidInputError]) -> Any:
    """A YAML file's content, or one clear error (never a traceback) for any reading problem."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML ({_first_line(problem)})") from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
