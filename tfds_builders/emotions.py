"""Emotion class names: the six basic emotions (Ekman) and the spellings datasets use for them.

`BASIC_EMOTIONS` is the class set, in order, of Oulu-CASIA, eNTERFACE'05 and the synthetic
expressions. A dataset with other classes (CK+ with contempt, AFEW with neutral, CHEAVD 2.0, ...)
sets its own `CLASS_NAMES`, spelled as here: `canonical('Angry') == 'anger'`.
"""

from __future__ import annotations

BASIC_EMOTIONS = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')

# Folder names, file-name words and csv labels of the datasets -> the class names used here.
SPELLINGS = {
  **{name: name for name in (*BASIC_EMOTIONS, 'neutral', 'contempt', 'worried', 'anxious')},
  'angry': 'anger', 'disgusted': 'disgust', 'fearful': 'fear', 'happy': 'happiness',
  'sad': 'sadness', 'surprised': 'surprise', 'neutrality': 'neutral', 'worry': 'worried',
  'anxiety': 'anxious',
}


def canonical(name: str) -> str | None:
  """The class name a dataset's spelling stands for ('Angry' -> 'anger'); None if unknown."""
  return SPELLINGS.get(name.strip().lower())
