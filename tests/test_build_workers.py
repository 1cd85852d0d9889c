"""The builders' worker pool: any Python context, dead workers, killed builds, CPU-only workers."""
import functools
import os
import subprocess
import sys
import time

import pytest

from tfds_builders import common, fakes, workers
from tfds_builders.oulu_casia import OuluCasia
from tfds_builders.oulu_casia import fake_archive as oulu_fake

from conftest import ROOT

SPEC = common.ClipConfig(name='tiny', size=8)


def _sources(n):
  return [common.Source(f'v{k}', 'happiness', f'S{k % 2}', f'/archive/v{k}') for k in range(n)]


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_the_video_it_held(tmp_path):
  """A segfault in one video: that video is skipped and named with the signal, the others
  build in the replacement worker and the one left."""
  manifest = tmp_path / common.MANIFEST_NAME
  stats = common.BuildStats()
  examples = dict(common.generate_examples(
      _sources(5), SPEC, class_names=('happiness',), num_workers=2, manifest=manifest,
      stats=stats, process=functools.partial(fakes.crash_on, crash_ids=('v2',))))
  assert sorted(examples) == ['v0', 'v1', 'v3', 'v4']
  skipped = common.read_manifest(manifest)
  assert skipped == [common.Skipped('/archive/v2', 'worker process died: killed by SIGSEGV')]
  assert stats.videos == 4 and stats.skipped == 1


POOL_SCRIPT = f'''
import functools, sys
sys.path.insert(0, {ROOT!r})
from tfds_builders import common, fakes, workers
from tfds_builders.oulu_casia import OuluCasia
sources = [common.Source(f'v{{k}}', 'happiness', 'S1', f'/v{{k}}') for k in range(3)]
spec = common.ClipConfig(name='tiny', size=8)
done = sorted(r[0] for r in workers.map_sources(sources, spec, 2, fakes.crash_on))
print('BUILT', *done)
'''


@pytest.mark.slow
@pytest.mark.parametrize('context', ['stdin', 'unguarded script'])
def test_workers_start_from_any_python_context(tmp_path, context):
  """`python -` (no file for spawned workers to re-run) and a script without a
  `__main__` guard (which they would re-run, building again) both build."""
  if context == 'stdin':
    cmd, stdin = [sys.executable, '-'], POOL_SCRIPT
  else:
    script = tmp_path / 'build.py'
    script.write_text(POOL_SCRIPT)
    cmd, stdin = [sys.executable, str(script)], None
  proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300,
                        cwd=tmp_path)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.count('BUILT') == 1 and 'BUILT v0 v1 v2' in proc.stdout


def test_workers_run_jax_on_the_cpu():
  """Whatever the build's own platform, its workers claim no accelerator."""
  os.environ['JAX_PLATFORMS'] = 'cuda'
  try:
    with workers._worker_env(2):
      assert os.environ['JAX_PLATFORMS'] == 'cpu'
    assert os.environ['JAX_PLATFORMS'] == 'cuda'
  finally:
    del os.environ['JAX_PLATFORMS']


class _ExitsWhenUnpickled:
  def __reduce__(self):
    return os._exit, (3,)


def test_a_worker_that_cannot_start_stops_the_build_without_blaming_a_video():
  with pytest.raises(RuntimeError, match=r'worker process could not start \(exit code 3\)'):
    list(workers.map_sources(_sources(2), SPEC, 2, process=_ExitsWhenUnpickled()))


BUILD_SCRIPT = '''
import multiprocessing, os, signal, sys
import tensorflow_datasets as tfds
import tfds_builders
from tfds_builders import workers
from tfds_builders.oulu_casia import OuluCasiaConfig

kill_after = int(sys.argv[1])
if kill_after:
  original = workers.map_sources

  def map_sources(*args, **kwargs):
    for k, result in enumerate(original(*args, **kwargs), 1):
      yield result
      if k == kill_after:
        print('WORKERS', *[p.pid for p in multiprocessing.active_children()], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

  workers.map_sources = map_sources
builder = tfds.builder('oulu_casia', config=OuluCasiaConfig(name='tiny', size=32, max_frames=3),
                       data_dir=sys.argv[2], num_workers=2)
builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=sys.argv[3]))
manifest = builder.build_stats.manifest
print('BUILT', len(builder.as_data_source('train')), manifest, os.path.exists(manifest))
'''


def _gone(pid: int) -> bool:
  try:
    with open(f'/proc/{pid}/status') as f:
      return 'State:\tZ' in f.read()
  except FileNotFoundError:
    return True


@pytest.mark.slow
def test_standard_build_from_stdin_killed_midway_finishes_when_run_again(tmp_path):
  """`tfds.builder(...).download_and_prepare(...)` from `python -` with 2 workers, killed after 2
  of 6 videos: its workers exit, the same build run again stores all 6, and the skip manifest
  path it reports exists."""
  fake = oulu_fake.make_fake_archive(tmp_path / 'manual', subjects=('P001', 'P002'),
                                     expressions=('Anger', 'Fear', 'Happiness'), num_frames=3,
                                     frame_size=(160, 120))
  data_dir = tmp_path / 'data'

  def build(kill_after):
    cmd = [sys.executable, '-', str(kill_after), str(data_dir), fake.root]
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(cmd, input=BUILD_SCRIPT, capture_output=True, text=True, timeout=900,
                           cwd=tmp_path, env=env)

  start = time.perf_counter()
  killed = build(2)
  killed_s = time.perf_counter() - start
  assert killed.returncode == -9 and 'BUILT' not in killed.stdout, killed.stderr[-3000:]
  pids = [int(p) for p in killed.stdout.split('WORKERS')[1].split()]
  assert len(pids) == 2
  deadline = time.time() + 30
  while not all(map(_gone, pids)) and time.time() < deadline:
    time.sleep(0.5)
  assert all(map(_gone, pids)), 'the killed build left its workers running'
  start = time.perf_counter()
  again = build(0)
  print(f'killed build: {killed_s:.1f} s; run again: {time.perf_counter() - start:.1f} s')
  assert again.returncode == 0, again.stderr[-3000:]
  line = again.stdout.split('BUILT')[1].split()
  assert line[0] == '6' and line[2] == 'True', again.stdout
  version = str(OuluCasia.VERSION)
  assert line[1] == str(data_dir / 'oulu_casia' / 'tiny' / version / common.MANIFEST_NAME)


class _Recorder:
  """A detector that records its calls and finds one face per frame, at the frame's first pixel."""

  def __init__(self):
    self.calls = []

  def __call__(self, frames, min_face):
    self.calls.append(('search', len(frames), frames.shape[1:3], min_face))
    return [int(f[0, 0, 0]) for f in frames]

  def on_boxes(self, frames, boxes, passes):
    self.calls.append(('on_boxes', len(frames), boxes.shape[1], passes))
    return [int(f[0, 0, 0]) + 1000 for f in frames]


def test_the_shared_detector_runs_one_batch_per_kind_and_frame_size():
  import numpy as np

  from tfds_builders import shared_detector

  def frames(values, size=8):
    return np.stack([np.full((size, size, 3), v, np.uint8) for v in values])
  candidates = np.zeros((4, 4))
  requests = [('search', frames([1, 2]), 20.0), ('search', frames([3]), 20.0),
              ('search', frames([4], 16), 20.0), ('on_boxes', frames([5, 6]),
                                                 np.broadcast_to(candidates, (2, 4, 4)), 2),
              ('search', frames([7]), 20.0)]
  detector = _Recorder()
  answers = shared_detector.run_batched(detector, requests)
  assert answers == [[1, 2], [3], [4], [1005, 1006], [7]]  # Each request gets its own frames'.
  assert sorted(detector.calls) == [('on_boxes', 2, 4, 2), ('search', 1, (16, 16), 20.0),
                                    ('search', 4, (8, 8), 20.0)]


@pytest.mark.slow
def test_a_build_with_one_shared_detector_stores_what_workers_detecting_store(tmp_path):
  """detect_on='shared' on the CPU (no accelerator needed): the workers' frames go to one
  detector process; the crops equal those of a worker detecting itself."""
  import numpy as np
  import tensorflow_datasets as tfds

  from emojax.data import faces, video
  from tfds_builders.dfew import Dfew, DfewConfig
  from tfds_builders.dfew import fake_archive as dfew_fake
  fake = dfew_fake.make_fake_archive(tmp_path / 'manual', {1: [(1, 1), (2, 2), (3, 3)]},
                                     num_frames=3, frame_size=(64, 64))
  builder = Dfew(config=DfewConfig(name='tiny', size=16), data_dir=tmp_path / 'data',
                 num_workers=2, detect_on='shared')
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=fake.root))
  assert 'by one detector on cpu' in builder.build_stats.detector
  source = builder.as_data_source('fold_1')
  assert len(source) == 3
  for example in (source[i] for i in range(3)):
    folder = dfew_fake.clip_folder(fake.root, int(example['video_id']), 'flat')
    frames = video.read_image_sequence(sorted(os.path.join(folder, f) for f in os.listdir(folder)))
    alone = faces.extract_face_track(frames, 16)  # What a worker detecting itself stores.
    assert np.abs(example['clip'].astype(int) - alone.crops).max() <= 2
