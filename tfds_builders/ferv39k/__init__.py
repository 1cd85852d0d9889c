"""FERV39k builder (`tfds.builder('ferv39k')`): the official train / test split as TFDS splits."""

from tfds_builders.ferv39k.ferv39k import Ferv39k

__all__ = ['Ferv39k']
