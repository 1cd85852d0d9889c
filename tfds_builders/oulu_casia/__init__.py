"""Oulu-CASIA NIR&VIS builder (`tfds.builder('oulu_casia')`)."""

from tfds_builders.oulu_casia.oulu_casia import OuluCasia, OuluCasiaConfig

__all__ = ['OuluCasia', 'OuluCasiaConfig']
