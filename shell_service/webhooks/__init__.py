"""Webhooks: users' HTTP callbacks on their jobs' events.

- ``targets``: the URL rules and the address check (the SSRF guard)
- ``payload``: the events, the JSON body, the HMAC-SHA256 signature
- ``sender``: one POST, to the checked address only, no redirect followed
- ``deliverer``: job events -> deliveries -> attempts, with back-off
  (the program: ``services/webhooks/webhooks.py``)

The API (``handlers/api/webhooks.py``) imports ``targets`` and ``payload``
only: nothing is sent from a request handler.
"""
