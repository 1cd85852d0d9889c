"""Any video -> per-window emotion probabilities and a smoothed per-frame timeline (+ CLI).

    import emojax
    pred = emojax.predict_video('clip.mp4', checkpoint='/tmp/emojax_demo', out_dir='/tmp/pred')
    pred.labels          # per frame: a class name, or None where no face was found
    pred.probabilities   # float32 [N, num_classes], NaN where a frame has no label

    python -m emojax.predict VIDEO --out=DIR [--annotate]   # FER2013 network on every frame
    python -m emojax.predict VIDEO --checkpoint=WORKDIR --out=DIR [--stride=4] [--annotate]
    python -m emojax.predict A.mp4 B.mp4 FOLDER/ --out=DIR   # one output folder per video
    python -m emojax.predict --camera=0 [--checkpoint=WORKDIR]      # live labels on stdout

With no model (no `--checkpoint`) the FER2013 network of the `fer` package labels every frame
(`frame_model`: one-frame windows, stride 1, seven classes with neutral): any real video gets a
meaningful timeline with no training. With a checkpoint, the trained run's model and classes.

Modules: `timeline` (face track, windows, the model, `predict_video`), `outputs` (`Prediction` and
its files), `cli` (`main`, camera mode), `frame_model` (the FER2013 default).

The frames go through the builders' face pipeline (`tfds_builders/workers.py::process_source`,
`docs/data.md`): MTCNN on key frames (every `key_frame_interval`-th, 5 by default, and where the
track is unsure), the subject's track over the whole video, boxes and landmarks smoothed over
time, square crops aligned by the eyes or upright, at the size, margin and alignment the run's
dataset stored (its `DataRecord`), then evaluation's centre view: resized to `image_size * (1 + crop margin)` and cut to
`config.image_size` (`emojax.data.sampling`). Key frames are detected as the video is decoded, in
the detector's full batches (a long video need not fit in memory; the video is decoded again for
the frames to recheck and for cropping when its frames exceed `max_cached_bytes`); on any input
the crops equal `extract_face_track(frames, size, margin, align, key_frame_interval)`'s.

Windows match training by default (`timeline.window_plan`, from the run's data contract): a window
spans what a training clip spanned, in seconds (a whole-video contract: the training videos'
median length, at most the video), and takes `config.num_frames` of its frames as evaluation
sampled a clip from a stored track (`config.sampling`: evenly spaced, or a segment, or fragments),
at the video's own frame rate. One window starts every `stride` frames (plus one flush with the
end, so every frame is covered). `span` (frames) overrides the length. Windows in which fewer than `min_face_fraction` of the
sampled frames had a detected face are not run.

Timeline: each frame averages the probabilities of the run windows whose span covers it, then
`emojax.data.smoothing.gaussian_smooth` over time (`smoothing` seconds, its sigma; normalised over
labelled frames only). Frames without a detected face have `face_found: false` and no
probabilities or label: nothing is guessed.
"""
from emojax.predict.outputs import Prediction
from emojax.predict.timeline import VideoTooShortError, face_track, predict_video, window_indices

__all__ = ['predict_video', 'Prediction', 'VideoTooShortError', 'face_track', 'window_indices']
