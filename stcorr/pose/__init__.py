"""Bodies: the skeleton, one video's joints and where they come from, and what is computed from them.

- ``skeleton``: the 13 Penn Action joints, their mirror images, the bones, the actions and their
  key moments (no imports: ``stcorr.data`` labels with it);
- ``track``: ``JointTrack``, the one type for one video's joints (names, (T, J, 2) positions,
  visibilities, frame size, world joints where present);
- ``mediapipe``: MediaPipe Pose on one frame and its 33 landmarks; ``cache``: the on-disk pose
  cache and ``MediaPipePose``, the one adapter over it; ``augment`` and ``filtering``: the
  test-time augmentation of a frame landmarker and the temporal filter of whole tracks;
- ``angles``, ``descriptors``, ``maps``: joint angles, per-frame pose descriptors, pose maps as
  model input.

docs/pose.md says what each does and how well.
"""
