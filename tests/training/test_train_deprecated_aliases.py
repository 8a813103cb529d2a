"""Each deprecated alias still works, and warns with ``DeprecationWarning``."""

from __future__ import annotations

import pytest
import torch

from iaunet_hf import losses


def test_losses_pairwise_distance_is_a_warning_alias_of_batch_distance_matrix():
    embeddings = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    for distance in ("cosine", "euclidean"):
        with pytest.warns(DeprecationWarning, match="batch_distance_matrix"):
            old = losses.pairwise_distance(embeddings, distance)
        torch.testing.assert_close(old, losses.batch_distance_matrix(embeddings, distance))
