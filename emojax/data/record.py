"""The run's data record (`W/data.json`): what a trained model expects of its input.

A run writes it once, at start; `emojax.restore` reads it back, and prediction and evaluation use
it to draw windows and crops as training drew clips. It holds the dataset's facts (its builder
info: class names, stored crop size and face margin, stored optical flow) and how the run drew its
clips from the stored tracks (its config: frames, sampling, spans, resize, views).
"""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from emojax.data import faces
from emojax.data import sampling as sampling_lib
from emojax.errors import DataError

DATA_FILE = 'data.json'
# The workdir layout this code reads; a workdir written by another layout is refused, not guessed.
FORMAT = 2


@dataclasses.dataclass(frozen=True)
class DataRecord:
  """The data a run trained on and how it drew clips from it.

  Attributes:
    format: the workdir layout (`FORMAT`) that wrote it.
    dataset: TFDS name (with config) and version, e.g. 'oulu_casia/vl_strong:2.0.0'.
    class_names: the dataset's classes in label order (its builder info's `ClassLabel`).
    crop_size: side of the stored square face crops.
    crop_margin: face-box margin on each side of the stored crops, as a fraction of the box.
    align: the stored crops are turned and scaled by the eyes (`emojax.data.faces.face_squares`);
      False: upright face boxes (or faces not cropped by MTCNN, e.g. generated ones).
    key_frame_interval: stored frames between the build's face detections
      (`emojax.data.tracking`); 0: the faces were not detected by emojax.
    given_faces: the release's frames were face crops, taken as given (no face search).
    flow_method: the optical flow the model's flow channels hold ('' for an RGB model): the
      dataset's stored flow, or what the pipeline computes; prediction computes the same.
    fps: stored frames per second (the dataset's median; None when the dataset records none).
    median_frames: stored frames per video (the dataset's median).
    image_size: side of the model input; the stored crop is resized to it plus `resize_margin`.
    resize_margin: `config.augment.crop_margin`: crops were resized to image_size * (1 + margin)
      and cut to image_size (random in training, centre in evaluation).
    num_frames: frames per model clip.
    sampling: `config.sampling` as used: {'method', 'num_fragments', 'stride'}.
    whole_video: whether a clip spans the whole video (else one segment of it).
    span_frames: stored frames one clip spans, first to last (for a whole video: the median one).
    span_seconds: the same span in seconds (None without a frame rate).
    views: evaluation's `config.eval`: {'num_clips', 'num_crops', 'aggregate'}.
  """
  format: int
  dataset: str
  class_names: tuple[str, ...]
  crop_size: int
  crop_margin: float
  align: bool
  key_frame_interval: int
  given_faces: bool
  flow_method: str
  fps: float | None
  median_frames: int
  image_size: int
  resize_margin: float
  num_frames: int
  sampling: dict
  whole_video: bool
  span_frames: int
  span_seconds: float | None
  views: dict

  @classmethod
  def for_run(cls, stored: dict, config, fps: float | None, median_frames: int) -> DataRecord:
    """The record of a run of `config` on a dataset with the `stored` facts (`dataset`,
    `class_names`, `crop_size`, `crop_margin`, `align`, `key_frame_interval`, `given_faces`,
    `flow_method`: `emojax.datasets.stored_facts`)
    whose tracks have this median frame rate and length."""
    sampling = sampling_lib.Sampling.from_config(config)
    span = sampling.span(median_frames)
    return cls(
        format=FORMAT, dataset=stored['dataset'], class_names=tuple(stored['class_names']),
        crop_size=int(stored['crop_size']), crop_margin=float(stored['crop_margin']),
        align=bool(stored['align']), key_frame_interval=int(stored['key_frame_interval']),
        given_faces=bool(stored['given_faces']),
        flow_method=config.flow.method, fps=fps, median_frames=int(median_frames),
        image_size=config.image_size, resize_margin=float(config.augment.crop_margin),
        num_frames=config.num_frames,
        sampling={'method': sampling.method, 'num_fragments': sampling.num_fragments,
                  'stride': sampling.stride},
        whole_video=sampling.whole_video, span_frames=span,
        span_seconds=None if fps is None else span / fps, views=config.eval.to_dict())

  @classmethod
  def for_tracks(cls, stored: dict, config, fps, num_stored) -> DataRecord:
    """`for_run` with the median rate (NaN: none recorded) and length of the dataset's tracks."""
    fps = np.asarray(fps, np.float64)
    median_fps = float(np.nanmedian(fps)) if np.isfinite(fps).any() else None
    return cls.for_run(stored, config, median_fps, int(np.median(num_stored)))

  def to_json(self) -> dict:
    return {**dataclasses.asdict(self), 'class_names': list(self.class_names)}

  @classmethod
  def from_json(cls, values: dict, path: str = DATA_FILE) -> DataRecord:
    """The record saved at `path`; one written by another workdir layout is a `DataError` that
    names the emojax version that reads it."""
    if values.get('format') != FORMAT:
      raise DataError(
          f'{path}: written by an emojax from before workdir format {FORMAT} (emojax 0.1); this '
          f'emojax reads format {FORMAT}. Train the run again (launch.py --overwrite) or use '
          'emojax 0.1 for it')
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
      raise DataError(f'{path}: unknown fields {unknown} (written by a newer emojax?)')
    return cls(**{**values, 'class_names': tuple(values['class_names'])})


def builders_crops(dataset: str, class_names, flow_method: str = '') -> dict:
  """Stored facts (as `emojax.datasets.stored_facts` gives them) of a model that saw no built
  dataset: the face crops the builders store by default."""
  return {'dataset': dataset, 'class_names': tuple(class_names),
          'crop_size': faces.STORED_CROP_SIZE, 'crop_margin': faces.CROP_MARGIN,
          'align': faces.ALIGN, 'key_frame_interval': faces.KEY_FRAME_INTERVAL,
          'given_faces': False, 'flow_method': flow_method}


def save(record: DataRecord, workdir: str) -> None:
  with open(os.path.join(workdir, DATA_FILE), 'w') as f:
    json.dump(record.to_json(), f, indent=2)


def load(path: str) -> DataRecord:
  with open(path) as f:
    return DataRecord.from_json(json.load(f), path)
