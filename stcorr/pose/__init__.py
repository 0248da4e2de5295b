"""The pose pass beyond a single detector call: test-time augmentation of a frame landmarker
(``augment``) and temporal filtering of whole landmark tracks (``filtering``).

Both work on plain arrays and a landmarker callable (RGB uint8 frame (H, W, 3) -> (landmarks
(33, 4) x, y, z, visibility with x, y normalised to [0, 1]; world (33, 3)) or None), so they
know nothing of MediaPipe itself (``stcorr.pose.mediapipe`` starts it).
"""
