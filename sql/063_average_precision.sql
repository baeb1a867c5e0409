-- Average precision (area under the PR curve, step-wise as scikit-learn's
-- average_precision_score): sum over thresholds of (recall_k - recall_k-1) * precision_k.
CREATE OR REPLACE VIEW average_precision AS
WITH steps AS (
    SELECT *,
        recall - COALESCE(LAG(recall) OVER (PARTITION BY model_version_id, dataset, split
                                            ORDER BY threshold DESC), 0) AS recall_step
    FROM pr_curve
)
SELECT model_version_id, model, version, model_label, is_latest, dataset, split,
       CASE WHEN MAX(recall) IS NULL THEN NULL ELSE SUM(recall_step * precision) END
           AS average_precision,
       CASE WHEN MAX(recall) IS NULL THEN 'no positive reviews: AP undefined' END
           AS average_precision_reason
FROM steps
GROUP BY model_version_id, model, version, model_label, is_latest, dataset, split;
