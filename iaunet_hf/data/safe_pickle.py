"""A restricted unpickler for data pickles (CIFAR's python archives): no code can run while loading.

``pickle.load`` calls whatever callable a file names, so a crafted archive runs code. This loader
resolves only the globals that rebuild plain data: numpy arrays and dtypes (and scalars), plus the
``_codecs.encode`` call Python 3 uses for bytes; builtin containers, bytes, str and numbers need
no global at all. Anything else is refused with ``pickle.UnpicklingError`` naming it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}
_multiarray = (getattr(np, "_core", None) or np.core).multiarray  # numpy 2 renamed core -> _core
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED_GLOBALS[(_module, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED_GLOBALS[(_module, "scalar")] = _multiarray.scalar


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that admits only builtin data, numpy arrays and the helpers that rebuild them."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only builtin containers, bytes/str/numbers and "
                "numpy arrays are allowed in a data pickle"
            ) from None


def load_data_pickle(path: Path, *, encoding: str = "bytes") -> object:
    """Unpickle a data file through ``RestrictedUnpickler`` (``encoding`` as for ``pickle.load``)."""
    with Path(path).open("rb") as handle:
        return RestrictedUnpickler(handle, encoding=encoding).load()
