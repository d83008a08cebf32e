"""``ark dashboard``: a read-mostly web UI on localhost, through the user's own kubeconfig.

``command`` is the click command; ``server`` the HTTP side (routes, the Host check, the CSRF
token); ``views`` reads what a page shows through ``ark.control`` and ``ark.cli.bucket``;
``pages`` renders it, pure functions from the objects' dicts to HTML, built from ``markup``'s
escaping primitives.
"""
