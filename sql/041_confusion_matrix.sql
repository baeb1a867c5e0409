-- Confusion matrix (tn, fp, fn, tp) per model version, dataset and split.
CREATE OR REPLACE VIEW confusion_matrix AS
SELECT model_version_id, model, version, model_label, is_latest, dataset, split, n, tn, fp, fn, tp
FROM confusion_by_slice
WHERE slice_kind = 'all';
