"""AFEW 6.0 / 7.0 builder (`tfds.builder('afew')`)."""

from tfds_builders.afew.afew import Afew

__all__ = ['Afew']
