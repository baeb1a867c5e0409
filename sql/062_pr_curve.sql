-- Precision-recall curve points at every distinct score threshold.
CREATE OR REPLACE VIEW pr_curve AS
SELECT model_version_id, model, version, model_label, is_latest, dataset, split, threshold,
       tp * 1.0 / (tp + fp) AS precision,
       CASE WHEN n_pos > 0 THEN tp * 1.0 / n_pos END AS recall
FROM score_thresholds;
