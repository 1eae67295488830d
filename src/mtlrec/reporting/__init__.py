"""Reports, plots and run comparisons (matplotlib, Agg backend)."""

from mtlrec.reporting._compare import compare_runs, plot_comparison
from mtlrec.reporting._report import calibration_bins, load_pyplot, write_report

__all__ = [
    "calibration_bins",
    "compare_runs",
    "load_pyplot",
    "plot_comparison",
    "write_report",
]
