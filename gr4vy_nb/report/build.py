"""The whole report: its sections, the standalone HTML file, the notebook frame, the CLI command."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from .airline import (
    age_groups,
    airline_totals,
    bookings,
    carriers,
    legs_out_of_order,
    legs_per_booking,
    passengers_per_booking,
    plot_legs_per_booking,
    plot_routes,
    route_types,
    routes,
)
from .archive import ArchiveSummaries, is_archive
from .carts import (
    by_brand,
    by_category,
    by_product_type,
    cart_lines,
    cart_value_by_currency,
    cart_values,
    discount_tax_totals,
    items_per_session,
    plot_cart_values,
    plot_categories,
    plot_product_types,
    seller_countries,
    top_skus,
)
from .common import ID, isin, shared_masks
from .document import (
    Section,
    figure_html,
    grid_html,
    iframe_html,
    note_html,
    render_document,
    table_html,
)
from .quality import (
    duplicate_skus,
    empty_fields,
    mask_failures,
    personal_data,
    plot_empty_fields,
    quality_overview,
    schema_failure_counts,
    schema_failures,
    zero_amounts,
)
from .runs import (
    plot_run_latency,
    plot_run_throughput,
    run_conflicts,
    run_errors_by_code,
    run_errors_by_field,
    run_frame,
    run_latency,
    run_retries,
    run_status_counts,
    run_summary,
    run_throughput,
)
from .sessions import (
    card_countries,
    card_issuers,
    card_schemes,
    card_types,
    currencies,
    expiry_note,
    expiry_timeline,
    metadata_keys,
    plot_card_schemes,
    plot_expiry,
    sessions_overview,
)
from .sources import load_frames

__all__ = ["build_report", "inline_html", "render_report", "report_command"]

SAMPLE_ROWS = 10
"""Sessions shown in the report's sample table."""
_DETAIL_ROWS = 50


# --------------------------------------------------------------------------- the HTML report


def human_time(at: Any) -> str:
    """A moment as people read it in a heading: ``2026-12-01 18:58 UTC``."""
    stamp = pd.Timestamp(at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{stamp:%Y-%m-%d %H:%M} UTC"


def _overview_section(frames: Any, now: pd.Timestamp) -> Section:
    section = Section("Sessions")
    section.add(grid_html([table_html(sessions_overview(frames), caption="What the sessions carry"),
                           table_html(expiry_timeline(frames, now=now),
                                      caption=f"Expiry (as of {human_time(now)}; 'within' rows are cumulative)")]))
    note = expiry_note(frames, now=now)
    if note:
        section.add(note_html(note))
    section.add(figure_html(plot_expiry(frames, now=now), alt="Histogram of time until expiry"))
    section.add(grid_html([table_html(currencies(frames), caption="Currencies (amounts in minor units)"),
                           table_html(metadata_keys(frames), caption="Metadata keys", empty="no metadata")]))
    return section


def _carts_section(frames: Any, lines: pd.DataFrame, values: pd.DataFrame) -> Section:
    section = Section("Carts")
    if frames.cart_items.empty:
        return section.add(note_html("No session has cart items."))
    product = by_product_type(frames, lines=lines)
    category = by_category(frames, lines=lines)
    section.add(grid_html([table_html(items_per_session(frames), caption="Cart items per session"),
                           table_html(cart_value_by_currency(frames, values=values),
                                      caption="Cart value per session, by currency (minor units)")]))
    section.add(figure_html(plot_cart_values(frames, values=values), alt="Box plots of cart value by currency"))
    section.add(table_html(discount_tax_totals(frames, lines=lines),
                           caption="Gross, discount, tax and net totals (minor units)"))
    section.add(table_html(product, caption="By product type (value in minor units)"))
    section.add(figure_html(plot_product_types(frames, table=product), alt="Cart items by product type"))
    section.add(table_html(category, caption="By category (an item counts in each of its categories)", max_rows=30))
    section.add(figure_html(plot_categories(frames, table=category), alt="Cart items by category"))
    section.add(table_html(by_brand(frames, lines=lines), caption="By brand (value in minor units)", max_rows=30))
    return section.add(grid_html([table_html(top_skus(frames), caption="Top SKUs"),
                                  table_html(seller_countries(frames), caption="Seller countries")]))


def _airline_section(frames: Any, out_of_order: pd.DataFrame) -> Section:
    section = Section("Airline")
    if bookings(frames).empty:
        return section.add(note_html("No session has an airline addendum."))
    route_table = routes(frames)
    section.add(table_html(route_table, caption="Routes", max_rows=25))
    section.add(figure_html(plot_routes(frames, table=route_table), alt="Most flown routes"))
    section.add(grid_html([table_html(legs_per_booking(frames), caption="Legs per booking"),
                           table_html(passengers_per_booking(frames), caption="Passengers per booking"),
                           table_html(carriers(frames), caption="Carriers"),
                           table_html(age_groups(frames), caption="Passenger age groups"),
                           table_html(route_types(frames), caption="Route types (legs)")]))
    section.add(table_html(airline_totals(frames), caption="Leg amounts by currency (minor units)"))
    return section.add(table_html(out_of_order, caption="Legs out of time order", index=False, max_rows=_DETAIL_ROWS,
                                  empty="none: every booking's legs are in time order"))


def _payment_section(frames: Any) -> Section:
    section = Section("Payment methods")
    schemes = card_schemes(frames)
    if schemes.empty:
        return section.add(note_html("No session has a payment method."))
    return section.add(grid_html([table_html(schemes, caption="Card schemes"),
                                  table_html(card_types(frames), caption="Card types"),
                                  table_html(card_countries(frames), caption="Card countries"),
                                  table_html(card_issuers(frames), caption="Card issuers")]))


def _quality_section(frames: Any, raw: bool, values: pd.DataFrame, out_of_order: pd.DataFrame) -> Section:
    section = Section("Data quality")
    failures = schema_failures(frames)
    empties = empty_fields(frames)
    duplicates = duplicate_skus(frames)
    read_problems = getattr(frames, "warnings", None)
    if read_problems is not None and len(read_problems):
        # Personal values in these problems were masked when read (gr4vy_nb.problems masks every message).
        section.add(table_html(read_problems, caption="Problems found reading the files", index=False,
                               max_rows=_DETAIL_ROWS))
    section.add(table_html(quality_overview(frames, failures=failures, values=values, out_of_order=out_of_order,
                                            duplicates=duplicates), caption="Sessions flagged"))
    section.add(table_html(schema_failure_counts(failures), caption="Schema rules broken", index=False,
                           empty="none: every value follows the schema"))
    shown = failures if raw else mask_failures(failures)
    section.add(table_html(shown, caption="Schema rule failures" + ("" if raw else " (personal values masked)"),
                           index=False, max_rows=_DETAIL_ROWS, empty="none"))
    section.add(table_html(empties[empties["filled"] > 0].head(25), index=False,
                           caption="Fields most often empty (among fields used at least once)"))
    never = int((empties["filled"] == 0).sum())
    section.add(note_html(f"{never:,} schema fields are empty in every row (not listed)."))
    section.add(figure_html(plot_empty_fields(frames, table=empties), alt="Fields most often empty"))
    section.add(grid_html([table_html(duplicates, caption="Duplicate SKUs within a cart", index=False,
                                      max_rows=_DETAIL_ROWS),
                           table_html(zero_amounts(frames), caption="Amounts of zero", index=False)]))
    return section.add(table_html(personal_data(frames), caption="Personal and card data present (counts only)",
                                  index=False))


def _sections_for_sessions(frames: Any, now: pd.Timestamp, raw: bool) -> list[Section]:
    # Computed once, used by several sections.
    lines = cart_lines(frames)
    values = cart_values(frames, lines=lines)
    out_of_order = legs_out_of_order(frames)
    sample = Section("Sample of sessions").add(_sample_html(frames, raw))
    return [_overview_section(frames, now), _carts_section(frames, lines, values),
            _airline_section(frames, out_of_order), _payment_section(frames),
            _quality_section(frames, raw, values, out_of_order), sample]


def _sample_html(frames: Any, raw: bool) -> str:
    ids = frames.sessions[ID].head(SAMPLE_ROWS)
    if not len(ids):
        return note_html("No sessions.")
    # frames.select(ids), with the membership test done by Arrow (pandas' isin walks Arrow text in Python).
    part = type(frames)(**{t: df[isin(df[ID], ids)].reset_index(drop=True) for t, df in frames.tables().items()},
                        conform=False)
    if not raw:
        part = part.masked()
    s = part.sessions
    # Only the columns holding something in the sample: the rest would be a wall of blanks.
    cols = [c for c in s.columns if c != "extra" and s[c].notna().any()]
    note = ("Personal data masked." if not raw else "RAW values, personal data included.")
    return table_html(s[cols], caption=f"First {len(ids)} sessions", index=False) + note_html(note)


def _sections_for_run(run: Any) -> list[Section]:
    df = run_frame(run)
    section = Section("Run")
    status = run_status_counts(df)
    throughput = run_throughput(df)
    section.add(grid_html([table_html(run_summary(df), caption="Summary"), table_html(status, caption="By status")]))
    section.add(table_html(run_errors_by_code(df), caption="Errors by code", index=False, empty="no errors"))
    section.add(table_html(run_errors_by_field(df), caption="Errors by field", index=False,
                           empty="no error pointed at a field"))
    section.add(grid_html([table_html(run_latency(df), caption="Seconds per session (first request to answer)"),
                           table_html(run_retries(df), caption="Write attempts per session (re-reads not counted)")]))
    section.add(figure_html(plot_run_latency(df), alt="Histogram of time per session"))
    section.add(figure_html(plot_run_throughput(df, table=throughput), alt="Sessions finished over time"))
    section.add(table_html(run_conflicts(df), caption="Conflicts (changed since the plan, left alone)",
                           index=False, max_rows=_DETAIL_ROWS, empty="none"))
    return [section]


# --------------------------------------------------------------------------- an archive folder, out of core

ARCHIVE_EXPIRY_POINTS = 1_000_000
"""Expiry times drawn in an archive's histogram at most (a uniform sample beyond: the shape is the same)."""


class _Expiries:
    """Just what :func:`plot_expiry` reads of frames: ``sessions["expires_at"]``."""

    def __init__(self, values: pd.Series) -> None:
        self.sessions = pd.DataFrame({"expires_at": values})


def _sections_for_archive(a: ArchiveSummaries, now: pd.Timestamp, raw: bool) -> list[Section]:
    """The report of an archive folder: every summary DuckDB computes over its Parquet files (out of core)."""
    overview = Section("Sessions")
    timeline = a.expiry_timeline(now=now)
    overview.add(grid_html([table_html(a.sessions_overview(), caption="What the sessions carry"),
                            table_html(timeline, caption=f"Expiry (as of {human_time(now)}; 'within' rows are "
                                                         "cumulative)")]))
    known = int(timeline["sessions"].sum() - timeline.loc["unknown", "sessions"])
    soon = int(timeline.loc["within 1 h", "sessions"])
    if known and soon >= max(1, int(0.5 * known)):
        overview.add(note_html(f"{soon:,} of {known:,} sessions ({soon / known:.0%}) expire within 1 h: every update "
                               "of a checkout session resets its expiry."))
    expiries = a.expires_at(limit=ARCHIVE_EXPIRY_POINTS)
    sampled = ""
    if known > ARCHIVE_EXPIRY_POINTS:
        sampled = f" (a uniform sample of {ARCHIVE_EXPIRY_POINTS:,} of {known:,})"
    overview.add(figure_html(plot_expiry(_Expiries(expiries), now=now), alt="Histogram of time until expiry"
                             + sampled))
    if sampled:
        overview.add(note_html("The expiry histogram draws" + sampled + "."))
    overview.add(grid_html([table_html(a.currencies(), caption="Currencies (amounts in minor units)"),
                            table_html(a.metadata_keys(), caption="Metadata keys", empty="no metadata")]))

    carts = Section("Carts")
    if a.count("cart_items") == 0:
        carts.add(note_html("No session has cart items."))
    else:
        product, category = a.by_product_type(), a.by_category()
        carts.add(grid_html([table_html(a.items_per_session(), caption="Cart items per session"),
                             table_html(a.cart_value_by_currency(),
                                        caption="Cart value per session, by currency (minor units)")]))
        carts.add(table_html(a.discount_tax_totals(), caption="Gross, discount, tax and net totals (minor units)"))
        carts.add(table_html(product, caption="By product type (value in minor units)"))
        carts.add(figure_html(plot_product_types(None, table=product), alt="Cart items by product type"))
        carts.add(table_html(category, caption="By category (an item counts in each of its categories)",
                             max_rows=30))
        carts.add(figure_html(plot_categories(None, table=category), alt="Cart items by category"))
        carts.add(table_html(a.by_brand(), caption="By brand (value in minor units)", max_rows=30))
        carts.add(grid_html([table_html(a.top_skus(), caption="Top SKUs"),
                             table_html(a.seller_countries(), caption="Seller countries")]))

    airline = Section("Airline")
    legs, passengers = a.legs_per_booking(), a.passengers_per_booking()
    if legs.empty:
        airline.add(note_html("No session has an airline addendum."))
    else:
        route_table = a.routes()
        airline.add(table_html(route_table, caption="Routes", max_rows=25))
        airline.add(figure_html(plot_routes(None, table=route_table), alt="Most flown routes"))
        airline.add(figure_html(plot_legs_per_booking(None, legs=legs, passengers=passengers),
                                alt="Legs and passengers per booking"))
        airline.add(grid_html([table_html(legs, caption="Legs per booking"),
                               table_html(passengers, caption="Passengers per booking"),
                               table_html(a.carriers(), caption="Carriers"),
                               table_html(a.age_groups(), caption="Passenger age groups"),
                               table_html(a.route_types(), caption="Route types (legs)")]))
        airline.add(table_html(a.airline_totals(), caption="Leg amounts by currency (minor units)"))

    payment = Section("Payment methods")
    schemes = a.card_schemes()
    if schemes.empty:
        payment.add(note_html("No session has a payment method."))
    else:
        payment.add(figure_html(plot_card_schemes(None, table=schemes), alt="Card schemes"))
        payment.add(grid_html([table_html(schemes, caption="Card schemes"),
                               table_html(a.card_types(), caption="Card types"),
                               table_html(a.card_countries(), caption="Card countries"),
                               table_html(a.card_issuers(), caption="Card issuers")]))

    quality = Section("Data quality")
    empties = a.empty_fields()
    quality.add(note_html("Computed over the whole archive out of core. Schema rule failures, duplicate SKUs and legs "
                          "out of time order need the sessions in memory: report on a subset "
                          "(SessionFrames.read_parquet(DIR, ids=...)) to see them."))
    quality.add(table_html(empties[empties["filled"] > 0].head(25), index=False,
                           caption="Fields most often empty (among fields used at least once)"))
    never = int((empties["filled"] == 0).sum())
    quality.add(note_html(f"{never:,} schema fields are empty in every row (not listed)."))
    quality.add(figure_html(plot_empty_fields(None, table=empties), alt="Fields most often empty"))
    quality.add(grid_html([table_html(a.zero_amounts(), caption="Amounts of zero", index=False),
                           table_html(a.personal_data(), caption="Personal and card data present (counts only)",
                                      index=False)]))
    sample = Section("Sample of sessions").add(_sample_html(a.sample(SAMPLE_ROWS), raw))
    return [overview, carts, airline, payment, quality, sample]


def render_report(frames: Any = None, run: Any = None, *, raw: bool = False, now: datetime | None = None,
                  title: str = "Checkout sessions report", notes: Sequence[str] = ()) -> str:
    """The report as an HTML string (see :func:`build_report`)."""
    if frames is None and run is None:
        raise ValueError("nothing to report: pass session frames, a run, or both")
    at = pd.Timestamp(now if now is not None else datetime.now(UTC))
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    sections: list[Section] = []
    if notes:
        sections.append(Section("Notes").add(*(note_html(n) for n in notes)))
    n = 0
    if isinstance(frames, str | os.PathLike):  # an archive folder: summaries out of core
        with ArchiveSummaries(frames) as summaries:
            sections += _sections_for_archive(summaries, at.tz_convert("UTC"), raw)
            n = summaries.count("sessions")
    elif frames is not None:
        with shared_masks():
            sections += _sections_for_sessions(frames, at.tz_convert("UTC"), raw)
        n = len(frames.sessions)
    if run is not None:
        sections += _sections_for_run(run)
    n = n if frames is not None else len(run_frame(run))
    what = f"{n:,} sessions" if frames is not None else f"a run of {n:,} sessions"
    subtitle = f"{what} · generated {at.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC by gr4vy-nb {__version__} ·"
    return render_document(title, sections, subtitle=subtitle, masked=not raw)


def build_report(frames: Any = None, run: Any = None, path: str | os.PathLike[str] = "report.html", raw: bool = False,
                 *, now: datetime | None = None, title: str = "Checkout sessions report",
                 notes: Sequence[str] = ()) -> Path:
    """Write one self-contained HTML report of ``frames`` (and of ``run``, if given) to ``path``.

    Args:
        frames: a :class:`~gr4vy_nb.tables.frames.SessionFrames`, or the path of an archive folder
            (``gr4vy-nb flatten``, ``SessionFrames.to_parquet``) whose summaries DuckDB computes out
            of core (:class:`~gr4vy_nb.report.archive.ArchiveSummaries`), or ``None`` for a run-only report.
        run: a journal path, a :class:`~gr4vy_nb.updates.journal.Journal`, a ``Run``, or a DataFrame
            following :data:`RUN_COLUMNS`; adds the run section.
        path: where to write; parent folders are created. Returns the resolved path.
        raw: show personal data unmasked (the page then says so in red). Counts are the same
            either way.
        now: the time the expiry timeline is measured from (default: the current time).
        notes: lines shown at the top (e.g. ids that could not be fetched).
    """
    text = render_report(frames, run, raw=raw, now=now, title=title, notes=notes)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    return out.resolve()


def inline_html(frames: Any = None, run: Any = None, *, raw: bool = False, now: datetime | None = None,
                height: int = 900, title: str = "Checkout sessions report") -> str:
    """The report as an ``<iframe>`` to show in a notebook: ``display(HTML(report.inline_html(frames)))``.

    The page is given through ``srcdoc`` (escaped) to a sandboxed frame: its styles cannot
    touch the notebook's, and it can run nothing. Masked unless ``raw=True``, as the file.
    """
    return iframe_html(render_report(frames, run, raw=raw, now=now, title=title), height=height, title=title)


# --------------------------------------------------------------------------- sources and the CLI


def report_command(source: str, out: str, raw: bool = False, client: Any = None, *, run: str | None = None,
                   now: datetime | None = None) -> Path:
    """``gr4vy-nb report SOURCE --out FILE [--raw] [--run JOURNAL]``: load, build, return the file's path.

    SOURCE is a folder of the four CSVs, an archive folder of Parquet datasets (summarised out of
    core), a JSONL export or a file of ids to fetch (see :func:`load_frames`). Raises
    :class:`~gr4vy_nb.errors.InputError` for a bad source (exit 2) and
    :class:`~gr4vy_nb.errors.ConfigError` when ids must be fetched and no target is configured (exit 3).
    """
    if is_archive(source):
        return build_report(source, run=run, path=out, raw=raw, now=now)
    frames, notes = load_frames(source, client=client)
    return build_report(frames, run=run, path=out, raw=raw, now=now, notes=notes)
