"""The composition root (``arca.app``): the command line, the demo, the benchmarks and the fuzzer, the
runtime that wires a service to a real bus and store, and the aggregated settings.

It sits on top of everything: it imports the spine (``arca``), the four services and the testbed,
and nothing imports it but the services' own command-line modules (each part registers its
sub-commands through ``arca.app.cli.main``).
"""
