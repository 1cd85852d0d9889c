"""`video_folder` builder (`tfds.builder('video_folder/labelled')`): any folder of videos."""

from tfds_builders.video_folder.video_folder import (VideoFolder, VideoFolderConfig, list_folder,
                                                     read_settings)

__all__ = ['VideoFolder', 'VideoFolderConfig', 'list_folder', 'read_settings']
