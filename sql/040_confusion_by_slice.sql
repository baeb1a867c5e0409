-- Confusion counts per model version, dataset, split and slice (positive class = 1).
-- Counts are cast to BIGINT: DuckDB sums integers into 128-bit HUGEINT, which clients dislike.
CREATE OR REPLACE VIEW confusion_by_slice AS
SELECT
    model_version_id, model, version, model_label, is_latest, dataset, split, slice_kind, slice,
    COUNT(*) AS n,
    CAST(SUM(CASE WHEN y_true = 0 AND y_pred = 0 THEN 1 ELSE 0 END) AS BIGINT) AS tn,
    CAST(SUM(CASE WHEN y_true = 0 AND y_pred = 1 THEN 1 ELSE 0 END) AS BIGINT) AS fp,
    CAST(SUM(CASE WHEN y_true = 1 AND y_pred = 0 THEN 1 ELSE 0 END) AS BIGINT) AS fn,
    CAST(SUM(CASE WHEN y_true = 1 AND y_pred = 1 THEN 1 ELSE 0 END) AS BIGINT) AS tp
FROM prediction_slices
GROUP BY model_version_id, model, version, model_label, is_latest, dataset, split, slice_kind,
         slice;
