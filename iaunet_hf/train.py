"""``python -m iaunet_hf.train``: the same command as ``iaunet-train``."""

from .training.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
