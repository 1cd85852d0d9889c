"""RML builder (`tfds.builder('rml')`)."""

from tfds_builders.rml.rml import Rml, parse_path

__all__ = ['Rml', 'parse_path']
