"""ferv39k and mafw builders (official split and folds as TFDS splits), end to end from fakes."""

import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from conftest import build_splits, labelled
from tfds_builders import archives, common
from tfds_builders.ferv39k import Ferv39k, ferv39k
from tfds_builders.ferv39k import fake_archive as ferv_fake
from tfds_builders.mafw import Mafw, MafwConfig, mafw
from tfds_builders.mafw import fake_archive as mafw_fake

TINY = dict(size=32, max_frames=3)  # at most 3 stored faces: quick


def _prepare_error(builder, manual):
  with pytest.raises(archives.ManualDirError) as e:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)))
  return str(e.value)


def _relative(skipped, root):
  return {os.path.relpath(p, root): r for p, r in skipped.items()}


# ---------------------------------------------------------------------------
# FERV39k

@pytest.fixture(scope='module')
def ferv_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('ferv39k')
  fake = ferv_fake.make_fake_archive(
      tmp / 'manual', layout='nested', frame_size=(96, 96), missing=('War/Fear/0002',),
      corrupt=('Crime/Neutral/0094',),
      bad_lines={'test': ['Action/Happy/0003 Happy', 'Action/Angry/0009 Joy', 'Action/Sad']})
  builder = Ferv39k(config=common.ClipConfig(name='tiny', **TINY), data_dir=tmp / 'data',
                    num_workers=1)
  return fake, builder, *build_splits(builder, fake.root)


def test_ferv39k_train_and_test_are_tfds_splits_with_seven_classes(ferv_build):
  fake, builder, splits, _ = ferv_build
  assert builder.info.features['label'].names == [
      'anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise']
  assert sorted(splits) == ['test', 'train']
  for split in splits:
    listed = set(ferv_fake.DEFAULT_CLIPS[split])
    assert labelled(builder, splits[split]) == {
        k: v for k, v in fake.videos.items() if k in listed}
  assert labelled(builder, splits['test']) == {
      'Action/Angry/0001': ('anger', 'Action/Angry/0001'),
      'Talkshow/Surprise/0034': ('surprise', 'Talkshow/Surprise/0034')}
  assert all(e['clip'].shape[0] == 3 for e in splits['train'].values())


def test_ferv39k_skips_bad_lines_missing_and_corrupt_clips_by_line(ferv_build):
  fake, _, _, skipped = ferv_build
  lists = os.path.join('4_setups', 'All_scenes')
  corrupt, = fake.corrupt
  assert _relative(skipped, fake.root) == {
      os.path.join(lists, 'train_All.csv:4'): 'missing: clip War/Fear/0002: no frame folder',
      os.path.join(lists, 'test_All.csv:4'): 'duplicate: clip Action/Happy/0003 is in train',
      os.path.join(lists, 'test_All.csv:5'):
          "unlabelled: 'Joy' is not one of Angry Disgust Fear Happy Neutral Sad Surprise",
      os.path.join(lists, 'test_All.csv:6'): "unreadable line 'Action/Sad'",
      os.path.relpath(corrupt, fake.root): 'unreadable: truncated JPEG (no end-of-image marker)'}


def test_ferv39k_reads_the_release_archives(tmp_path):
  fake = ferv_fake.make_fake_archive(
      tmp_path / 'manual', {'train': ('Action/Happy/0003',), 'test': ('Crime/Neutral/0094',)},
      layout='zips', frame_size=(96, 96), num_frames=1)
  assert {'2_ClipsforFaceCrop.zip', '4_setups.zip'} <= set(os.listdir(fake.root))
  builder = Ferv39k(config=common.ClipConfig(name='tiny', **TINY), data_dir=tmp_path / 'data',
                    num_workers=1)
  splits, skipped = build_splits(builder, fake.root)
  assert {s: labelled(builder, e) for s, e in splits.items()} == {
      'train': {'Action/Happy/0003': ('happiness', 'Action/Happy/0003')},
      'test': {'Crime/Neutral/0094': ('neutral', 'Crime/Neutral/0094')}}
  assert not skipped


def test_ferv39k_split_lines_header_and_separators(tmp_path):
  path = tmp_path / 'train_All.csv'
  path.write_text('path label\nAction/Sad/0010 Sad\nWar\\Happy\\0001,Happy\n'
                  'Terror/Fear/0002\tFear\n')
  rows, skipped = ferv39k.read_split_file(path)
  assert rows == [('Action/Sad/0010', 'sadness', 2), ('War/Happy/0001', 'happiness', 3),
                  ('Terror/Fear/0002', 'fear', 4)]
  assert not skipped


def test_ferv39k_errors_say_what_was_expected(tmp_path):
  fake = ferv_fake.make_fake_archive(tmp_path / 'manual', {'train': ('Action/Happy/0003',)},
                                     frame_size=(32, 32), num_frames=1)
  shutil.rmtree(os.path.join(fake.root, ferv39k.CLIP_DIR))
  text = _prepare_error(Ferv39k(data_dir=tmp_path / 'data'), fake.root)
  assert 'no 2_ClipsforFaceCrop folder of face-crop frame folders' in text
  assert '2_ClipsforFaceCrop/Action/Angry/0000/*.jpg' in text
  os.remove(os.path.join(fake.root, '4_setups', 'All_scenes', 'test_All.csv'))
  text = _prepare_error(Ferv39k(data_dir=tmp_path / 'data'), fake.root)
  assert 'no 4_setups/All_scenes/train_All.csv and test_All.csv found' in text


def test_ferv39k_face_crops_build_without_a_search_as_the_detected_config_would(tmp_path,
                                                                                 monkeypatch):
  from emojax.data import faces, mtcnn, video
  fake = ferv_fake.make_fake_archive(tmp_path / 'manual', {'train': ('Action/Happy/0003',)},
                                     frame_size=(96, 96), num_frames=3)
  searched = []
  search = mtcnn.FaceDetector.__call__
  monkeypatch.setattr(mtcnn.FaceDetector, '__call__',
                      lambda self, frames, *a: searched.append(len(frames)) or search(
                          self, frames, *a))
  config = common.ClipConfig(name='tiny_given', given_faces=True, **TINY)
  builder = Ferv39k(config=config, data_dir=tmp_path / 'data', num_workers=1)
  splits, _ = build_splits(builder, fake.root)
  assert not searched  # The given crops' landmarks came from O-Net alone.
  clip = splits['train']['Action/Happy/0003']['clip']
  folder = os.path.join(fake.root, ferv39k.CLIP_DIR, 'Action', 'Happy', '0003')
  frames = video.read_image_sequence(sorted(os.path.join(folder, f) for f in os.listdir(folder)))
  detected = faces.extract_face_track(frames, TINY['size'])  # The `detected` config's crops.
  assert searched and np.abs(clip.astype(int) - detected.crops).mean() < 8


# ---------------------------------------------------------------------------
# MAFW

@pytest.fixture(scope='module')
def mafw_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('mafw')
  fake = mafw_fake.make_fake_archive(tmp / 'manual', frames=True, frame_size=(96, 72),
                                     missing=(9246,), corrupt=(467,),
                                     bad_lines={2: ['00025.mp4 anger', '00777.mp4 joy', 'x']})
  builder = Mafw(config=MafwConfig(name='tiny', **TINY), data_dir=tmp / 'data', num_workers=1)
  return fake, builder, *build_splits(builder, fake.root)


def test_mafw_each_official_fold_is_a_split_holding_its_test_list(mafw_build):
  fake, builder, splits, _ = mafw_build
  assert builder.info.features['label'].names == list(mafw.CLASS_NAMES)
  assert len(mafw.CLASS_NAMES) == 11
  assert sorted(splits) == [f'fold_{k}' for k in range(1, 6)]
  fold_of = mafw_fake.folds_of()
  for split, examples in splits.items():
    assert labelled(builder, examples) == {
        k: v for k, v in fake.videos.items() if fold_of[k] == split}
  assert labelled(builder, splits['fold_2']) == {'00055': ('disgust', '00055'),
                                                 '00120': ('anxiety', '00120')}
  # Videos: the stored rate is the container's (the fake writes 25 fps).
  assert all(float(e['fps']) == 25.0 for e in splits['fold_1'].values())


def test_mafw_skips_bad_lines_missing_and_corrupt_clips_by_line(mafw_build):
  fake, _, _, skipped = mafw_build
  lists = os.path.join('MAFW', mafw_fake.SPLITS, 'single', 'no_caption')
  corrupt, = fake.corrupt
  assert _relative(skipped, fake.root) == {
      os.path.join(lists, 'set_2', 'test.txt:3'): 'duplicate: clip 00025 is in fold_1',
      os.path.join(lists, 'set_2', 'test.txt:4'):
          "unlabelled: 'joy' is not one of the 11 single-label classes",
      os.path.join(lists, 'set_2', 'test.txt:5'): "unreadable line 'x'",
      os.path.join(lists, 'set_5', 'test.txt:2'): 'missing: clip 09246: no video file',
      os.path.relpath(corrupt, fake.root):
          'unreadable: not decodable as video (OpenCV/FFmpeg cannot open it)'}


def test_mafw_frames_config_reads_the_frame_folders(mafw_build, tmp_path):
  fake, *_ = mafw_build
  builder = Mafw(config=MafwConfig(name='tiny_frames', source='frames', **TINY),
                 data_dir=tmp_path / 'data', num_workers=1)
  splits, skipped = build_splits(builder, fake.root)
  built = {k: v for examples in splits.values() for k, v in labelled(builder, examples).items()}
  # The clip whose video is broken has intact frames.
  assert built == {**fake.videos, '00467': ('sadness', '00467')}
  assert 'missing: clip 09246: no folder in frames' in skipped.values()


def test_mafw_reads_the_release_archives(tmp_path):
  fake = mafw_fake.make_fake_archive(tmp_path / 'manual', {1: [(25, 'anger')], 2: [(99, 'fear')]},
                                     layout='zips', frame_size=(96, 72), num_frames=1)
  assert sorted(os.listdir(fake.root)) == ['Train & Test Set.zip', 'data.zip']
  builder = Mafw(config=MafwConfig(name='tiny', **TINY), data_dir=tmp_path / 'data',
                 num_workers=1)
  splits, skipped = build_splits(builder, fake.root)
  assert {s: labelled(builder, e) for s, e in splits.items()} == {
      'fold_1': {'00025': ('anger', '00025')}, 'fold_2': {'00099': ('fear', '00099')}}
  assert not skipped


def test_mafw_finds_clips_and_frame_folders_of_each_source(tmp_path):
  fake = mafw_fake.make_fake_archive(tmp_path, {1: [(25, 'anger')]}, frames=True,
                                     frame_size=(32, 32), num_frames=1)
  faces = mafw_fake.clip_path(fake.root, 25, 'faces')
  shutil.copytree(mafw_fake.clip_path(fake.root, 25, 'frames'), faces)
  ids = ['00025', f'{mafw_fake.UNLISTED:05d}']
  assert {k: os.fspath(v) for k, v in mafw.find_clips(tmp_path).items()} == {
      i: mafw_fake.clip_path(fake.root, int(i)) for i in ids}
  assert {k: os.fspath(v) for k, v in mafw.find_clips(tmp_path, 'frames').items()} == {
      i: mafw_fake.clip_path(fake.root, int(i), 'frames') for i in ids}
  assert {k: os.fspath(v) for k, v in mafw.find_clips(tmp_path, 'faces').items()} == {
      '00025': faces}


def test_mafw_errors_say_what_was_expected(tmp_path):
  fake = mafw_fake.make_fake_archive(tmp_path / 'manual', {1: [(25, 'anger')]}, frames=True,
                                     frame_size=(32, 32), num_frames=1)
  shutil.rmtree(os.path.join(fake.root, 'MAFW', 'data', 'clips'))
  text = _prepare_error(Mafw(data_dir=tmp_path / 'data'), fake.root)
  assert 'no MAFW clips (data/clips/00001.mp4) found; found frames: use --config=frames' in text
  shutil.rmtree(os.path.join(fake.root, 'MAFW', mafw_fake.SPLITS))
  text = _prepare_error(Mafw(data_dir=tmp_path / 'data'), fake.root)
  assert 'no Train & Test Set/single/no_caption/set_1/test.txt found' in text


def test_mafw_warns_when_a_train_list_is_not_the_other_folds(tmp_path, caplog):
  fake = mafw_fake.make_fake_archive(tmp_path / 'manual', {1: [(25, 'anger')], 2: [(99, 'fear')]},
                                     frame_size=(32, 32), num_frames=1)
  split_dir = mafw.find_split_dir(tmp_path / 'manual')
  with open(split_dir / 'set_1' / 'train.txt', 'a') as f:
    f.write('00777.mp4 sadness\n')
  _, _, fold_of = mafw.list_folds(split_dir, mafw.find_clips(fake.root))
  with caplog.at_level(logging.WARNING):
    mafw.check_train_files(split_dir, fold_of)
  assert 'set_1/train.txt: its train list has 2 clips' in caplog.text
  assert 'set_2' not in caplog.text
