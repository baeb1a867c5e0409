-- ROC curve points (false positive rate, true positive rate) at every distinct score threshold.
CREATE OR REPLACE VIEW roc_curve AS
SELECT model_version_id, model, version, model_label, is_latest, dataset, split, threshold,
       CASE WHEN n_neg > 0 THEN fp * 1.0 / n_neg END AS fpr,
       CASE WHEN n_pos > 0 THEN tp * 1.0 / n_pos END AS tpr
FROM score_thresholds;
