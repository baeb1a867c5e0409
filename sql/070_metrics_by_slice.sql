-- Headline metrics per model version, dataset, split and slice, with a 95% Wilson interval for
-- accuracy and a 95% Wald interval for balanced accuracy (the mean of recall and specificity,
-- each binomial: var = (TPR(1-TPR)/P + TNR(1-TNR)/N) / 4), which matters where one class
-- dominates (94% of Steam reviews are positive). A ratio whose denominator is zero is NULL,
-- and metric_reason says why.
{% from "macros.sql" import wald_high, wald_low, wilson_high, wilson_low %}
CREATE OR REPLACE VIEW metrics_by_slice AS
WITH c AS (
    SELECT *, n * 1.0 AS nf, (tp + tn) * 1.0 / n AS acc,
           CASE WHEN tp + fn > 0 AND tn + fp > 0
                THEN (tp * 1.0 / (tp + fn) + tn * 1.0 / (tn + fp)) / 2 END AS bal,
           CASE WHEN tp + fn > 0 AND tn + fp > 0
                THEN SQRT((tp * 1.0 / (tp + fn)) * (fn * 1.0 / (tp + fn)) / (tp + fn)
                          + (tn * 1.0 / (tn + fp)) * (fp * 1.0 / (tn + fp)) / (tn + fp)) / 2
           END AS bal_se
    FROM confusion_by_slice
)
SELECT
    c.model_version_id, c.model, c.version, c.model_label, c.is_latest, c.dataset, c.split,
    c.slice_kind, c.slice, c.n, c.tn, c.fp, c.fn, c.tp,
    c.acc AS accuracy,
    {{ wilson_low("c.acc", "c.nf") }} AS accuracy_ci_low,
    {{ wilson_high("c.acc", "c.nf") }} AS accuracy_ci_high,
    CASE WHEN c.tp + c.fp > 0 THEN c.tp * 1.0 / (c.tp + c.fp) END AS precision,
    CASE WHEN c.tp + c.fn > 0 THEN c.tp * 1.0 / (c.tp + c.fn) END AS recall,
    CASE WHEN 2 * c.tp + c.fp + c.fn > 0 AND c.tp > 0
         THEN 2.0 * c.tp / (2 * c.tp + c.fp + c.fn) END AS f1,
    CASE WHEN c.tn + c.fp > 0 THEN c.tn * 1.0 / (c.tn + c.fp) END AS specificity,
    c.bal AS balanced_accuracy,
    {{ wald_low("c.bal", "c.bal_se") }} AS balanced_accuracy_ci_low,
    {{ wald_high("c.bal", "c.bal_se") }} AS balanced_accuracy_ci_high,
    a.roc_auc, a.roc_auc_ci_low, a.roc_auc_ci_high,
    CASE
        WHEN c.tp + c.fn = 0 THEN 'no positive reviews: recall, F1, balanced accuracy undefined'
        WHEN c.tn + c.fp = 0 THEN 'no negative reviews: specificity, balanced accuracy undefined'
        WHEN c.tp + c.fp = 0 THEN 'no positive predictions: precision undefined, F1 undefined'
        WHEN c.tp = 0 THEN 'no true positives: F1 undefined'
    END AS metric_reason,
    a.roc_auc_reason
FROM c
LEFT JOIN roc_auc_by_slice a
    ON a.model_version_id = c.model_version_id AND a.dataset = c.dataset
   AND a.split = c.split AND a.slice_kind = c.slice_kind AND a.slice = c.slice;
