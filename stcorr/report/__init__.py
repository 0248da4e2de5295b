"""The HTML report of ``stcorr report``: one self-contained page of tables, plots and pair pictures."""

from stcorr.report.page import build_report

__all__ = ["build_report"]
