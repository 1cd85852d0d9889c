"""eNTERFACE'05 builder (`tfds.builder('enterface05')`)."""

from tfds_builders.enterface05.enterface05 import Enterface05, Enterface05Config, parse_path

__all__ = ['Enterface05', 'Enterface05Config', 'parse_path']
