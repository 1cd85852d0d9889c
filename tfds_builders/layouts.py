"""Reading a dataset's folder tree: sub-folders, image sequences, video files; manifest CSVs.

Shared by the builders of CK+, RML, AFEW, CHEAVD, DFEW, FERV39k, MAFW and video_folder. Hidden
files, macOS forks (`._x`, `__MACOSX/`) and Windows' `Thumbs.db` are never part of a dataset.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Iterable, Iterator

from etils import epath

from emojax.data import video
from tfds_builders import archives, common


def visible(name: str) -> bool:
  return not name.startswith('.') and name != '__MACOSX'


def sub_dirs(d: epath.Path) -> list[epath.Path]:
  """The visible sub-folders of `d`, in natural order; [] when `d` cannot be listed."""
  with contextlib.suppress(OSError):
    return sorted((p for p in d.iterdir() if visible(p.name) and p.is_dir()),
                  key=lambda p: archives.natural_key(p.name))
  return []


def child(d: epath.Path, *names: str) -> epath.Path | None:
  """The first sub-folder of `d` whose name is one of `names`, ignoring case."""
  wanted = [n.lower() for n in names]
  found = {p.name.lower(): p for p in sub_dirs(d)}
  return next((found[n] for n in wanted if n in found), None)


def image_files(d: epath.Path) -> list[epath.Path]:
  """The image files of a frame folder (any case of `video.IMAGE_SUFFIXES`), in natural order."""
  with contextlib.suppress(OSError):
    return sorted((p for p in d.iterdir()
                   if visible(p.name) and p.suffix.lower() in video.IMAGE_SUFFIXES),
                  key=lambda p: archives.natural_key(p.name))
  return []


def video_files(root: os.PathLike | str,
                suffixes: Iterable[str] = video.VIDEO_SUFFIXES) -> list[str]:
  """Paths relative to `root` of its video files (any depth, any case), in natural order."""
  suffixes = tuple(s.lower() for s in suffixes)
  out = []
  for dirpath, dirnames, filenames in os.walk(os.fspath(root)):
    dirnames[:] = [d for d in dirnames if visible(d)]
    out.extend(os.path.relpath(os.path.join(dirpath, f), root) for f in filenames
               if visible(f) and f.lower().endswith(suffixes))
  return sorted(out, key=archives.natural_key)


def find_named_dir(root: epath.Path, names: Iterable[str], holds: Callable[[epath.Path], bool],
                   max_depth: int = 4) -> epath.Path | None:
  """The first folder (breadth first) called one of `names` (any case) for which `holds` is true."""
  names = {n.lower() for n in names}
  return archives.search_tree(root, lambda d: d.name.lower() in names and holds(d), max_depth)


def roots_with(manual_dir: epath.Path, dl_manager, probe: Callable[[epath.Path], object]
               ) -> list[epath.Path]:
  """`[manual_dir]` when `probe` finds the dataset unpacked there; else every archive directly
  in `manual_dir` (extracted once) where it finds part of it, for datasets released as several
  archives (RML's rml-1 / rml-2, AFEW's Train / Val)."""
  manual_dir = epath.Path(manual_dir)
  if probe(manual_dir):
    return [manual_dir]
  found = []
  for archive in sorted(p for p in manual_dir.iterdir()
                        if p.is_file() and p.name.lower().endswith(archives.ARCHIVE_SUFFIXES)):
    root = archives.extract(archive, epath.Path(dl_manager.download_dir) / 'extracted')
    if probe(root):
      found.append(root)
  return found


def posix(rel: str) -> str:
  return rel.replace(os.sep, '/')


def fold_name(k: int) -> str:
  """The TFDS split holding official fold `k`'s test set (DFEW, MAFW: `fold_1` ... `fold_5`)."""
  return f'fold_{k}'


def csv_header(path: epath.Path) -> list[str]:
  """The lower-cased column names of a CSV file (UTF-8, with or without a BOM); [] when it
  cannot be read."""
  try:
    with epath.Path(path).open(encoding='utf-8-sig') as f:
      return [c.strip().lower() for c in next(csv.reader(f), [])]
  except (OSError, UnicodeDecodeError):
    return []


def manifest_rows(path: epath.Path, columns: Iterable[str], skipped: list
                  ) -> Iterator[tuple[int, dict[str, str], str]]:
  """(line number, {column: stripped value}, video path) of each row of a manifest CSV with a
  `path` column (relative to the CSV's folder, or absolute). Rows without a path and rows that
  repeat one are appended to `skipped` (`common.Skipped`) instead."""
  header = csv_header(path)
  folder = os.path.dirname(os.fspath(path))
  seen = {}
  with epath.Path(path).open(encoding='utf-8-sig') as f:
    rows = csv.DictReader(f, fieldnames=header)
    next(rows)
    for row in rows:
      line = rows.line_num
      value = {c: (row.get(c) or '').strip() for c in columns}
      if not value['path']:
        skipped.append(common.Skipped(f'{path}:{line}', 'unreadable row: no path'))
        continue
      video = os.path.join(folder, value['path'])
      if value['path'] in seen:
        skipped.append(common.Skipped(video, f'duplicate row (line {line}; first on line '
                                      f'{seen[value["path"]]})'))
        continue
      seen[value['path']] = line
      yield line, value, video
