# The files under transformers_suite/ run inside the transformers sdist's test tree (see upstream_suites.py), not here.
collect_ignore = ["transformers_suite"]
