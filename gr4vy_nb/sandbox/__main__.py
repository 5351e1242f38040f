"""``python -m gr4vy_nb.sandbox``: the same as ``gr4vy-nb sandbox``."""

from .server import main

raise SystemExit(main())
