"""The reliability and security suite (issue 8): bad inputs, faults, crashes and leaks.

The fast tier runs with ``make test``; the full tier runs with ``make reliability``
(``python -m tests.reliability.run_full``), which also writes ``RELIABILITY.md``.
"""
