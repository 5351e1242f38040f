"""A local, stateful emulator of Gr4vy's checkout-sessions API: the toolkit's embedded default.

:func:`start_sandbox` starts it in the background and returns a :class:`Sandbox`::

    from gr4vy_nb.sandbox import start_sandbox

    with start_sandbox() as sandbox:                   # 127.0.0.1, a free port, sample data
        print(sandbox.base_url, sandbox.private_key_file)
        sandbox.set_faults([{"method": "PUT", "action": "status", "status": 503}])
        ...                                            # talk to it with a signed token
        print(sandbox.stats()["writes"])               # writes applied, per session

What it emulates, and how (details in :mod:`gr4vy_nb.sandbox.app`):

* ``POST/GET/PUT/DELETE /checkout/sessions[/{id}]`` with the OpenAPI document's shapes, read
  from the vendored document itself (:func:`gr4vy_nb._data.api_document`) with a JSON-schema
  validator, never from the toolkit's models (:mod:`gr4vy_nb.sandbox.document`; a test
  proves no sandbox module imports them).  Request bodies are validated against the
  operations' request body schemas (one error detail per bad field, RFC 6901 pointers, body
  order); responses carry exactly the documented fields, unset ones as ``null``, and
  validate against ``CheckoutSession``; stored values are returned as sent (only the
  documented constants such as ``type`` are filled in).  ``expires_in`` (3600..86400,
  default 3600, float accepted) resets ``expires_at`` on create and update.  The update-only
  fields ``country``, ``is_subsequent_payment``, ``merchant_initiated``, ``payment_source``
  and ``intent`` are accepted and validated but not stored (the session has no such fields).
* Fields the document does not know are refused (400, ``additionalProperties: false``),
  unless ``newer_api`` (``--newer-api``): then the sandbox behaves as a newer API version
  and accepts, stores and returns them at any depth, still validating the known ones.
* ES512 bearer tokens checked against the sandbox key (``kid`` = its RFC 7638 thumbprint,
  computed by :mod:`~gr4vy_nb.sandbox.keys`; signature, ``exp``/``nbf`` with 30 s leeway,
  scopes), merchant accounts by ``x-gr4vy-merchant-account-id``.
* Seeding: the default seed (the 200 sample sessions) gets real lifetimes, each session
  expiring 15 minutes to 24 hours after it is seeded (one holding a card within the hour),
  fixed by its id; explicit seeds keep their ``expires_at`` verbatim unless they opt in
  (``real_lifetimes``).  See :mod:`gr4vy_nb.sandbox.seeding`.
* Fault knobs (rate limit, failure share, latency, unknown fields, random seed) and
  scripted faults (see :class:`~gr4vy_nb.sandbox.faults.FaultRule`), request and write
  counters, seeding, expiring, resetting, via the loopback-only ``/_sandbox/`` endpoints.
* Bodies over 1 MiB are refused with 413.

``mode="thread"`` serves from a daemon thread of this process (fast to start; for tests);
``mode="process"`` runs ``python -m gr4vy_nb.sandbox`` in its own process group, so a
client process that crashes or is killed cannot take the server with it, and the server
exits by itself if the process that started it dies.
"""

from .faults import UNKNOWN_FIELD
from .launcher import Sandbox, start_sandbox
from .seeding import DEFAULT_SEED

__all__ = ["DEFAULT_SEED", "UNKNOWN_FIELD", "Sandbox", "start_sandbox"]
