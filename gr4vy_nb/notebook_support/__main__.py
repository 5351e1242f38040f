"""``python -m gr4vy_nb.notebook_support lab [DIR]``: see :func:`run_lab`."""

from .lab import main

raise SystemExit(main())
