"""Helpers for bench/bench_relay.py: the load-generator worker and a bare aioquic forwarder.

Both run as separate processes (``python bench/relay_load/loadgen.py`` and
``python bench/relay_load/bare_forwarder.py``); bench_relay.py drives them.
"""
