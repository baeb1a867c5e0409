-- ROC AUC from scores (Mann-Whitney rank sum, tied scores share their average rank), with a 95%
-- Hanley-McNeil (1982) interval. NULL with a reason when only one class is present or every
-- score is tied (an AUC of 0.5 from identical scores says nothing).
{% from "macros.sql" import wald_low, wald_high %}
CREATE OR REPLACE VIEW roc_auc_by_slice AS
WITH ranked AS (
    SELECT
        model_version_id, model, version, model_label, is_latest, dataset, split, slice_kind,
        slice, y_true, score,
        RANK() OVER (PARTITION BY model_version_id, dataset, split, slice_kind, slice
                     ORDER BY score) AS rank_min,
        COUNT(*) OVER (PARTITION BY model_version_id, dataset, split, slice_kind, slice, score)
            AS n_tied
    FROM prediction_slices
),
sums AS (
    SELECT
        model_version_id, model, version, model_label, is_latest, dataset, split, slice_kind,
        slice,
        SUM(CASE WHEN y_true = 1 THEN 1 ELSE 0 END) * 1.0 AS n_pos,
        SUM(CASE WHEN y_true = 0 THEN 1 ELSE 0 END) * 1.0 AS n_neg,
        SUM(CASE WHEN y_true = 1 THEN rank_min + (n_tied - 1) / 2.0 ELSE 0 END) AS rank_sum_pos,
        MIN(score) AS min_score,
        MAX(score) AS max_score
    FROM ranked
    GROUP BY model_version_id, model, version, model_label, is_latest, dataset, split,
             slice_kind, slice
),
auc AS (
    SELECT *,
        CASE WHEN n_pos = 0 OR n_neg = 0 OR min_score = max_score THEN NULL
             ELSE (rank_sum_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg) END AS roc_auc
    FROM sums
),
se AS (
    SELECT *,
        SQRT((roc_auc * (1 - roc_auc)
              + (n_pos - 1) * (roc_auc / (2 - roc_auc) - roc_auc * roc_auc)
              + (n_neg - 1) * (2 * roc_auc * roc_auc / (1 + roc_auc) - roc_auc * roc_auc))
             / (n_pos * n_neg)) AS roc_auc_se
    FROM auc
)
SELECT
    model_version_id, model, version, model_label, is_latest, dataset, split, slice_kind, slice,
    CAST(n_pos AS BIGINT) AS n_pos,
    CAST(n_neg AS BIGINT) AS n_neg,
    roc_auc,
    roc_auc_se,
    {{ wald_low("roc_auc", "roc_auc_se") }} AS roc_auc_ci_low,
    {{ wald_high("roc_auc", "roc_auc_se") }} AS roc_auc_ci_high,
    CASE WHEN n_pos = 0 OR n_neg = 0 THEN 'one class only: AUC undefined'
         WHEN min_score = max_score THEN 'all scores tied: AUC uninformative'
    END AS roc_auc_reason
FROM se;
