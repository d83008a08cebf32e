"""Local servers that speak the clouds' REST protocols, so the real SDKs can be tested offline.

Each keeps its state in memory, validates requests the way the service documents them, and
answers errors in the service's own error format. Start one in-process with ``start()`` (tests)
or as ``python -m hack.fakes.<module> --port N`` (by hand).
"""
