"""Person re-identification metric (mAP, mINP, CMC) as a local `evaluate` module.

Load it with ``evaluate.load(iaunet_hf.evaluation.METRIC_PATH)``. Every example is one image or
tracklet embedding with its identity, camera and whether it is a query; gallery and query items
can be added in any order, in batches and from several processes (``num_process``/``process_id``).
The numbers are those of ``iaunet_hf.evaluation.evaluate_reid_features``, as fractions; the returned dict
maps to an entry of the package's results file with ``iaunet_hf.evaluation.results.result_entry``.
"""

import datasets
import evaluate
import numpy as np

from iaunet_hf.evaluation.distances import evaluate_reid_features
from iaunet_hf.evaluation.results import CMC_RANKS

_DESCRIPTION = """
Re-identification retrieval metrics under the Market-1501 protocol: for each query, gallery items
with the same identity and the same camera are removed; mAP (non-interpolated, or the official
Market-1501 trapezoid rule with ap="trapezoid"), mINP and the CMC curve are averaged over the
queries that keep at least one match. Ties are ordered by gallery position.
"""

_KWARGS_DESCRIPTION = """
Args:
    embeddings: one feature vector per item.
    pids: identity of each item.
    camids: camera of each item.
    is_query: True for query items, False for gallery items.
    metric: "cosine" (default) or "euclidean" distance.
    max_rank: length of the CMC curve (default 50).
    ap: "standard" (default) or "trapezoid".
    camera_filter: remove same-identity same-camera gallery items (default: yes, unless every camid is -1,
        i.e. the cameras are unknown).
Returns:
    mAP, mINP, rank-1, rank-5, rank-10, rank-20 (those within max_rank), cmc (list), num_valid_queries,
    camera_filter (as applied);
    fractions in [0, 1]. ``results.result_entry(dataset, output, settings=..., num_query=..., num_gallery=...)``
    turns the dict into an entry of a results file (percent).
Examples:
    >>> import evaluate, iaunet_hf.evaluation
    >>> reid = evaluate.load(iaunet_hf.evaluation.METRIC_PATH)
    >>> results = reid.compute(embeddings=[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], pids=[1, 1, 2],
    ...                        camids=[0, 1, 1], is_query=[True, False, False])
    >>> results["rank-1"]
    1.0
"""

_CITATION = """
@article{hou2020iaunet,
  title={IAUnet: Global Context-Aware Feature Learning for Person Re-Identification},
  author={Hou, Ruibing and Ma, Bingpeng and Chang, Hong and Gu, Xinqian and Shan, Shiguang and Chen, Xilin},
  journal={IEEE Transactions on Neural Networks and Learning Systems},
  year={2020}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ReidMetric(evaluate.Metric):
    """Retrieval metrics over query/gallery embeddings."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "embeddings": datasets.Sequence(datasets.Value("float32")),
                    "pids": datasets.Value("int64"),
                    "camids": datasets.Value("int64"),
                    "is_query": datasets.Value("bool"),
                }
            ),
        )

    def _compute(
        self,
        embeddings,
        pids,
        camids,
        is_query,
        metric="cosine",
        max_rank=50,
        ap="standard",
        camera_filter=None,
    ):
        features = np.asarray(embeddings, dtype=np.float32)  # (N, D)
        if features.ndim != 2:
            raise ValueError(
                f"embeddings: expected vectors of one common length, found array shape {features.shape}"
            )
        pids, camids = np.asarray(pids, dtype=np.int64), np.asarray(camids, dtype=np.int64)
        is_query = np.asarray(is_query, dtype=bool)
        if not is_query.any() or is_query.all():
            raise ValueError(
                f"is_query: expected both query and gallery items, found {int(is_query.sum())} queries "
                f"and {int((~is_query).sum())} gallery items"
            )
        if (
            camera_filter is None
        ):  # unknown cameras (camid -1 everywhere): nothing to filter, as evaluate_model does
            camera_filter = not bool((camids == -1).all())
        results = evaluate_reid_features(
            features[is_query],
            features[~is_query],
            pids[is_query],
            pids[~is_query],
            camids[is_query],
            camids[~is_query],
            metric=metric,
            max_rank=max_rank,
            ap=ap,
            camera_filter=camera_filter,
        )
        output = {"mAP": results["mAP"], "mINP": results["mINP"]}
        for rank in CMC_RANKS:
            if rank <= max_rank:
                output[f"rank-{rank}"] = float(results["cmc"][rank - 1])
        output["cmc"] = results["cmc"].tolist()
        output["num_valid_queries"] = results["num_valid_queries"]
        output["camera_filter"] = camera_filter
        return output
