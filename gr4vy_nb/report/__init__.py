"""Exploratory reporting: summaries and plots of sessions and runs, and a standalone HTML report.

Every summary is a pure function of a :class:`~gr4vy_nb.tables.frames.SessionFrames` (or, for
runs, of a journal or results DataFrame) returning a DataFrame; every ``plot_*`` returns a
matplotlib :class:`~matplotlib.figure.Figure` and never calls ``plt.show()``. They live in
one module a theme (``sessions``, ``carts``, ``airline``, ``quality``, ``runs``, ``sources``;
the whole report in ``build``; the same summaries of an archive folder, computed by DuckDB out of
core, in ``archive``) and are all importable from here::

    from gr4vy_nb import report
    report.expiry_timeline(frames, now=datetime.now(UTC))
    report.plot_routes(frames)                      # a Figure: shown inline under %matplotlib inline
    report.build_report(frames, run="runs/x.sqlite", path="report.html")
    report.build_report("flat/", path="report.html")   # an archive folder (gr4vy-nb flatten): out of core
    display(HTML(report.inline_html(frames)))       # the whole report in a notebook cell

Counts are computed on the raw data; what the report *shows* of personal data (failure
values, the sample of sessions) is masked unless ``raw=True``. The HTML holds no script
and loads nothing: figures are SVG images in ``data:`` URIs and a Content-Security-Policy
forbids any script or network request, so the file can be mailed and opened offline. The
report draws a figure only where a picture beats the table beside it (distributions, long
rankings, time series); every ``plot_*`` remains available for notebooks.

Everything is column-wise (pandas over Arrow, no row loops over sessions): 100,000 sessions
report in about the time they take to flatten (``bench/report.py``).
"""

# The package's surface is exactly what each theme module lists in its own __all__.
from .airline import *  # noqa: F403
from .airline import __all__ as _airline
from .archive import *  # noqa: F403
from .archive import __all__ as _archive
from .build import *  # noqa: F403
from .build import __all__ as _build
from .carts import *  # noqa: F403
from .carts import __all__ as _carts
from .quality import *  # noqa: F403
from .quality import __all__ as _quality
from .runs import *  # noqa: F403
from .runs import __all__ as _runs
from .sessions import *  # noqa: F403
from .sessions import __all__ as _sessions
from .sources import *  # noqa: F403
from .sources import __all__ as _sources

__all__ = sorted({*_airline, *_archive, *_build, *_carts, *_quality, *_runs, *_sessions, *_sources})
