"""video_folder: any folder of videos, labelled by class folder or manifest, or unlabelled."""
import os

import pytest
import tensorflow_datasets as tfds

import tfds_builders  # noqa: F401  (registers the builders)
from conftest import build_splits, labelled, tiny_config
from emojax import datasets
from emojax.errors import ConfigError
from tfds_builders import archives, cli, common
from tfds_builders.video_folder import VideoFolder, VideoFolderConfig, video_folder
from tfds_builders.video_folder import fake_archive as fake_folder

TINY = dict(size=32, max_frames=3)
BROKEN = dict(corrupt=('calm/ben/take1.avi',), empty=('happy/ben/take3.avi',),
              empty_classes=('sad',), loose=('stray.avi',), other_files=('happy/anna/notes.txt',))


def _builder(tmp, name='tiny', labelled_config=True, data='data'):
  return VideoFolder(config=VideoFolderConfig(name=name, labelled=labelled_config, **TINY),
                     data_dir=os.path.join(tmp, data), num_workers=1)


@pytest.fixture(scope='module')
def broken_tree(tmp_path_factory):
  """One labelled and one unlabelled build of a tree with a corrupt video, an empty (unreadable)
  file, an empty class folder, a video outside the class folders and a text file."""
  tmp = tmp_path_factory.mktemp('video_folder')
  fake = fake_folder.make_fake_archive(tmp / 'manual', **BROKEN)
  builds = {}
  for name, is_labelled in (('tiny', True), ('tiny_unlabelled', False)):
    builder = _builder(tmp, name, is_labelled)
    builds[name] = (builder, *build_splits(builder, fake.root))
  return fake, builds


def test_class_folders_are_the_labels_in_sorted_order_and_the_pattern_gives_subjects(broken_tree):
  fake, builds = broken_tree
  builder, splits, _ = builds['tiny']
  assert builder.info.features['label'].names == ['calm', 'happy']  # 'sad' holds no video
  assert labelled(builder, splits['train']) == fake.videos == {
      'calm/anna/take1.avi': ('calm', 'anna'), 'happy/anna/take2.avi': ('happy', 'anna')}
  assert {e['clip'].shape for e in splits['train'].values()} == {(3, 32, 32, 3)}


def test_broken_files_are_skipped_and_reported_with_the_reason(broken_tree):
  fake, builds = broken_tree
  _, _, skipped = builds['tiny']
  root = fake.root
  assert skipped == {
      os.path.join(root, 'calm/ben/take1.avi'):
          'unreadable: not decodable as video (OpenCV/FFmpeg cannot open it)',
      os.path.join(root, 'happy/ben/take3.avi'): 'unreadable: file is empty (0 bytes)',
      os.path.join(root, 'sad'): 'class folder without video files: not a class',
      os.path.join(root, 'stray.avi'): 'not in a class folder',
      os.path.join(root, 'happy/anna/notes.txt'):
          'not a video file (.txt); videos end in ' + ' '.join(video_folder.SUFFIXES)}


def test_unlabelled_stores_label_minus_one_and_no_classes(broken_tree):
  fake, builds = broken_tree
  builder, splits, skipped = builds['tiny_unlabelled']
  assert builder.info.features['label'].num_classes == 0
  assert {k: (int(e['label']), e['subject'].decode()) for k, e in splits['train'].items()} == {
      'calm/anna/take1.avi': (common.NO_LABEL, 'anna'),
      'happy/anna/take2.avi': (common.NO_LABEL, 'anna')}
  assert 'finds none in' in skipped[os.path.join(fake.root, 'stray.avi')]  # no subject folder


def test_a_prepared_build_reads_back_its_classes_and_the_folder_it_came_from(broken_tree,
                                                                             tmp_path):
  fake, builds = broken_tree
  builder = builds['tiny'][0]
  again = VideoFolder(config=builder.builder_config, data_dir=os.path.dirname(
      os.path.dirname(os.path.dirname(builder.data_dir))))
  assert again.is_prepared() and again.info.features['label'].names == ['calm', 'happy']
  assert again.info.metadata['manual_dir'] == os.path.realpath(fake.root)
  again.check_prepared(fake.root)
  with pytest.raises(archives.ManualDirError, match='give each folder a data_dir of its own'):
    again.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=os.fspath(tmp_path)))


def test_a_run_loading_a_build_of_another_folder_stops_naming_the_setting(broken_tree, tmp_path):
  """launch.py reuses a prepared dataset without building it: the builder's `check_prepared`
  still compares the folder."""
  builder = broken_tree[1]['tiny'][0]
  again = VideoFolder(config=builder.builder_config, data_dir=os.path.dirname(
      os.path.dirname(os.path.dirname(builder.data_dir))))
  config = tiny_config(**{'dataset.manual_dir': os.fspath(tmp_path)})
  with pytest.raises(ConfigError, match=r'config.dataset.manual_dir=.* give each folder a data'):
    datasets.prepared_builder(config, again)
  assert datasets.prepared_builder(tiny_config(**{'dataset.manual_dir': broken_tree[0].root}),
                                   again) is again


def test_a_rebuild_with_overwrite_takes_the_classes_the_folder_has_now(tmp_path):
  fake = fake_folder.make_fake_archive(tmp_path / 'manual', {'calm': ('a/1.avi',)})
  _builder(tmp_path).download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=fake.root))
  fake_folder.write_video(os.path.join(fake.root, 'angry', 'b', '1.avi'))
  builder = _builder(tmp_path)  # reads the first build's info, class names included
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=fake.root, download_mode=tfds.download.GenerateMode.FORCE_REDOWNLOAD))
  again = _builder(tmp_path)
  assert again.info.features['label'].names == ['angry', 'calm']
  source = again.as_data_source('train')
  assert {source[i]['video_id']: source[i]['label'] for i in range(2)} == {
      b'angry/b/1.avi': 0, b'calm/a/1.avi': 1}


def _tree(tmp_path, **kwargs):
  """A tree of empty files: listing reads names only."""
  for rel in ('calm/anna/1.avi', 'happy/ben/2.MP4', 'happy/anna/deep/3.webm', 'sad/anna/4.avi',
              'loose.avi'):
    os.makedirs(os.path.dirname(tmp_path / rel), exist_ok=True)
    (tmp_path / rel).write_bytes(b'')
  fake_folder.write_settings(tmp_path, **kwargs)
  return video_folder.read_settings(tmp_path)


def _sources(listing):
  return {s.video_id: (s.label, s.subject) for ss in listing.by_split.values() for s in ss}


def test_given_classes_set_the_order_and_leave_other_folders_out(tmp_path):
  settings = _tree(tmp_path, classes=('happy', 'calm', 'angry'),
                   subject_pattern=fake_folder.SUBJECT_PATTERN)
  listing = video_folder.list_tree(tmp_path, settings, labelled=True)
  assert listing.class_names == ('happy', 'calm', 'angry')
  assert _sources(listing) == {'calm/anna/1.avi': ('calm', 'anna'),
                               'happy/ben/2.MP4': ('happy', 'ben'),
                               'happy/anna/deep/3.webm': ('happy', 'anna')}
  reasons = {os.path.relpath(s.path, tmp_path): s.reason for s in listing.skipped}
  assert reasons == {'sad/anna/4.avi': "folder 'sad' is not one of the classes of "
                                       'video_folder.toml',
                     'loose.avi': 'not in a class folder'}


def test_unlabelled_lists_every_video_at_any_depth_and_without_a_pattern_each_is_a_subject(
    tmp_path):
  listing = video_folder.list_tree(tmp_path, _tree(tmp_path), labelled=False)
  assert listing.class_names == () and not listing.skipped
  assert _sources(listing) == {v: (common.NO_LABEL, v) for v in (
      'loose.avi', 'calm/anna/1.avi', 'happy/anna/deep/3.webm', 'happy/ben/2.MP4',
      'sad/anna/4.avi')}


MANIFEST_ROWS = (
    ('calm/anna/1.avi', 'calm', 'anna', 'train'),
    ('happy/ben/2.MP4', 'happy', '', 'TEST'),  # no subject: the pattern finds ben
    ('sad/anna/4.avi', '', 'anna', ''),  # no label
    ('happy/anna/deep/3.webm', 'happy', 'anna', 'hold out'),  # not a split name
    ('calm/anna/1.avi', 'happy', 'anna', 'train'),  # a second row for a path
    ('', 'calm', 'x', 'train'),
    ('/elsewhere/5.avi', 'bored', 'cara', ''),
)


def test_manifest_rows_give_labels_subjects_and_splits(tmp_path):
  settings = _tree(tmp_path, subject_pattern=fake_folder.SUBJECT_PATTERN)
  fake_folder.write_manifest(tmp_path, MANIFEST_ROWS)
  listing, _ = video_folder.list_folder(tmp_path, labelled=True)
  assert listing.how == 'manifest.csv' and listing.class_names == ('bored', 'calm', 'happy')
  assert {split: [s.video_id for s in ss] for split, ss in listing.by_split.items()} == {
      'train': ['calm/anna/1.avi', '/elsewhere/5.avi'], 'test': ['happy/ben/2.MP4']}
  assert _sources(listing)['happy/ben/2.MP4'] == ('happy', 'ben')
  assert listing.by_split['train'][1].path == '/elsewhere/5.avi'
  reasons = sorted(s.reason.split(' (line')[0] for s in listing.skipped)
  assert reasons == ['duplicate row', "split 'hold out'", 'unlabelled', 'unreadable row: no path']
  with_classes = video_folder.list_manifest(tmp_path / 'manifest.csv', video_folder.Settings(
      classes=('happy', 'calm')), labelled=True)
  assert with_classes.class_names == ('happy', 'calm')
  assert any("label 'bored'" in s.reason for s in with_classes.skipped)
  assert settings.subject_pattern.pattern == fake_folder.SUBJECT_PATTERN


def test_manifest_needs_a_label_column_only_when_labelled(tmp_path):
  fake_folder.write_manifest(tmp_path, [('a.avi', 'p1')], columns=('path', 'subject'))
  with pytest.raises(archives.ManualDirError, match='names no label column'):
    video_folder.list_folder(tmp_path, labelled=True)
  listing, _ = video_folder.list_folder(tmp_path, labelled=False)
  assert _sources(listing) == {'a.avi': (common.NO_LABEL, 'p1')}


@pytest.mark.parametrize('text, message', [
    ("classes = ['a']\nsubjects = 'x'\n", "unknown key 'subjects'"),
    ("subject_pattern = 's\\d+'\n", "a group named 'subject'"),
    ("subject_pattern = '(?P<subject>['\n", 'not a regular expression'),
    ("classes = ['a', 'a']\n", 'distinct, non-empty names'),
    ('classes = [a]\n', 'not a TOML file'),
])
def test_settings_that_cannot_work_name_the_file_and_key(tmp_path, text, message):
  (tmp_path / video_folder.SETTINGS).write_text(text)
  with pytest.raises(archives.ManualDirError, match=message) as e:
    video_folder.read_settings(tmp_path)
  assert str(tmp_path / video_folder.SETTINGS) in str(e.value)


def test_a_folder_without_class_folders_points_to_the_unlabelled_config(tmp_path):
  fake_folder.write_video(str(tmp_path / 'manual' / 'clip.avi'), num_frames=1, frame_size=(32, 24))
  builder = _builder(tmp_path)
  with pytest.raises(archives.ManualDirError, match='--config.dataset.config=unlabelled'):
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        manual_dir=os.fspath(tmp_path / 'manual')))


@pytest.mark.slow
def test_cli_builds_with_a_worker_pool_and_refuses_another_folder_in_the_same_data_dir(
    tmp_path, capsys):
  fake = fake_folder.make_fake_archive(tmp_path / 'manual', **BROKEN)
  data_dir = str(tmp_path / 'data')
  args = ['build', 'video_folder', f'--data_dir={data_dir}', '--num_workers=2']
  assert cli.main([*args, f'--manual_dir={fake.root}']) == 0
  assert 'train: 2 examples' in capsys.readouterr().out
  source = tfds.data_source('video_folder', data_dir=data_dir)['train']
  assert sorted(source[i]['video_id'].decode() for i in range(len(source))) == sorted(fake.videos)
  other = fake_folder.make_fake_archive(tmp_path / 'other', num_frames=1, frame_size=(32, 24))
  assert cli.main([*args, f'--manual_dir={other.root}']) == 2
  assert 'give each folder a data_dir of its own' in capsys.readouterr().err
