"""CK+ builder (`tfds.builder('ck_plus')`)."""

from tfds_builders.ck_plus.ck_plus import CkPlus, CkPlusConfig

__all__ = ['CkPlus', 'CkPlusConfig']
