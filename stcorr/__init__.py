"""stcorr: space-time semantic correspondence across videos.

Coordinates everywhere a user reads or writes them: ``(t, x, y)`` with ``t`` the 0-based frame
index at the video's native frame rate and ``x, y`` native pixels (x right, y down).
"""

__version__ = "0.1.0"
