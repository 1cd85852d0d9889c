"""TFDS builders for emojax; importing this package registers them with `tfds.builder`."""
