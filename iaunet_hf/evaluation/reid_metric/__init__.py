"""The ``evaluate`` module folder (loaded with ``evaluate.load(METRIC_PATH)``); a package so that it ships in the wheel."""
