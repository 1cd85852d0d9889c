"""ck_plus, rml and cheavd builders, end to end from tiny fake archives in the releases' layouts."""

import logging
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from conftest import build_splits, labelled
from tfds_builders import archives, common, layouts
from tfds_builders.ck_plus import CkPlus, CkPlusConfig, ck_plus
from tfds_builders.ck_plus import fake_archive as ck_fake
from tfds_builders.cheavd import Cheavd
from tfds_builders.cheavd import fake_archive as cheavd_fake
from tfds_builders.rml import Rml, parse_path
from tfds_builders.rml import fake_archive as rml_fake
from tfds_builders.rml.rml import Parsed, list_sources, probe

TINY = dict(size=32, max_frames=3)  # at most 3 stored faces: quick
SMALL = (160, 120)  # Frame size: face detection cost grows with it.


def _builder(cls, tmp, config, **kwargs):
  return cls(config=config, data_dir=os.path.join(tmp, 'data'), num_workers=1, **kwargs)


def _prepare_error(cls, manual, tmp):
  builder = cls(data_dir=os.path.join(tmp, 'data'))
  with pytest.raises(archives.ManualDirError) as e:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)))
  return str(e.value)


# ---------------------------------------------------------------------------
# CK+

@pytest.fixture(scope='module')
def ck_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('ck')
  fake = ck_fake.make_fake_archive(
      tmp / 'manual', frame_size=SMALL, colour=('S010',), corrupt={('S010', '002'): 'garbage'},
      bad_labels={('S011', '001'): '9.0'}, no_emotion_folder=[('S011', '003')])
  builder = _builder(CkPlus, tmp, CkPlusConfig(name='tiny', **TINY))
  return fake, builder, *build_splits(builder, fake.root)


def test_ck_plus_labelled_sequences_are_the_examples_with_seven_classes(ck_build):
  fake, builder, splits, _ = ck_build
  assert list(splits) == ['train']
  assert builder.info.features['label'].names == [
      'anger', 'contempt', 'disgust', 'fear', 'happiness', 'sadness', 'surprise']
  assert labelled(builder, splits['train']) == fake.videos == {
      'S005/001': ('disgust', 'S005'), 'S010/001': ('contempt', 'S010')}
  for e in splits['train'].values():
    assert e['clip'].shape == (3, 32, 32, 3) and e['clip'].std() > 10  # the whole sequence
    assert e['video_frames'] == 3 and e['fps'] == 25.0


def test_ck_plus_skips_unlabelled_bad_label_and_corrupt_sequences_with_reasons(ck_build):
  fake, _, _, skipped = ck_build
  images = os.path.join(fake.root, ck_plus.IMAGES_DIR)
  assert skipped[os.path.join(images, 'S005', '002')].startswith('unlabelled: no emotion file')
  assert skipped[os.path.join(images, 'S011', '003')].startswith('unlabelled: no emotion file')
  assert skipped[os.path.join(images, 'S011', '001')].startswith(
      'unreadable emotion file: code 9 is not one of 0-7')
  corrupt, = fake.corrupt
  assert skipped[corrupt].startswith('unreadable:')
  assert len(skipped) == 4


@pytest.mark.parametrize('text, expected', [
    ('   3.0000000e+00\n', 3), ('7', 7), ('0.0', 0), ('2.5', 'code 2.5 is not one of 0-7'),
    ('', 'expected one number'), ('happy', 'expected one number')])
def test_ck_plus_reads_the_float_code_of_an_emotion_file(tmp_path, text, expected):
  path = tmp_path / 'S005_001_00000011_emotion.txt'
  path.write_text(text)
  got = ck_plus.read_emotion_file(path)
  assert got == expected if isinstance(expected, int) else expected in got


def test_ck_plus_six_class_config_leaves_contempt_out_from_zipped_release(tmp_path):
  fake = ck_fake.make_fake_archive(tmp_path / 'manual', {('S010', '001'): 2, ('S010', '002'): 6,
                                                         ('S012', '001'): 0}, layout='zips',
                                   frame_size=SMALL)
  assert sorted(os.listdir(fake.root)) == ['Emotion_labels.zip',
                                           'extended-cohn-kanade-images.zip']
  builder = _builder(CkPlus, tmp_path, CkPlusConfig(name='tiny_six',
                                                    class_names=('anger', 'disgust', 'fear',
                                                                 'happiness', 'sadness',
                                                                 'surprise'), **TINY))
  splits, skipped = build_splits(builder, fake.root)
  assert len(builder.info.features['label'].names) == 6
  assert labelled(builder, splits['train']) == {'S010/002': ('sadness', 'S010')}
  reasons = {os.path.relpath(p, builder.data_dir).split('cohn-kanade-images/')[-1]: r
             for p, r in skipped.items()}
  assert sorted(r for r in skipped.values()) == [
      'excluded: contempt (code 2) is not a class of this config',
      'excluded: neutral (code 0) is not a class of this config']
  assert set(reasons) == {'S010/001', 'S012/001'}


def test_ck_plus_finds_both_folders_nested_and_says_what_is_missing(tmp_path):
  fake = ck_fake.make_fake_archive(tmp_path / 'nested', {('S005', '001'): 3}, layout='nested',
                                   frame_size=(32, 24), num_frames=1)
  root = tmp_path / 'nested'
  assert ck_plus.find_images_dir(root) == root / 'CK+' / ck_plus.IMAGES_DIR
  assert ck_plus.find_emotion_dir(root) == root / 'CK+' / ck_plus.EMOTION_DIR
  os.rename(root / 'CK+' / ck_plus.EMOTION_DIR, tmp_path / 'elsewhere')
  text = _prepare_error(CkPlus, fake.root, tmp_path)
  assert 'no Emotion folder' in text and 'Emotion_labels.zip' in text
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'readme.txt').write_text('x')
  assert 'no cohn-kanade-images folder' in _prepare_error(CkPlus, tmp_path / 'empty', tmp_path)


# ---------------------------------------------------------------------------
# RML

@pytest.fixture(scope='module')
def rml_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('rml')
  fake = rml_fake.make_fake_archive(
      tmp / 'manual', speakers=(1, 2, 6), codes=('an', 'su'),
      languages={2: ('English', 'Mandarin')}, frame_size=SMALL,
      corrupt=('rml-2/s6/su1.avi',), unlabelled=('xx1.avi',))
  builder = _builder(Rml, tmp, common.ClipConfig(name='tiny', **TINY))
  return fake, builder, *build_splits(builder, fake.root)


def test_rml_speakers_are_subjects_and_language_folders_are_read(rml_build):
  fake, builder, splits, skipped = rml_build
  assert labelled(builder, splits['train']) == fake.videos
  assert fake.videos['rml-1/s2/Mandarin/su1.avi'] == ('surprise', 's2')
  assert {e['subject'] for e in splits['train'].values()} == {b's1', b's2', b's6'}
  assert skipped == {**{p: 'unreadable: not decodable as video (OpenCV/FFmpeg cannot open it)'
                        for p in fake.corrupt},
                     fake.excluded[0]: "unrecognised name: the label is the file name's first "
                                       'two letters, one of an di fe ha sa su'}


@pytest.mark.parametrize('path, expected', [
    ('rml-1/s1/an1.avi', Parsed('s1', 'anger')),
    ('RML/rml-2/s7/Italian/ha12.avi', Parsed('s7', 'happiness', 'Italian')),
    ('rml-1/S3/Punjabi/extra/Di4.AVI', Parsed('s3', 'disgust', 'Punjabi/extra')),
    ('rml-1/s 4/fe2.avi', Parsed('s4', 'fear')),
    ('rml-1/an1.avi', 'no speaker folder'),
    ('rml-1/s1/xx1.avi', 'first two letters'),
])
def test_rml_parse_path(path, expected):
  got = parse_path(path)
  assert got == expected if isinstance(expected, Parsed) else expected in got


def test_rml_reads_both_parts_as_archives_and_warns_on_the_count(tmp_path, caplog):
  fake = rml_fake.make_fake_archive(tmp_path / 'manual', speakers=(1, 7), codes=('ha',),
                                    layout='zips', frame_size=(32, 24), num_frames=1)
  assert sorted(os.listdir(fake.root)) == ['rml-1.zip', 'rml-2.zip']

  class Manager:
    download_dir = tmp_path / 'downloads'

  roots = layouts.roots_with(tmp_path / 'manual', Manager, probe)
  sources, skipped = list_sources(roots)
  assert {s.video_id: (s.label, s.subject) for s in sources} == fake.videos and not skipped
  with caplog.at_level(logging.WARNING):
    tfds_builders.rml.rml.report_counts(sources, skipped)
  assert 'RML: 2 video files found, the release has 720' in caplog.text


def test_rml_tree_without_speaker_folders_is_a_clear_error(tmp_path):
  (tmp_path / 'manual').mkdir()
  (tmp_path / 'manual' / 'an1.avi').write_bytes(b'x')
  text = _prepare_error(Rml, tmp_path / 'manual', tmp_path)
  assert 'no RML videos (rml-1/s1/an1.avi' in text and 'rml-2' in text


# ---------------------------------------------------------------------------
# CHEAVD 2.0

BAD_ROWS = (('test/00003.avi', '', 'test', ''), ('other/1.avi', 'bored', 'train', 'F_9'),
            ('other/2.avi', 'sad', 'holdout', ''), ('train/00001.avi', 'sad', 'train', 'F_001'))


@pytest.fixture(scope='module')
def cheavd_build(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('cheavd')
  fake = cheavd_fake.make_fake_archive(tmp / 'manual', bad_rows=BAD_ROWS, frame_size=SMALL,
                                       corrupt=('test/00002.avi',))
  builder = _builder(Cheavd, tmp, common.ClipConfig(name='tiny', **TINY))
  return fake, builder, *build_splits(builder, fake.root)


def test_cheavd_manifest_splits_become_tfds_splits_with_eight_classes(cheavd_build):
  fake, builder, splits, _ = cheavd_build
  assert len(builder.info.features['label'].names) == 8
  split_of = cheavd_fake.splits_of()
  assert sorted(splits) == ['test', 'train', 'validation']
  for split, examples in splits.items():
    assert set(examples) == {v for v in fake.videos if split_of[v] == split}
    assert labelled(builder, examples) == {v: fake.videos[v] for v in examples}
  assert splits['validation']['val/00002.avi']['subject'] == b'val/00002.avi'  # no speaker


def test_cheavd_skips_unusable_rows_with_their_reasons(cheavd_build):
  fake, _, _, skipped = cheavd_build
  root = fake.root
  assert skipped == {
      os.path.join(root, 'test/00002.avi'): 'unreadable: not decodable as video (OpenCV/FFmpeg '
                                            'cannot open it)',
      os.path.join(root, 'test/00003.avi'): 'unlabelled (line 10)',
      os.path.join(root, 'other/1.avi'): "unrecognised label 'bored' (line 11)",
      os.path.join(root, 'other/2.avi'): "unrecognised split 'holdout' (line 12): train, "
                                         'validation or test',
      os.path.join(root, 'train/00001.avi'): 'duplicate row (line 13; first on line 2)'}


def test_cheavd_without_a_manifest_or_with_a_wrong_header_explains_the_format(tmp_path):
  (tmp_path / 'manual').mkdir()
  (tmp_path / 'manual' / 'clip.avi').write_bytes(b'x')
  text = _prepare_error(Cheavd, tmp_path / 'manual', tmp_path)
  assert 'no manifest.csv' in text and 'path,label,split,speaker' in text
  (tmp_path / 'manual' / 'manifest.csv').write_text('file,emotion\nclip.avi,angry\n')
  text = _prepare_error(Cheavd, tmp_path / 'manual', tmp_path)
  assert "missing ['path', 'label', 'split', 'speaker']" in text
  assert 'train/00001.avi,angry,train,F_001' in text


def test_builders_store_uint8_tracks_of_the_stored_size(ck_build, rml_build, cheavd_build):
  for _, _, splits, _ in (ck_build, rml_build, cheavd_build):
    for examples in splits.values():
      clip = next(iter(examples.values()))['clip']
      assert clip.dtype == np.uint8 and clip.shape[1:] == (32, 32, 3)
