"""DFEW builder (`tfds.builder('dfew')`): one split per official fold."""

from tfds_builders.dfew.dfew import Dfew, DfewConfig

__all__ = ['Dfew', 'DfewConfig']
