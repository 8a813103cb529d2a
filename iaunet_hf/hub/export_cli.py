"""Deprecated: `iaunet-export` moved to `iaunet_hf.export.cli` (this path goes in the next release)."""

import warnings

from ..export.cli import build_parser, main

warnings.warn(
    "iaunet_hf.hub.export_cli is deprecated; use iaunet_hf.export.cli (the iaunet-export command)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
