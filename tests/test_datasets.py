"""A run's data: the builder named by the config (built on first use, by process 0 alone), its
splits read as one source with an index of its examples, the facts its builder states, and the
run's data record (W/data.json), which refuses a workdir of another layout."""
import json
import os

import numpy as np
import pytest

from emojax import datasets
from emojax.data import record as record_lib
from emojax.data.record import DataRecord
from emojax.errors import ConfigError, DataError

from conftest import random_source, stored_facts, tiny_config


def test_concat_source_reads_the_splits_in_order():
  source = datasets.ConcatSource([['a0', 'a1'], [], ['b0'], ['c0', 'c1', 'c2']])
  assert len(source) == 6
  assert [source[i] for i in range(6)] == ['a0', 'a1', 'b0', 'c0', 'c1', 'c2']
  with pytest.raises(IndexError):
    source[6]


def test_read_index_reads_labels_subjects_track_lengths_and_rates():
  source = random_source(frames=6, vary=True)
  index = datasets.read_index(source, ['train'] * 10)
  assert index.subjects.tolist()[:3] == ['S0', 'S0', 'S1'] and index.labels[4] == 1
  assert index.video_ids[3] == 'v3' and index.splits.tolist() == ['train'] * 10
  assert index.num_stored.tolist()[:4] == [6, 7, 8, 6] and (index.fps == 10.0).all()


def test_a_builder_states_its_classes_crops_and_stored_flow_without_data():
  tiny = stored_facts(tiny_config())
  assert tiny['dataset'] == 'synthetic_expressions/tiny/1.2.0'
  assert tiny['class_names'][0] == 'anger' and tiny['crop_size'] == 32
  assert tiny['flow_method'] == ''
  flow = stored_facts(tiny_config(**{'dataset.name': 'enterface05', 'dataset.config': 'flow'}))
  assert flow['flow_method'] == 'farneback'


@pytest.mark.parametrize('fields, key', [
    ({'dataset.name': 'nonexistent'}, "config.dataset.name='nonexistent'"),
    ({'dataset.config': 'huge'}, "config.dataset.config='huge'"),
])
def test_an_unknown_dataset_or_builder_config_names_the_setting(fields, key):
  with pytest.raises(ConfigError, match=key):
    datasets.dataset_builder(tiny_config(**fields))


def test_a_dataset_without_its_manual_download_names_the_setting(tmp_path):
  config = tiny_config(**{'dataset.name': 'oulu_casia', 'dataset.config': '',
                          'dataset.data_dir': str(tmp_path / 'tfds'),
                          'dataset.manual_dir': str(tmp_path / 'missing')})
  with pytest.raises(ConfigError, match=r"config.dataset.manual_dir='.*missing'.* pass it as "
                     r'config.dataset.manual_dir;.*tfds_builders/oulu_casia/README.md') as e:
    datasets.prepared_builder(config)
  assert e.value.key == 'dataset.manual_dir'


def test_only_process_0_builds_the_dataset_and_the_others_say_when_they_cannot_see_it(
    tmp_path, monkeypatch):
  import jax

  from emojax import sharding
  config = tiny_config(**{'dataset.data_dir': str(tmp_path)})
  monkeypatch.setattr(jax.distributed, 'is_initialized', lambda: True)
  monkeypatch.setattr(jax, 'process_index', lambda: 1)
  waited = []
  monkeypatch.setattr(sharding, 'sync_processes', waited.append)
  with pytest.raises(DataError, match=f'data_dir={tmp_path}: process 0 built'):
    datasets.prepared_builder(config)
  assert waited == ['emojax: dataset prepared by process 0'] and os.listdir(tmp_path) == []


STORED = {'dataset': 'd/1.0.0', 'class_names': ('a', 'b', 'c'), 'crop_size': 20,
          'crop_margin': 0.5, 'flow_method': '', 'align': True, 'key_frame_interval': 5,
          'given_faces': False}


def test_the_data_record_states_how_clips_were_drawn_from_the_tracks():
  """Tracks of 6, 7 and 8 frames at 10 fps; random 4-frame segments 2 stored frames apart."""
  config = tiny_config(**{'num_frames': 4, 'image_size': 16, 'augment.crop_margin': 0.25,
                          'sampling.method': 'random_segment', 'sampling.stride': 2})
  index = datasets.read_index(random_source(frames=6, vary=True), ['train'] * 10)
  record = DataRecord.for_tracks(STORED, config, index.fps, index.num_stored)
  assert record.fps == 10.0 and record.median_frames == 7 and record.num_frames == 4
  assert record.sampling == {'method': 'random_segment', 'num_fragments': 1, 'stride': 2}
  assert not record.whole_video and record.span_frames == 7 and record.span_seconds == 0.7
  assert record.image_size == 16 and record.resize_margin == 0.25 and record.flow_method == ''
  assert record.views == {'num_clips': 1, 'num_crops': 1, 'aggregate': 'logits', 'flip': False}
  no_rate = DataRecord.for_tracks(STORED, config, np.full(10, np.nan), index.num_stored)
  assert no_rate.fps is None and no_rate.span_seconds is None


def test_the_data_record_reads_back_and_refuses_another_layout(tmp_path):
  record = DataRecord.for_run(STORED, tiny_config(**{'flow.method': 'farneback'}), 20.0, 8)
  record_lib.save(record, str(tmp_path))
  path = str(tmp_path / record_lib.DATA_FILE)
  assert record_lib.load(path) == record and record.flow_method == 'farneback'
  written = json.load(open(path))
  for old in ({k: v for k, v in written.items() if k != 'format'}, {**written, 'format': 1}):
    json.dump(old, open(path, 'w'))
    with pytest.raises(DataError, match=rf'{path}: written by an emojax from before workdir '
                       rf'format {record_lib.FORMAT} \(emojax 0.1\).*--overwrite'):
      record_lib.load(path)
  json.dump({**written, 'colour': 'red'}, open(path, 'w'))
  with pytest.raises(DataError, match=r"unknown fields \['colour'\]"):
    record_lib.load(path)
