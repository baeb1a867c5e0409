-- Headline metrics per model version, dataset and split: the table `asaas report` prints.
CREATE OR REPLACE VIEW metrics AS
SELECT m.model_version_id, m.model, m.version, m.model_label, m.is_latest, m.dataset, m.split,
       m.n, m.accuracy, m.accuracy_ci_low, m.accuracy_ci_high, m.precision, m.recall, m.f1,
       m.specificity, m.balanced_accuracy, m.roc_auc, m.roc_auc_ci_low, m.roc_auc_ci_high,
       ap.average_precision, cal.brier_score, cal.expected_calibration_error,
       m.tn, m.fp, m.fn, m.tp,
       COALESCE(m.metric_reason, m.roc_auc_reason, ap.average_precision_reason) AS reason
FROM metrics_by_slice m
LEFT JOIN average_precision ap
    ON ap.model_version_id = m.model_version_id AND ap.dataset = m.dataset AND ap.split = m.split
LEFT JOIN calibration_summary cal
    ON cal.model_version_id = m.model_version_id AND cal.dataset = m.dataset
   AND cal.split = m.split
WHERE m.slice_kind = 'all'
UNION ALL
-- Versions with no prediction on any labelled review still get a row, saying so.
SELECT n.model_version_id, n.model, n.version, n.model_label, n.is_latest, NULL, NULL, 0,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, 'no predictions on labelled reviews yet: run asaas score'
FROM model_version_names n
WHERE NOT EXISTS (SELECT 1 FROM labelled_predictions lp
                  WHERE lp.model_version_id = n.model_version_id);
