"""Stand-in for transformers' tests/exporters/test_export.py (not in the sdist): ``ExportTesterMixin``.

Upstream's mixin holds the torch.export tests of text and multimodal models; here it contributes no tests (IAUnet's
torch.export path is tested by the package's own export tests).
"""


class ExportTesterMixin:
    pass
