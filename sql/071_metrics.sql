-- Headline metrics per model version, dataset and split: the table `asaas report` prints.
-- scoring: the version's recipe; n_labelled / coverage / complete: how much of the split the
-- version has scored (see coverage); trained_on_split: the version learned from these very
-- reviews, so its numbers here measure memory, not generalisation.
CREATE OR REPLACE VIEW metrics AS
SELECT m.model_version_id, m.model, m.version, m.model_label, m.is_latest, n.scoring,
       m.dataset, m.split, m.n, cov.n_labelled, cov.coverage, cov.complete,
       COALESCE(n.train_dataset = m.dataset AND n.train_split = m.split, FALSE)
           AS trained_on_split,
       m.accuracy, m.accuracy_ci_low, m.accuracy_ci_high, m.precision, m.recall, m.f1,
       m.specificity, m.balanced_accuracy, m.balanced_accuracy_ci_low,
       m.balanced_accuracy_ci_high, m.roc_auc, m.roc_auc_ci_low, m.roc_auc_ci_high,
       ap.average_precision, cal.brier_score, cal.expected_calibration_error,
       m.tn, m.fp, m.fn, m.tp,
       COALESCE(m.metric_reason, m.roc_auc_reason, ap.average_precision_reason) AS reason
FROM metrics_by_slice m
JOIN model_version_names n ON n.model_version_id = m.model_version_id
LEFT JOIN coverage cov
    ON cov.model_version_id = m.model_version_id AND cov.dataset = m.dataset
   AND cov.split = m.split
LEFT JOIN average_precision ap
    ON ap.model_version_id = m.model_version_id AND ap.dataset = m.dataset AND ap.split = m.split
LEFT JOIN calibration_summary cal
    ON cal.model_version_id = m.model_version_id AND cal.dataset = m.dataset
   AND cal.split = m.split
WHERE m.slice_kind = 'all'
UNION ALL
-- Versions with no prediction on any labelled review still get a row, saying so.
SELECT n.model_version_id, n.model, n.version, n.model_label, n.is_latest, n.scoring, NULL,
       NULL, 0, NULL, NULL, NULL, FALSE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       'no predictions on labelled reviews yet: run asaas score'
FROM model_version_names n
WHERE NOT EXISTS (SELECT 1 FROM labelled_predictions lp
                  WHERE lp.model_version_id = n.model_version_id);
