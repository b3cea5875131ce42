"""Real database servers started on loopback from Debian's packages.

The tests, the benchmark and ``workanalytics local-cluster`` start the same servers the
same way, so what CI runs is what a developer runs and what the deployment page prints.
Each server lives in a directory of its own and stops with :meth:`stop`.
"""
