"""oulu_casia and enterface05 builders, end to end from tiny fake archives."""

import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from tfds_builders import archives, cli, common
from tfds_builders.enterface05 import Enterface05Config, parse_path
from tfds_builders.enterface05 import fake_archive as enterface_fake
from tfds_builders.enterface05.enterface05 import Parsed, list_videos
from tfds_builders.oulu_casia import OuluCasiaConfig
from tfds_builders.oulu_casia import fake_archive as oulu_fake
from tfds_builders.oulu_casia import oulu_casia

TINY = dict(size=32, max_frames=6)  # At most 6 stored 32 x 32 faces keep face detection quick.


def _build(name, config, manual_dir, data_dir, num_workers=1):
  builder = tfds.builder(name, config=config, data_dir=data_dir, num_workers=num_workers)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  source = tfds.data_source(name, data_dir=data_dir, builder_kwargs={'config': config})
  examples = [source['train'][i] for i in range(len(source['train']))]
  manifest = common.read_manifest(os.path.join(builder.data_dir, common.MANIFEST_NAME))
  return builder, examples, manifest


def _check_examples(builder, examples, expected, fps=25.0):
  """Every expected video, each the face track of the whole video: every frame, or every
  `step`-th where the video has more than `max_frames` (`fps` says the stored rate)."""
  names = builder.info.features['label']
  got = {e['video_id'].decode(): (names.int2str(int(e['label'])), e['subject'].decode())
         for e in examples}
  assert got == expected
  cfg = builder.builder_config
  for e in examples:
    step = max(cfg.frame_step, -(-int(e['video_frames']) // cfg.max_frames))
    assert e['clip'].shape == (len(range(0, int(e['video_frames']), step)), cfg.size, cfg.size, 3)
    assert e['clip'].dtype == np.uint8 and len(e['clip']) <= cfg.max_frames
    assert e['fps'] == pytest.approx(fps / step)
    assert e['clip'].std() > 10  # A face crop, not a blank.


# ---------------------------------------------------------------------------
# Configs and features.

def test_configs_and_features():
  oulu = tfds.builder('oulu_casia', data_dir='/nonexistent')
  assert oulu.builder_config.name == 'vl_strong'
  assert [c.name for c in oulu.BUILDER_CONFIGS] == [
      'vl_strong', 'vl_weak', 'vl_dark', 'ni_strong', 'ni_weak', 'ni_dark']
  enterface = tfds.builder('enterface05', data_dir='/nonexistent')
  assert [c.name for c in enterface.BUILDER_CONFIGS] == ['default', 'subjects42', 'flow']
  for b in (oulu, enterface):
    assert b.info.features['clip'].shape == (None, 128, 128, 3)
    assert b.builder_config.frame_step == 1 and b.builder_config.max_frames == 300
    assert b.info.features['clip'].np_dtype == np.uint8
    assert b.info.features['label'].names == [
        'anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise']
    assert b.info.file_format.value == 'array_record'
    assert b.MANUAL_DOWNLOAD_INSTRUCTIONS


# ---------------------------------------------------------------------------
# The builder base with another class set.

class SevenClasses(common.VideoBuilder, skip_registration=True):
  """Oulu-CASIA's layout with CK+'s seven classes: the base takes the names from the builder."""

  VERSION = tfds.core.Version('1.0.0')
  CLASS_NAMES = ('anger', 'contempt', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
  BUILDER_CONFIGS = [common.ClipConfig(name='tiny', size=32)]
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'A fake Oulu-CASIA tree.'

  def _split_generators(self, dl_manager):
    cond_dir = self._manual_dir(dl_manager) / 'OriginalImg' / 'VL' / 'Strong'
    sources, skipped = oulu_casia.list_sequences(cond_dir, 'VL/Strong', self.CLASS_NAMES)
    return {'train': self._generate_examples(sources, skipped)}


def test_a_builder_with_seven_classes_stores_its_own_names(tmp_path):
  fake = oulu_fake.make_fake_archive(tmp_path / 'manual', subjects=('P001',),
                                     expressions=('Contempt', 'Surprise'), num_frames=3)
  builder = SevenClasses(data_dir=tmp_path / 'data', num_workers=1)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=fake.root))
  assert builder.info.features['label'].names == list(SevenClasses.CLASS_NAMES)
  source = builder.as_data_source('train')
  labels = {source[i]['video_id'].decode(): int(source[i]['label']) for i in range(len(source))}
  assert labels == {'VL/Strong/P001/Contempt': 1, 'VL/Strong/P001/Surprise': 6}


def test_a_label_outside_the_class_names_is_an_error_naming_the_file(tmp_path):
  source = common.Source(video_id='P001/Neutral', label='neutral', subject='P001',
                         path='/archive/P001/Neutral', frames=('/archive/P001/Neutral/0.png',))
  examples = common.generate_examples([source], common.ClipConfig(name='tiny', **TINY),
                                      class_names=('anger', 'happiness'),
                                      manifest=tmp_path / common.MANIFEST_NAME)
  with pytest.raises(ValueError, match=r"/archive/P001/Neutral: label 'neutral' is not one"):
    next(examples)


# ---------------------------------------------------------------------------
# Oulu-CASIA.

@pytest.mark.slow
def test_oulu_casia_end_to_end(tmp_path):
  fake = oulu_fake.make_fake_archive(
      tmp_path / 'manual', subjects=('P001', 'P002', 'P003'), num_frames=(3, 7),
      corrupt={'P001/Anger': 'garbage', 'P002/Fear': 'truncated'},
      faceless=('P003/Sadness',))
  assert len(fake.videos) == 15
  config = OuluCasiaConfig(name='tiny', **TINY)
  # Two workers: the process pool path.
  builder, examples, manifest = _build('oulu_casia', config, fake.root, tmp_path / 'data',
                                       num_workers=2)
  _check_examples(builder, examples, fake.videos)
  assert {e['video_id'] for e in examples} >= {b'VL/Strong/P002/Happiness'}
  assert {int(e['video_frames']) for e in examples} == {3, 4, 5, 6, 7}  # 7 frames: every 2nd
  reasons = {m.path: m.reason for m in manifest}
  assert set(reasons) == set(fake.corrupt) | set(fake.faceless)
  for path in fake.corrupt:
    assert reasons[path].startswith('unreadable:') and path.endswith('001.jpeg')
  assert reasons[fake.faceless[0]].startswith('no face:')
  assert builder.build_stats.videos == 15 and builder.build_stats.skipped == 3


def test_oulu_casia_ni_config_reads_grey_frames(tmp_path):
  fake = oulu_fake.make_fake_archive(tmp_path / 'manual', subjects=('P010',),
                                     modalities=('VL', 'NI'), illuminations=('Dark',),
                                     expressions=('Happiness', 'Surprise'), num_frames=4)
  config = OuluCasiaConfig(name='tiny_ni', modality='NI', illumination='Dark', **TINY)
  builder, examples, manifest = _build('oulu_casia', config, fake.root, tmp_path / 'data')
  ni_videos = {k: v for k, v in fake.videos.items() if k.startswith('NI/')}
  _check_examples(builder, examples, ni_videos)
  clip = examples[0]['clip']
  np.testing.assert_array_equal(clip[..., 0], clip[..., 2])  # Grey in, grey out.
  assert manifest == []


def test_oulu_casia_finds_tree_inside_a_zip(tmp_path):
  fake = oulu_fake.make_fake_archive(tmp_path / 'tree', subjects=('P001',),
                                     expressions=('Anger', 'Disgust'), num_frames=4)
  (tmp_path / 'manual').mkdir()
  shutil.make_archive(tmp_path / 'manual' / 'Oulu_CASIA', 'zip', fake.root)
  config = OuluCasiaConfig(name='tiny', **TINY)
  builder, examples, _ = _build('oulu_casia', config, tmp_path / 'manual', tmp_path / 'data')
  _check_examples(builder, examples, fake.videos)


def test_oulu_casia_expression_folders_are_class_names_or_skipped(tmp_path):
  for folder in ('P001/Happiness', 'P001/Neutral', 'P002/SURPRISE'):
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / '000.jpeg').write_bytes(b'x')
  sources, skipped = oulu_casia.list_sequences(tmp_path, 'VL/Strong', ('happiness', 'surprise'))
  assert [(s.video_id, s.label) for s in sources] == [('VL/Strong/P001/Happiness', 'happiness'),
                                                      ('VL/Strong/P002/SURPRISE', 'surprise')]
  assert skipped == [common.Skipped(str(tmp_path / 'P001/Neutral'),
                                    'unrecognised expression folder')]


@pytest.mark.slow
def test_cli_builds_default_config_readable_by_name(tmp_path, capsys):
  fake = oulu_fake.make_fake_archive(tmp_path / 'manual', subjects=('P005',),
                                     expressions=('Fear', 'Happiness'), num_frames=5)
  data_dir = str(tmp_path / 'data')
  assert cli.main(['build', 'oulu_casia', f'--manual_dir={fake.root}',
                   f'--data_dir={data_dir}', '--num_workers=1']) == 0
  assert 'skipped.tsv' in capsys.readouterr().out
  source = tfds.data_source('oulu_casia', data_dir=data_dir)['train']
  assert len(source) == 2
  example = source[0]
  assert example['clip'].shape == (5, 128, 128, 3) and example['video_frames'] == 5
  assert example['subject'] == b'P005' and example['fps'] == 25.0
  assert os.path.exists(os.path.join(data_dir, 'oulu_casia', 'vl_strong', '3.0.0',
                                     'skipped.tsv'))


@pytest.mark.parametrize('name, contents, message', [
    ('oulu_casia', None, 'does not exist or is empty'),
    ('oulu_casia', 'notes.txt', 'no OriginalImg/VL/Strong folder'),
    ('enterface05', None, 'does not exist or is empty'),
    ('enterface05', 'Thumbs.db', r'no \.avi videos'),
])
def test_missing_or_incomplete_manual_dir_says_what_to_download(tmp_path, name, contents,
                                                                message):
  manual = tmp_path / 'manual'
  if contents:
    manual.mkdir()
    (manual / contents).write_text('x')
  builder = tfds.builder(name, data_dir=tmp_path / 'data')
  with pytest.raises(archives.ManualDirError, match=message) as e:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual))
  text = str(e.value)
  assert str(manual) in text
  assert ('OriginalImg' in text) if name == 'oulu_casia' else ('project2_database.zip' in text)


# ---------------------------------------------------------------------------
# eNTERFACE'05.

@pytest.mark.parametrize('path, expected', [
    ('subject 1/anger/sentence 1/s1_an_1.avi', Parsed('s1', 'anger')),
    ('s1_an_1.avi', Parsed('s1', 'anger')),
    ('subject 3/happiness/sentence 1/s_3_ha_1.avi', Parsed('s3', 'happiness')),
    ('s_3_ha_1.avi', Parsed('s3', 'happiness')),
    ('subject 16/surprise/sentence 3/s16_su_3avi.avi', Parsed('s16', 'surprise')),
    ('s16_su_3avi.avi', Parsed('s16', 'surprise')),
    ('subject 11/fear/sentence 2/s12_fe_2.avi', Parsed('s11', 'fear', 'file name says s12')),
    ('subject 6/sadness/s6_sa.avi', Parsed('s6', 'sadness')),
    ('enterface database/Subject 7/Disgust/Sentence 4/s7_di_4.AVI', Parsed('s7', 'disgust')),
    ('subject-2/fear/sentence-5/extra/s2_fe_5.avi', Parsed('s2', 'fear')),
    ('subject 9/anger/sentence 1/clip.avi', Parsed('s9', 'anger')),
    ('subject 4/fear/sentence 1/s4_su_1.avi', Parsed('s4', 'fear', 'file name says surprise')),
])
def test_parse_path(path, expected):
  assert parse_path(path) == expected


@pytest.mark.parametrize('path', ['clip.avi', 'misc/s1_xx_1.avi', 'subject 2/video.avi'])
def test_parse_path_unrecognised(path):
  assert 'unrecognised' in parse_path(path)


def test_list_videos_ignores_extras(tmp_path):
  for rel in ['subject 1/anger/sentence 1/s1_an_1.avi', 'subject 1/anger/sentence 1/s1_an_2.AVI',
              'subject 1/Thumbs.db', 'subject 1/anger/sentence 1/._s1_an_1.avi',
              '__MACOSX/subject 1/s1_an_1.avi', 'subject 1/anger/s1_an_1.wav']:
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(b'x')
  assert list_videos(tmp_path) == [os.path.join('subject 1', 'anger', 'sentence 1', n)
                                   for n in ('s1_an_1.avi', 's1_an_2.AVI')]


@pytest.mark.slow
def test_enterface_nested_end_to_end(tmp_path):
  fake = enterface_fake.make_fake_archive(
      tmp_path / 'manual', subjects=(3, 6, 11), sentences=(1,), frame_size=(320, 240),
      corrupt={'s3_an_1': 'garbage', 's11_di_1': 'truncated'}, faceless=('s11_sa_1',))
  assert len(fake.videos) == 9 and len(fake.excluded) == 6
  config = Enterface05Config(name='tiny', **TINY)
  builder, examples, manifest = _build('enterface05', config, fake.root, tmp_path / 'data')
  _check_examples(builder, examples, fake.videos)
  assert {int(e['video_frames']) for e in examples} >= {8, 9}  # stored every 2nd frame
  # Subject 11's files are named s12_*: the folder decides.
  assert {e['subject'] for e in examples} == {b's3', b's11'}
  reasons = {m.path: m.reason for m in manifest}
  assert set(reasons) == set(fake.corrupt) | set(fake.faceless) | set(fake.excluded)
  for path in fake.corrupt:
    assert reasons[path].startswith('unreadable:')
  for path in fake.excluded:
    assert reasons[path] == 'excluded: subject s6 (config)'
  assert reasons[fake.faceless[0]].startswith('no face:')
  assert builder.build_stats.left_out == 6


def test_enterface_flat_layout_from_zip(tmp_path):
  fake = enterface_fake.make_fake_archive(
      tmp_path / 'tree', subjects=(1, 16, 23), sentences=(3,), layout='flat',
      frame_size=(320, 240), num_frames=6, codec='MJPG')
  assert 's16_su_3avi.avi' in fake.videos and len(fake.videos) == 15  # s23 lacks three.
  (tmp_path / 'manual').mkdir()
  shutil.make_archive(tmp_path / 'manual' / 'project2_database', 'zip', fake.root)
  config = Enterface05Config(name='tiny_flat', exclude_subjects=('s23',), **TINY)
  builder, examples, manifest = _build('enterface05', config, tmp_path / 'manual',
                                       tmp_path / 'data')
  _check_examples(builder, examples, {k: v for k, v in fake.videos.items() if v[1] != 's23'})
  assert sorted(os.path.basename(m.path) for m in manifest) == [
      's23_ha_3.avi', 's23_sa_3.avi', 's23_su_3.avi']


def test_enterface_flow_feature_is_the_flow_of_the_stored_faces(tmp_path):
  from emojax.data import flow

  fake = enterface_fake.make_fake_archive(
      tmp_path / 'manual', subjects=(1,), emotions=('anger', 'happiness'), sentences=(1,),
      frame_size=(320, 240), num_frames=8, codec='MJPG')
  config = Enterface05Config(name='tiny_flow', flow='farneback', size=32, frame_step=3)
  builder, examples, _ = _build('enterface05', config, fake.root, tmp_path / 'data')
  _check_examples(builder, examples, fake.videos)
  for e in examples:
    assert e['video_frames'] == 8 and e['fps'] == pytest.approx(25 / 3)
    assert e['flow'].shape == (3, 32, 32, 3) and e['flow'].dtype == np.uint8
    np.testing.assert_array_equal(e['flow'], flow.flow_images(e['clip'], 'farneback'))


def test_read_track_keeps_every_step_th_frame_within_the_cap(tmp_path):
  from emojax.data import video
  from tfds_builders import fakes, workers
  path = str(tmp_path / 'v.avi')
  enterface_fake.write_avi(path, fakes.fake_face_frames(20, (64, 48)), fps=20.0, codec='MJPG')
  source = common.Source('v.avi', 'anger', 's1', path)
  frames, fps, n = workers.read_track(source, common.ClipConfig(name='t', max_frames=6))
  assert n == 20 and fps == 5.0 and len(frames) == 5  # step 4: frames 0, 4, ..., 16
  np.testing.assert_array_equal(frames, video.read_video(path)[::4])
  frames, fps, _ = workers.read_track(source, common.ClipConfig(name='t', frame_step=3))
  assert len(frames) == 7 and fps == pytest.approx(20 / 3)
  with pytest.raises(ValueError, match='builder config t: frame_step=0'):
    common.check_spec(common.ClipConfig(name='t', frame_step=0))
