"""Mistakes a user can fix, told apart from bugs.

Code raises `ConfigError` for a setting that cannot work and `DataError` for a file, folder or
workdir that is missing or wrong. Both are `UserError`s: the entry points (`launch.py`,
`python -m tfds_builders`, `python -m emojax.evaluate`, `python -m emojax.predict`) print them as
one line naming what to change, and exit with status 2. Anything else is a bug and keeps its
traceback.
"""
from __future__ import annotations

import re
import sys


class UserError(Exception):
  """A mistake in a setting or an input that the user can fix."""


class ConfigError(UserError, ValueError):
  """A config setting that cannot work; the message names the key as `config.KEY`."""

  @property
  def key(self) -> str | None:
    """The first `config.KEY` the message names (dotted), or None."""
    found = re.search(r'config\.([A-Za-z_][\w.]*[A-Za-z0-9_])', str(self))
    return found.group(1) if found else None


class DataError(UserError, FileNotFoundError):
  """A file, folder or workdir that is missing, empty or not what it should be."""


def one_line(error: BaseException) -> str:
  return ' '.join(str(error).split())


def exit_with(error: UserError, flag_prefix: str | None = None) -> None:
  """Prints `error` on stderr as 'error: ...' and exits with status 2. With `flag_prefix` (e.g.
  '--config.' for launch.py) a `ConfigError` also names the flag that changes its key."""
  message = f'error: {one_line(error)}'
  key = getattr(error, 'key', None)
  if flag_prefix is not None and key:
    message += f' (set {flag_prefix}{key}=...)'
  print(message, file=sys.stderr)
  sys.exit(2)
