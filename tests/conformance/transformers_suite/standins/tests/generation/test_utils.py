"""Stand-in for transformers' tests/generation/test_utils.py (not in the sdist): ``GenerationTesterMixin``.

IAUnet cannot ``generate``; upstream's common tests only check that such a model's tester does not inherit it.
"""


class GenerationTesterMixin:
    pass
