"""Where the settings file is found when none is named.

:meth:`taskcore.config.Settings.load` reads, in this order, the first that applies:

1. the file it is given (``taskcore --config FILE``);
2. the file named by ``$TASKCORE_CONFIG``;
3. ``taskcore.toml`` in the current directory (top-level keys);
4. the ``[tool.taskcore]`` table of ``pyproject.toml`` in the current directory.

One file is read, never a merge of several: when both 3 and 4 exist, ``taskcore.toml`` is used
and a warning names the ignored table. Plain ``Settings(...)`` reads no file.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from taskcore.errors import ConfigError

__all__ = ["CONFIG_FILE", "PYPROJECT", "PYPROJECT_TABLE", "ConfigFile", "find_config_file"]

CONFIG_FILE = "taskcore.toml"
PYPROJECT = "pyproject.toml"
PYPROJECT_TABLE = ("tool", "taskcore")

log = logging.getLogger("taskcore.config")


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A TOML file to read settings from; ``table`` is the key path of the table holding them
    (None: the top level)."""

    path: Path
    table: tuple[str, ...] | None = None

    def describe(self) -> str:
        """``'taskcore.toml'`` or ``'[tool.taskcore] of pyproject.toml'``, for messages."""
        if self.table is None:
            return repr(str(self.path))
        return f"[{'.'.join(self.table)}] of {str(self.path)!r}"


def _has_table(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{pyproject} cannot be read for a [tool.taskcore] table: {exc}; fix the file or "
            "name a settings file with --config / TASKCORE_CONFIG"
        ) from exc
    table: object = data
    for key in PYPROJECT_TABLE:
        if not isinstance(table, dict) or key not in table:
            return False
        table = table[key]
    return True


def find_config_file(directory: Path | None = None) -> ConfigFile | None:
    """The settings file of ``directory`` (default: the current one), or None: its
    ``taskcore.toml``, else its ``pyproject.toml`` when that has a ``[tool.taskcore]`` table."""
    where = Path.cwd() if directory is None else directory
    own = where / CONFIG_FILE
    pyproject = where / PYPROJECT
    in_pyproject = pyproject.is_file() and _has_table(pyproject)
    if own.is_file():
        if in_pyproject:
            log.warning(
                "both %s and [tool.taskcore] in %s exist: using %s, ignoring the table",
                own,
                pyproject,
                own,
            )
        return ConfigFile(own)
    if in_pyproject:
        return ConfigFile(pyproject, PYPROJECT_TABLE)
    return None
