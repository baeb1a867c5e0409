-- Each model version's metrics per language (`asaas report --by language`): the 'language'
-- slices of metrics_by_slice, with the class counts the intervals rest on and how much of the
-- language's labelled reviews the version has scored.
--   balanced_accuracy_ci_*   95% Wald interval of the mean of the two recalls (as in metrics)
--   roc_auc_ci_*             95% Hanley-McNeil interval
--   n_negative, n_positive   labelled reviews of each class the version scored
--   n_labelled, coverage     labelled reviews of this language in the split, and the share
--                            scored (under 1: a pseudo-random sample, `score --limit`)
--   trained_on_split         the version learned from these very reviews
-- Reviews with no language recorded are in no row here (they are in `metrics`).
CREATE OR REPLACE VIEW metrics_by_language AS
WITH labelled AS (
    SELECT dataset, split, language, COUNT(*) AS n_labelled
    FROM reviews
    WHERE label IS NOT NULL AND language IS NOT NULL
    GROUP BY dataset, split, language
)
SELECT
    m.model_version_id, m.model, m.version, m.model_label, m.is_latest, m.dataset, m.split,
    m.slice AS language, m.n,
    m.tn + m.fp AS n_negative,
    m.tp + m.fn AS n_positive,
    l.n_labelled,
    CASE WHEN l.n_labelled > 0 THEN m.n * 1.0 / l.n_labelled END AS coverage,
    COALESCE(v.train_dataset = m.dataset AND COALESCE(v.train_split, 'train') = m.split, FALSE)
        AS trained_on_split,
    m.balanced_accuracy, m.balanced_accuracy_ci_low, m.balanced_accuracy_ci_high,
    m.roc_auc, m.roc_auc_ci_low, m.roc_auc_ci_high,
    m.accuracy, m.recall, m.specificity, m.tn, m.fp, m.fn, m.tp,
    COALESCE(m.metric_reason, m.roc_auc_reason) AS reason
FROM metrics_by_slice m
JOIN model_versions v ON v.id = m.model_version_id
LEFT JOIN labelled l ON l.dataset = m.dataset AND l.split = m.split AND l.language = m.slice
WHERE m.slice_kind = 'language';
