-- Cumulative counts at every distinct score, highest first: the base of ROC and PR curves.
-- Tied scores form one threshold, as in scikit-learn.
CREATE OR REPLACE VIEW score_thresholds AS
WITH per_score AS (
    SELECT model_version_id, model, version, model_label, is_latest, dataset, split, score,
           CAST(SUM(CASE WHEN y_true = 1 THEN 1 ELSE 0 END) AS BIGINT) AS pos,
           CAST(SUM(CASE WHEN y_true = 0 THEN 1 ELSE 0 END) AS BIGINT) AS neg
    FROM labelled_predictions
    GROUP BY model_version_id, model, version, model_label, is_latest, dataset, split, score
)
SELECT
    model_version_id, model, version, model_label, is_latest, dataset, split,
    score AS threshold,
    CAST(SUM(pos) OVER w AS BIGINT) AS tp,
    CAST(SUM(neg) OVER w AS BIGINT) AS fp,
    CAST(SUM(pos) OVER (PARTITION BY model_version_id, dataset, split) AS BIGINT) AS n_pos,
    CAST(SUM(neg) OVER (PARTITION BY model_version_id, dataset, split) AS BIGINT) AS n_neg
FROM per_score
WINDOW w AS (PARTITION BY model_version_id, dataset, split ORDER BY score DESC
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
