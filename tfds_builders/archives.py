"""Finding a dataset in the manual download directory: the tree itself, or an archive in it.

Python's zipfile / tarfile, not `dl_manager.extract`, which needs TensorFlow.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from typing import TypeVar

from etils import epath

log = logging.getLogger(__name__)
T = TypeVar('T')

ARCHIVE_SUFFIXES = ('.zip', '.tar', '.tar.gz', '.tgz', '.tar.bz2', '.tbz2')


class ManualDirError(FileNotFoundError):
  """The manual download directory is missing, empty or lacks the dataset."""


def find_or_extract(manual_dir: epath.Path, dl_manager, probe: Callable[[epath.Path], T | None]):
  """`probe(manual_dir)`, else `probe` of each archive in it, extracted.

  Archives (zip / tar) directly inside `manual_dir` are extracted (under the
  download directory, once) only when the tree itself does not hold the
  dataset. Returns (root, probe result) or (None, None).
  """
  manual_dir = epath.Path(manual_dir)
  hit = probe(manual_dir)
  if hit:
    return manual_dir, hit
  archives = sorted(
    p for p in manual_dir.iterdir()
    if p.is_file() and p.name.lower().endswith(ARCHIVE_SUFFIXES)
  )
  for archive in archives:
    root = extract(archive, epath.Path(dl_manager.download_dir) / 'extracted')
    hit = probe(root)
    if hit:
      return root, hit
  return None, None


def extract(archive: epath.Path, into: epath.Path) -> epath.Path:
  """Unpacks a zip / tar archive to `into/<archive name>` (reused if complete)."""
  dest = epath.Path(into) / archive.name
  done = dest / '.extracted'
  if done.exists():
    return dest
  tmp = epath.Path(into) / f'{archive.name}.incomplete'
  if tmp.exists():
    shutil.rmtree(tmp)
  tmp.mkdir(parents=True)
  log.info('Extracting %s to %s', archive, dest)
  try:
    if zipfile.is_zipfile(archive):
      with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    else:
      with tarfile.open(archive) as t:
        t.extractall(tmp, filter='data')
  except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
    shutil.rmtree(tmp, ignore_errors=True)
    raise ManualDirError(f'cannot extract {archive}: {e}') from e
  (tmp / '.extracted').touch()
  if dest.exists():
    shutil.rmtree(dest)
  tmp.rename(dest)
  return dest


def search_tree(root: epath.Path, found, max_depth: int) -> epath.Path | None:
  """Breadth-first search for a directory satisfying `found`, sorted by name."""
  level = [epath.Path(root)]
  for _ in range(max_depth + 1):
    nxt = []
    for d in level:
      if found(d):
        return d
      with contextlib.suppress(OSError):
        nxt.extend(sorted(p for p in d.iterdir() if p.is_dir()))
    level = nxt
  return None


def natural_key(name: str) -> list:
  """Sort key that orders '2.jpeg' before '10.jpeg'."""
  return [int(t) if t.isdigit() else t.lower() for t in re.split(r'(\d+)', name)]
