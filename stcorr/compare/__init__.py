"""Coaching: a reference performance and an attempt, aligned in time and space, told as joint-angle differences.

    record = compare("pro.mp4", "me.mp4", action="golf_swing")     # compare.json's content
    write_comparison(analyse("pro.mp4", "me.mp4"), "out/")         # compare.json, side_by_side.mp4, index.html
"""

from stcorr.compare.outputs import write_comparison
from stcorr.compare.pipeline import Comparison, analyse, compare

__all__ = ["Comparison", "analyse", "compare", "write_comparison"]
