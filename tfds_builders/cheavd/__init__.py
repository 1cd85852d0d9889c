"""CHEAVD 2.0 builder (`tfds.builder('cheavd')`), read through a manifest CSV."""

from tfds_builders.cheavd.cheavd import Cheavd, read_manifest

__all__ = ['Cheavd', 'read_manifest']
