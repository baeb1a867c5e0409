-- How often each model version calls a review negative, per true class, measured on the labelled
-- reviews of each dataset that the version did not train on: the error rates that the
-- prevalence-corrected share in `timeline` divides out (adjusted classify-and-count).
--   n_negative, n_positive   labelled calibration reviews of each class
--   neg_hit_rate             s = P(predicted negative | truly negative) = tn / n_negative
--   neg_false_alarm_rate     f = P(predicted negative | truly positive) = fn / n_positive
--   separation               s - f (0: the model's labels say nothing about the truth)
-- A version trained on this dataset is calibrated on its other splits only (model_versions.
-- train_split; 'train' when a version does not record it, which is what asaas trains on).
-- language is 'all' or one language, as in product_timeline: a timeline for one language is
-- corrected with that language's rates.
CREATE OR REPLACE VIEW prevalence_calibration AS
WITH held_out AS (
    SELECT p.model_version_id, r.dataset, r.language, r.label AS y_true, p.label AS y_pred
    FROM predictions p
    JOIN reviews r ON r.id = p.review_id
    JOIN model_versions v ON v.id = p.model_version_id
    WHERE r.label IS NOT NULL
      AND NOT (v.train_dataset IS NOT NULL AND v.train_dataset = r.dataset
               AND r.split = COALESCE(v.train_split, 'train'))
),
by_language AS (
    SELECT model_version_id, dataset, 'all' AS language, y_true, y_pred FROM held_out
    UNION ALL
    SELECT model_version_id, dataset, language, y_true, y_pred FROM held_out
    WHERE language IS NOT NULL
),
counts AS (
    SELECT model_version_id, dataset, language,
           SUM(CASE WHEN y_true = 0 THEN 1 ELSE 0 END) AS n_negative,
           SUM(CASE WHEN y_true = 1 THEN 1 ELSE 0 END) AS n_positive,
           SUM(CASE WHEN y_true = 0 AND y_pred = 0 THEN 1 ELSE 0 END) AS tn,
           SUM(CASE WHEN y_true = 1 AND y_pred = 0 THEN 1 ELSE 0 END) AS fn
    FROM by_language
    GROUP BY model_version_id, dataset, language
)
SELECT c.model_version_id, n.model, n.version, n.model_label, c.dataset, c.language,
       c.n_negative, c.n_positive, c.tn, c.fn,
       CASE WHEN c.n_negative > 0 THEN c.tn * 1.0 / c.n_negative END AS neg_hit_rate,
       CASE WHEN c.n_positive > 0 THEN c.fn * 1.0 / c.n_positive END AS neg_false_alarm_rate,
       CASE WHEN c.n_negative > 0 AND c.n_positive > 0
            THEN c.tn * 1.0 / c.n_negative - c.fn * 1.0 / c.n_positive END AS separation
FROM counts c
JOIN model_version_names n ON n.model_version_id = c.model_version_id;
