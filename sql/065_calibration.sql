-- Reliability table: ten equal-width bins of the score, each with its mean score (confidence)
-- and the share of positive reviews. Bin 9 holds scores from 0.9 to 1.0 inclusive.
CREATE OR REPLACE VIEW calibration_bins AS
SELECT model_version_id, model, version, model_label, is_latest, dataset, split,
       LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS bin,
       LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) / 10.0 AS bin_low,
       LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) / 10.0 + 0.1 AS bin_high,
       COUNT(*) AS n,
       AVG(score) AS mean_score,
       AVG(y_true * 1.0) AS positive_rate
FROM labelled_predictions
GROUP BY model_version_id, model, version, model_label, is_latest, dataset, split,
         LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9);
