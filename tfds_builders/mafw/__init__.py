"""MAFW builder (`tfds.builder('mafw')`): one split per official fold."""

from tfds_builders.mafw.mafw import Mafw, MafwConfig

__all__ = ['Mafw', 'MafwConfig']
