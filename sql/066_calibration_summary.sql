-- Brier score and expected calibration error (10 bins, weighted by bin size).
CREATE OR REPLACE VIEW calibration_summary AS
WITH brier AS (
    SELECT model_version_id, dataset, split, COUNT(*) AS n,
           AVG((score - y_true) * (score - y_true)) AS brier_score
    FROM labelled_predictions
    GROUP BY model_version_id, dataset, split
),
ece AS (
    SELECT model_version_id, dataset, split,
           SUM(n * ABS(positive_rate - mean_score)) / SUM(n) AS expected_calibration_error
    FROM calibration_bins
    GROUP BY model_version_id, dataset, split
)
SELECT b.model_version_id, b.dataset, b.split, b.n, b.brier_score, e.expected_calibration_error
FROM brier b
JOIN ece e ON e.model_version_id = b.model_version_id AND e.dataset = b.dataset
          AND e.split = b.split;
