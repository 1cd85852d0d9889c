"""afew and dfew builders (official splits and folds as TFDS splits), end to end from tiny fakes."""

import logging
import os
import shutil

import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from conftest import build_splits, labelled
from tfds_builders import archives, common
from tfds_builders.afew import Afew, afew
from tfds_builders.afew import fake_archive as afew_fake
from tfds_builders.dfew import Dfew, DfewConfig, dfew
from tfds_builders.dfew import fake_archive as dfew_fake

TINY = dict(size=32, max_frames=3)  # at most 3 stored faces: quick


def _prepare_error(builder, manual):
  with pytest.raises(archives.ManualDirError) as e:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)))
  return str(e.value)


# ---------------------------------------------------------------------------
# AFEW

@pytest.fixture(scope='module')
def afew_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('afew')
  fake = afew_fake.make_fake_archive(tmp / 'manual', frame_size=(160, 120),
                                     corrupt=('Val_AFEW/Sad/000543360.avi',),
                                     loose=('000000001',))
  builder = Afew(config=common.ClipConfig(name='tiny', **TINY), data_dir=tmp / 'data',
                 num_workers=1)
  return fake, builder, *build_splits(builder, fake.root)


def test_afew_train_and_val_are_tfds_splits_with_seven_classes(afew_build):
  fake, builder, splits, _ = afew_build
  assert builder.info.features['label'].names == list(afew.CLASS_NAMES)
  assert sorted(splits) == ['train', 'validation']
  for split, part in (('train', 'Train_AFEW/'), ('validation', 'Val_AFEW/')):
    assert labelled(builder, splits[split]) == {
        k: v for k, v in fake.videos.items() if k.startswith(part)}
  # The same clip id in both parts: two examples, told apart by the part folder.
  assert 'Train_AFEW/Happy/000150440.avi' in splits['train']
  assert 'Val_AFEW/Angry/000150440.avi' in splits['validation']


def test_afew_one_manifest_lists_the_skipped_entries_of_every_split(afew_build):
  fake, _, _, skipped = afew_build
  assert {os.path.relpath(p, fake.root): r for p, r in skipped.items()} == {
      'Train_AFEW/000000001.avi': 'unlabelled: not in a class folder',
      'Val_AFEW/Sad/000543360.avi': 'unreadable: not decodable as video (OpenCV/FFmpeg cannot '
                                    'open it)'}


def test_afew_reads_renamed_parts_from_their_archives(tmp_path):
  fake = afew_fake.make_fake_archive(
      tmp_path / 'manual', {'train': {'Fear': ('000000010',)}, 'validation': {'Neutral': ('7',)}},
      split_names=('Train', 'Val'), layout='zips', frame_size=(160, 120))
  assert sorted(os.listdir(fake.root)) == ['Train.zip', 'Val.zip']
  builder = Afew(config=common.ClipConfig(name='tiny', **TINY), data_dir=tmp_path / 'data',
                 num_workers=1)
  splits, skipped = build_splits(builder, fake.root)
  assert {s: labelled(builder, e) for s, e in splits.items()} == {
      'train': {'Train/Fear/000000010.avi': ('fear', '000000010')},
      'validation': {'Val/Neutral/7.avi': ('neutral', '7')}}
  assert not skipped


def test_afew_without_val_says_which_part_is_missing(tmp_path):
  fake = afew_fake.make_fake_archive(tmp_path / 'manual', {'train': {'Fear': ('1',)}},
                                     frame_size=(32, 24), num_frames=1)
  shutil.rmtree(os.path.join(fake.root, 'Val_AFEW'))
  text = _prepare_error(Afew(data_dir=tmp_path / 'data'), fake.root)
  assert 'no Val_AFEW folder with class folders (Val_AFEW/Angry/<id>.avi' in text


# ---------------------------------------------------------------------------
# DFEW

@pytest.fixture(scope='module')
def dfew_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('dfew')
  fake = dfew_fake.make_fake_archive(tmp / 'manual', clip_layout='parts', sixteen=True,
                                     missing=(10,), corrupt=(3,),
                                     bad_rows={2: ['12,9', 'x,1', '1,1']})
  builder = Dfew(config=DfewConfig(name='tiny', **TINY), data_dir=tmp / 'data', num_workers=1)
  return fake, builder, *build_splits(builder, fake.root)


def test_dfew_each_official_fold_is_a_split_holding_its_test_set(dfew_build):
  fake, builder, splits, _ = dfew_build
  assert builder.info.features['label'].names == [
      'happiness', 'sadness', 'neutral', 'anger', 'surprise', 'disgust', 'fear']
  assert sorted(splits) == [f'fold_{k}' for k in range(1, 6)]
  fold_of = dfew_fake.folds_of()
  for split, examples in splits.items():
    assert labelled(builder, examples) == {
        k: v for k, v in fake.videos.items() if fold_of[k] == split}
  assert labelled(builder, splits['fold_1']) == {'00001': ('happiness', '00001'),
                                                 '00006': ('neutral', '00006')}
  # The full frame folders, not the 16-frame variant (2 frames in the fake).
  assert all(e['clip'].shape[0] == 3 for e in splits['fold_4'].values())


def test_dfew_skips_bad_rows_missing_and_corrupt_clips_by_csv_line(dfew_build):
  fake, _, _, skipped = dfew_build
  by_place = {os.path.relpath(p, fake.root): r for p, r in skipped.items()}
  test_csv = os.path.join(dfew.SPLIT_DIR, 'test(single-labeled)')
  corrupt, = fake.corrupt
  assert by_place == {
      os.path.join(test_csv, 'set_2.csv:4'): 'unlabelled: label 9 is not 1-7',
      os.path.join(test_csv, 'set_2.csv:5'): "unreadable row 'x,1'",
      os.path.join(test_csv, 'set_2.csv:6'): 'duplicate: clip 00001 is in fold_1',
      os.path.join(test_csv, 'set_5.csv:3'): 'missing: clip 00010: no frame folder',
      os.path.relpath(corrupt, fake.root): 'unreadable: truncated JPEG (no end-of-image marker)'}


def test_dfew_clip_folder_variants(tmp_path):
  for layout in ('flat', 'nested', 'parts'):
    root = tmp_path / layout
    fake = dfew_fake.make_fake_archive(root, {1: [(1, 1)], 2: [(5, 2)]}, clip_layout=layout,
                                       sixteen=True, frame_size=(32, 32), num_frames=1)
    for sixteen in (False, True):
      found = dfew.find_clip_dirs(root, sixteen_frames=sixteen)
      assert {k: os.fspath(v) for k, v in found.items()} == {
          f'{c:05d}': dfew_fake.clip_folder(fake.root, c, layout, sixteen)
          for c in (1, 5, dfew_fake.UNLISTED)}


def test_dfew_errors_say_what_was_expected(tmp_path):
  fake = dfew_fake.make_fake_archive(tmp_path / 'manual', {1: [(1, 1)]}, frame_size=(32, 32),
                                     num_frames=1, sixteen=True)
  shutil.rmtree(os.path.join(fake.root, 'Clip', 'clip_224x224'))
  text = _prepare_error(Dfew(data_dir=tmp_path / 'data'), fake.root)
  assert 'no clip frame folders (Clip/clip_224x224/00001/*.jpg)' in text
  assert 'use --config=clip_16f' in text
  shutil.rmtree(os.path.join(fake.root, dfew.SPLIT_DIR))
  text = _prepare_error(Dfew(data_dir=tmp_path / 'data'), fake.root)
  assert 'no EmoLabel_DataSplit/test(single-labeled)/set_1.csv' in text
  (tmp_path / 'csv').mkdir()
  (tmp_path / 'csv' / 'set_1.csv').write_text('name,emotion\n1,1\n')
  with pytest.raises(ValueError, match='expected the header video_name,label'):
    dfew.read_split_csv(tmp_path / 'csv' / 'set_1.csv')


def test_dfew_warns_when_a_train_csv_is_not_the_other_folds(tmp_path, caplog):
  fake = dfew_fake.make_fake_archive(tmp_path / 'manual', {1: [(1, 1)], 2: [(2, 2)]},
                                     frame_size=(32, 32), num_frames=1)
  split_dir = tmp_path / 'manual' / dfew.SPLIT_DIR
  with open(split_dir / 'train(single-labeled)' / 'set_1.csv', 'a') as f:
    f.write('77,3\n')
  folds, _, fold_of = dfew.list_folds(split_dir, dfew.find_clip_dirs(fake.root))
  with caplog.at_level(logging.WARNING):
    dfew.check_train_files(split_dir, fold_of)
  assert 'set_1.csv: its train list has 2 clips' in caplog.text
  assert 'set_2.csv' not in caplog.text
